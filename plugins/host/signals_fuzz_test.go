package host

import (
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gavel/gavel/decision"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// FuzzSignals feeds arbitrary bytes, as a detector's Detect answer, through
// the host's signal checks: a bad answer is an error, never a panic, and
// an accepted one holds only declared, valid signals that marshal to JSON.
func FuzzSignals(f *testing.F) {
	ev, _ := structpb.NewStruct(map[string]any{"domain": "mailinator.com", "n": 3.0, "list": []any{"a", 1.0}})
	for _, resp := range []*detectorv1.DetectResponse{
		{Signals: []*detectorv1.Signal{{Name: "email.disposable", Score: 1, Value: "mailinator.com", Evidence: ev, Confidence: 0.9}}},
		{Signals: []*detectorv1.Signal{{Name: "email.disposable", Score: 2}}},
		{Signals: []*detectorv1.Signal{{Name: "email.undeclared", Score: 0.5}}},
		{},
	} {
		b, err := proto.Marshal(resp)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	d := &detector{cfg: DetectorConfig{Name: "fuzz"}, maxEvidence: DefaultMaxEvidenceBytes}
	desc := &description{signals: map[string]struct{}{"email.disposable": {}, "email.free_provider": {}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		var resp detectorv1.DetectResponse
		if err := proto.Unmarshal(data, &resp); err != nil {
			return
		}
		sigs, err := d.signals(desc, resp.GetSignals())
		if err != nil {
			return
		}
		for i := range sigs {
			if _, ok := desc.signals[sigs[i].Name]; !ok {
				t.Fatalf("accepted undeclared signal %q", sigs[i].Name)
			}
			if err := decision.CheckSignal(&sigs[i], decision.Limits{}); err != nil {
				t.Fatalf("accepted invalid signal: %v", err)
			}
			if _, err := json.Marshal(sigs[i]); err != nil {
				t.Fatalf("accepted signal does not marshal: %v", err)
			}
		}
	})
}
