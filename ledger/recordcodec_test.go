package ledger

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gavel/gavel/decision"
)

func storedRecord(t *testing.T, l *Ledger, decisionID string) []byte {
	t.Helper()
	var b []byte
	if err := l.r.QueryRowContext(t.Context(), `SELECT record FROM decisions WHERE decision_id = ?`, decisionID).Scan(&b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSQLiteRecordsCompressed: on SQLite a record is stored compressed and
// reads back as committed (its effects aside, which Get adds); records stored as plain JSON (by an older gavel,
// or with SQLitePlainRecords) read back alike from the same file.
func TestSQLiteRecordsCompressed(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ledger.db")
	open := func(plain bool) *Ledger {
		cfg := DefaultConfig()
		cfg.Path = path
		cfg.SQLitePlainRecords = plain
		l, err := Open(t.Context(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := open(true)
	plainRec := groupRecord("s-plain")
	plainStored, _, err := l.Commit(t.Context(), plainRec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b := storedRecord(t, l, plainRec.DecisionID); !bytes.HasPrefix(b, []byte("{")) {
		t.Errorf("SQLitePlainRecords: stored record starts %q, want JSON", b[:min(8, len(b))])
	}
	l.Close()

	l = open(false)
	defer l.Close()
	rec := groupRecord("s-packed")
	rec.Input["padding"] = strings.Repeat("the same words again and again ", 200)
	stored, _, err := l.Commit(t.Context(), rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := storedRecord(t, l, rec.DecisionID)
	if !bytes.HasPrefix(b, zstdMagic) {
		t.Errorf("stored record starts %q, want a zstd frame", b[:min(8, len(b))])
	}
	if len(b) > 2000 {
		t.Errorf("stored record is %d bytes, want it compressed (the padding alone is 6200)", len(b))
	}
	for _, want := range []*decision.Record{plainStored, stored} {
		got, err := l.Get(t.Context(), want.DecisionID)
		if err != nil {
			t.Fatalf("Get(%s) = %v", want.DecisionID, err)
		}
		if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(decision.Record{}, "Effects")); diff != "" {
			t.Errorf("Get(%s) differs from the committed record (-want +got):\n%s", want.DecisionID, diff)
		}
	}
	recs, _, err := l.List(t.Context(), "s-packed", 10, "")
	if err != nil || len(recs) != 1 || recs[0].DecisionID != rec.DecisionID {
		t.Errorf("List(s-packed) = %v, %v; want the one decision", recs, err)
	}
}

// TestSQLiteRecordCorrupt: a stored record that is not a valid frame is an
// error naming it, not a panic.
func TestSQLiteRecordCorrupt(t *testing.T) {
	t.Parallel()
	l := openGroup(t, 64)
	rec := groupRecord("s-corrupt")
	if _, _, err := l.Commit(t.Context(), rec, nil); err != nil {
		t.Fatal(err)
	}
	bad := append(append([]byte{}, zstdMagic...), "not a frame at all"...)
	if _, err := l.w.ExecContext(t.Context(), `UPDATE decisions SET record = ? WHERE decision_id = ?`, bad, rec.DecisionID); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Get(t.Context(), rec.DecisionID); err == nil || !strings.Contains(err.Error(), "decompress stored record") {
		t.Errorf("Get(corrupt record) = %v, want a decompression error", err)
	}
}

// TestDecodeForReplay: a replay's decode of a stored record (compressed or
// plain) is the whole decode without the signals list and the detectors'
// reports, and everything replay reads is there.
func TestDecodeForReplay(t *testing.T) {
	t.Parallel()
	raw := realRecordJSON(t)
	l := &Ledger{d: &dialect{name: SQLite}}
	for name, stored := range map[string][]byte{"compressed": l.packRecord(raw).([]byte), "plain": raw} {
		t.Run(name, func(t *testing.T) {
			e := &Encoded{DecisionID: "d-1", DecidedAt: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), body: stored}
			whole, err := e.Decode()
			if err != nil {
				t.Fatal(err)
			}
			if len(whole.Record.Signals) == 0 || len(whole.Record.Detectors) == 0 {
				t.Fatalf("fixture: want signals and detectors in the whole record, got %d and %d", len(whole.Record.Signals), len(whole.Record.Detectors))
			}
			lean, err := e.DecodeForReplay()
			if err != nil {
				t.Fatal(err)
			}
			if lean.Record.Signals != nil || lean.Record.Detectors != nil {
				t.Errorf("DecodeForReplay kept %d signals and %d detector reports, want none", len(lean.Record.Signals), len(lean.Record.Detectors))
			}
			if diff := cmp.Diff(whole, lean, cmpopts.IgnoreFields(decision.Record{}, "Signals", "Detectors")); diff != "" {
				t.Errorf("DecodeForReplay differs from Decode beyond signals and detectors (-whole +lean):\n%s", diff)
			}
			if len(lean.Record.Input) == 0 || len(lean.Record.Verdict.Reasons) == 0 {
				t.Errorf("DecodeForReplay lost the input (%d keys) or the reasons (%d)", len(lean.Record.Input), len(lean.Record.Verdict.Reasons))
			}
		})
	}
	if _, err := (&Encoded{DecisionID: "d-bad", body: []byte(`{"input": [`)}).DecodeForReplay(); err == nil || !strings.Contains(err.Error(), "d-bad") {
		t.Errorf("DecodeForReplay of a truncated record: error %v, want one naming the decision", err)
	}
}

// TestEncodeRecordIsMarshal: the stored record, compressed or plain, is
// json.Marshal's encoding byte for byte, with the input document moved
// last (recordJSON), and a value encodeRecord returned
// stays whole after its buffer went back to the pool and was reused.
func TestEncodeRecordIsMarshal(t *testing.T) {
	t.Parallel()
	raw := realRecordJSON(t)
	big, err := (&Encoded{DecisionID: "d-1", body: raw}).Decode()
	if err != nil {
		t.Fatal(err)
	}
	small := groupRecord("s-<html> & \u2028")
	for _, l := range []*Ledger{
		{d: &dialect{name: SQLite}},
		{d: &dialect{name: SQLite}, cfg: Config{SQLitePlainRecords: true}},
		{d: &dialect{name: Postgres}},
	} {
		var held []any
		recs := []*decision.Record{big.Record, small, big.Record, small}
		for _, rec := range recs {
			v, err := l.encodeRecord(rec)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, v)
		}
		for i, v := range held {
			var stored []byte
			switch v := v.(type) {
			case string:
				stored = []byte(v)
			case []byte:
				stored = v
			default:
				t.Fatalf("encodeRecord returned a %T", v)
			}
			got, err := unpackRecord(stored)
			if err != nil {
				t.Fatal(err)
			}
			// json.Marshal's encoding of the record without its input,
			// then of the input, last.
			noInput := *recs[i]
			noInput.Input = nil
			rest, err := json.Marshal(&noInput)
			if err != nil {
				t.Fatal(err)
			}
			input, err := json.Marshal(recs[i].Input)
			if err != nil {
				t.Fatal(err)
			}
			rest = bytes.Replace(rest, []byte(`"input":null,`), nil, 1)
			want := append(append(append(rest[:len(rest)-1:len(rest)-1], `,"input":`...), input...), '}')
			if !bytes.Equal(got, want) {
				t.Errorf("%s, plain %v, record %d: stored %q, want json.Marshal's %q", l.d.name, l.cfg.SQLitePlainRecords, i, got, want)
			}
		}
	}
}

// realRecordJSON is testdata/record-6-detectors.json: the stored record of
// a real signup with six detectors, 8.6 KB of JSON.
func realRecordJSON(tb testing.TB) []byte {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "record-6-detectors.json"))
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// realRecord is realRecordJSON decoded.
func realRecord(tb testing.TB) *decision.Record {
	tb.Helper()
	var rec decision.Record
	if err := json.Unmarshal(realRecordJSON(tb), &rec); err != nil {
		tb.Fatal(err)
	}
	return &rec
}
