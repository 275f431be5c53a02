package server

import (
	"encoding/json"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gavel/gavel/decision"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

var fuzzCheckpoints = map[string]bool{"signup": true, "withdrawal": true}

// FuzzDecodeRequest feeds arbitrary bytes through the trust boundary: proto
// decoding, conversion, validation and the input document. Bad input must be
// an error, never a panic, and a valid request must give a JSON document.
func FuzzDecodeRequest(f *testing.F) {
	attrs, _ := structpb.NewStruct(map[string]any{"document": map[string]any{"country": "FR", "number": "X1"}, "n": 1.5})
	ev, _ := structpb.NewStruct(map[string]any{"accounts": []any{"a", "b"}})
	seeds := []*decisionv1.DecideRequest{
		{RequestId: "r1", Checkpoint: "signup", Subject: &decisionv1.Subject{Id: "a1", Profile: &decisionv1.Profile{Email: "a@b.c", Country: "fr"}}},
		{RequestId: "r2", Checkpoint: "withdrawal", Subject: &decisionv1.Subject{Id: "a2"}, Attributes: attrs,
			Context: &decisionv1.RequestContext{Ip: "2001:db8::1"},
			Signals: []*decisionv1.Signal{{Name: "linkage.shared_device", Score: 0.5, Evidence: ev}}},
		{RequestId: "", Checkpoint: "nope"},
	}
	for _, s := range seeds {
		b, err := proto.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m decisionv1.DecideRequest
		if err := proto.Unmarshal(data, &m); err != nil {
			return
		}
		req := requestFromProto(&m)
		if err := decision.Validate(req, fuzzCheckpoints, decision.Limits{}); err != nil {
			if _, ok := err.(decision.ValidationError); !ok {
				t.Fatalf("Validate error of type %T, want ValidationError", err)
			}
			return
		}
		in := decision.Input(req, nil, req.Signals, decision.History{}, time.Unix(1_800_000_000, 0))
		if _, err := json.Marshal(in); err != nil {
			t.Fatalf("input document of a valid request does not marshal: %v", err)
		}
		rec := &decision.Record{Input: in, Signals: req.Signals, Verdict: decision.Verdict{Action: decision.Allow}}
		_ = responseFromRecord(rec, decisionv1.View_VIEW_REVIEWER)
		out := &decisionv1.GetDecisionResponse{}
		reviewerDetail(rec, out)
	})
}
