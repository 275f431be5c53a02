package codec_test

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gavel/gavel/internal/codec"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

// gavel's own attribute depth limit (decision.Limits' default).
const maxDepth = 8

// nestedJSON is a DecideRequest whose attributes (maps == 1) or one
// signal's evidence nest maps levels deep.
func nestedJSON(maps int, evidence bool) []byte {
	tree := strings.Repeat(`{"a":`, maps) + "1" + strings.Repeat("}", maps)
	if evidence {
		return []byte(`{"request_id":"r","signals":[{"name":"x.y","evidence":` + tree + `}]}`)
	}
	return []byte(`{"request_id":"r","attributes":` + tree + `}`)
}

func nestedStruct(maps int) *structpb.Struct {
	v := structpb.NewNumberValue(1)
	var s *structpb.Struct
	for range maps {
		s = &structpb.Struct{Fields: map[string]*structpb.Value{"a": v}}
		v = structpb.NewStructValue(s)
	}
	return s
}

func nestedProto(t testing.TB, maps int, evidence bool) []byte {
	t.Helper()
	m := &decisionv1.DecideRequest{RequestId: "r"}
	if evidence {
		m.Signals = []*decisionv1.Signal{{Name: "x.y", Evidence: nestedStruct(maps)}}
	} else {
		m.Attributes = nestedStruct(maps)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLimitAdmitsWhatTheValidatorAdmits: attributes and evidence as deep as
// gavel allows decode (the validator then judges them); a request nested
// 10,000 levels deep does not, over JSON or binary.
func TestLimitAdmitsWhatTheValidatorAdmits(t *testing.T) {
	if n := len(codec.Options(maxDepth)); n != 3 {
		t.Fatalf("Options() = %d options, want proto, json and json; charset=utf-8", n)
	}
	pc, js := &codec.Proto{Limit: codec.ProtoLimit(maxDepth)}, &codec.JSON{Limit: codec.JSONLimit(maxDepth)}
	for _, evidence := range []bool{false, true} {
		for _, maps := range []int{1, maxDepth, maxDepth + 1} {
			if err := js.Unmarshal(nestedJSON(maps, evidence), &decisionv1.DecideRequest{}); err != nil {
				t.Errorf("JSON Unmarshal(%d levels, evidence %v) = %v, want decoded", maps, evidence, err)
			}
			if err := pc.Unmarshal(nestedProto(t, maps, evidence), &decisionv1.DecideRequest{}); err != nil {
				t.Errorf("proto Unmarshal(%d levels, evidence %v) = %v, want decoded", maps, evidence, err)
			}
		}
		for _, maps := range []int{maxDepth + 4, 10000} {
			if err := js.Unmarshal(nestedJSON(maps, evidence), &decisionv1.DecideRequest{}); err == nil || !strings.Contains(err.Error(), "recursion") {
				t.Errorf("JSON Unmarshal(%d levels, evidence %v) = %v, want a recursion limit error", maps, evidence, err)
			}
			if err := pc.Unmarshal(nestedProto(t, maps, evidence), &decisionv1.DecideRequest{}); err == nil {
				t.Errorf("proto Unmarshal(%d levels, evidence %v) = nil, want a recursion limit error", maps, evidence)
			}
		}
	}
}

// TestDeepRequestCostsLittle: refusing a 10,000-level request allocates
// little, where protobuf-go's default limit builds the whole tree.
func TestDeepRequestCostsLittle(t *testing.T) {
	body := nestedJSON(10000, false)
	bin := nestedProto(t, 10000, false)
	allocated := func(f func()) uint64 {
		var a, b runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&a)
		f()
		runtime.ReadMemStats(&b)
		return b.TotalAlloc - a.TotalAlloc
	}
	const bound = 1 << 20 // 1 MiB for a 60 KB request
	if n := allocated(func() { (&codec.JSON{Limit: codec.JSONLimit(maxDepth)}).Unmarshal(body, &decisionv1.DecideRequest{}) }); n > bound {
		t.Errorf("JSON Unmarshal of a %d-byte, 10,000-level request allocated %d bytes, want at most %d", len(body), n, bound)
	}
	if n := allocated(func() { (&codec.Proto{Limit: codec.ProtoLimit(maxDepth)}).Unmarshal(bin, &decisionv1.DecideRequest{}) }); n > bound {
		t.Errorf("proto Unmarshal of a %d-byte, 10,000-level request allocated %d bytes, want at most %d", len(bin), n, bound)
	}
}

func TestRoundTrip(t *testing.T) {
	want := &decisionv1.DecideRequest{RequestId: "r-1", Checkpoint: "signup", Attributes: nestedStruct(3)}
	for _, c := range []interface {
		Marshal(any) ([]byte, error)
		MarshalStable(any) ([]byte, error)
		Unmarshal([]byte, any) error
	}{&codec.Proto{Limit: 40}, &codec.JSON{Limit: 40}} {
		for _, marshal := range []func(any) ([]byte, error){c.Marshal, c.MarshalStable} {
			b, err := marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			got := &decisionv1.DecideRequest{}
			if err := c.Unmarshal(b, got); err != nil || !proto.Equal(got, want) {
				t.Errorf("%T round trip = %v, %v; want %v", c, got, err, want)
			}
		}
	}
}

// connect-go marshals into its pooled buffers only through a codec that
// has MarshalAppend; what it appends must be what Marshal returns.
func TestMarshalAppend(t *testing.T) {
	msg := &decisionv1.DecideRequest{RequestId: "r-1", Checkpoint: "signup", Attributes: nestedStruct(3)}
	for _, c := range []interface {
		connect.Codec
		MarshalAppend([]byte, any) ([]byte, error)
	}{&codec.Proto{Limit: 40}, &codec.JSON{Limit: 40}} {
		prefix := []byte("kept")
		b, err := c.MarshalAppend(prefix, msg)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, prefix) {
			t.Fatalf("%T.MarshalAppend lost the bytes it appends to: %q", c, b)
		}
		got := &decisionv1.DecideRequest{}
		if err := c.Unmarshal(b[len(prefix):], got); err != nil || !proto.Equal(got, msg) {
			t.Errorf("%T: MarshalAppend then Unmarshal = %v, %v; want %v", c, got, err, msg)
		}
		if _, err := c.MarshalAppend(nil, "not a message"); err == nil {
			t.Errorf("%T.MarshalAppend of a string succeeded", c)
		}
	}
}
