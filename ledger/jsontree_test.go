package ledger

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// tricky are strings encoding/json escapes: quotes, backslashes, control
// characters, HTML characters, invalid UTF-8, U+2028 and U+2029, DEL, and
// multi-byte text.
var tricky = []string{"", "plain", `"quoted" \ back`, "tab\tnew\nline\rcr\bbs\fff", "\x00\x01\x1f\x7f",
	"<script>&amp;</script>", "bad \xff utf8 \xc3", "line\u2028para\u2029", "Zoë Ørsted 日本 🚀", "a\u00a0b"}

// trickyNumbers are floats around encoding/json's cutoffs between plain
// decimals and exponents, and the edges of float64.
var trickyNumbers = []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 1e-6, 9.99999e-7, 1e-7, 1.5e-9, 1e20, 1e21, 1.2345e21, -1e21,
	123456789.123, 1762000000000000000, math.MaxFloat64, math.SmallestNonzeroFloat64, 0.1 + 0.2}

// randomTree is a JSON document decoded into Go, with now and then a value
// of another type (int, time.Time, []string, json.Number) as gavel's input
// documents may hold.
func randomTree(r *rand.Rand, depth int) any {
	switch n := r.IntN(12); {
	case depth > 4 || n < 3:
		return tricky[r.IntN(len(tricky))]
	case n < 5:
		return trickyNumbers[r.IntN(len(trickyNumbers))] * []float64{-1, 1}[r.IntN(2)]
	case n == 5:
		return r.IntN(2) == 0
	case n == 6:
		return nil
	case n == 7:
		switch r.IntN(4) {
		case 0:
			return r.IntN(1000) - 500
		case 1:
			return time.Date(2026, 12, 1, 7, 0, 0, r.IntN(1e9), time.UTC)
		case 2:
			return []string{tricky[r.IntN(len(tricky))], "x"}
		default:
			return json.Number("12.5e3")
		}
	case n < 10:
		a := make([]any, r.IntN(4))
		for i := range a {
			a[i] = randomTree(r, depth+1)
		}
		return a
	default:
		m := map[string]any{}
		for range r.IntN(6) {
			m[tricky[r.IntN(len(tricky))]+string(rune('a'+r.IntN(26)))] = randomTree(r, depth+1)
		}
		return m
	}
}

// TestAppendJSONAsEncodingJSON: jsonTree encodes a document byte for byte
// as encoding/json does, over random documents of the values input
// documents hold.
func TestAppendJSONAsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		m := map[string]any{"doc": randomTree(r, 0)}
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendJSON(nil, m)
		if err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("document %d:\n got %s\nwant %s", i, got, want)
		}
	}
	if got, _ := appendJSON(nil, map[string]any(nil)); string(got) != "null" {
		t.Errorf("nil document = %s, want null", got)
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := appendJSON(nil, map[string]any{"x": bad}); err == nil {
			t.Errorf("document holding %v encoded, want an error as encoding/json gives", bad)
		}
	}
}

// FuzzAppendJSON: any string as a key and a value, and any number,
// encode as encoding/json encodes them.
func FuzzAppendJSON(f *testing.F) {
	for i, s := range tricky {
		f.Add(s, trickyNumbers[i%len(trickyNumbers)])
	}
	f.Fuzz(func(t *testing.T, s string, x float64) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
		m := map[string]any{s: s, "n": x, "list": []any{s, x, nil}}
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendJSON(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("got %s\nwant %s", got, want)
		}
	})
}

// BenchmarkEncodeInput is the input document of a real record (six
// detectors) encoded by encoding/json and by appendJSON, side by side.
func BenchmarkEncodeInput(b *testing.B) {
	rec := realRecord(b)
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			if err := json.NewEncoder(&buf).Encode(rec.Input); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appendJSON", func(b *testing.B) {
		b.ReportAllocs()
		var out []byte
		var err error
		for b.Loop() {
			if out, err = appendJSON(out[:0], rec.Input); err != nil {
				b.Fatal(err)
			}
		}
	})
}
