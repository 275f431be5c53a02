package main

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gavel/gavel/plugins/detectors/model/fraudmodel"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// The shipped model loads and ranks a fraud-ring-like request above an honest one.
func TestShippedModelScores(t *testing.T) {
	m, err := fraudmodel.Load(modelJSON)
	if err != nil {
		t.Fatalf("Load(model.json) = %v", err)
	}
	d := fraudmodel.NewDetector(m)
	now := time.Date(2025, 6, 3, 2, 30, 0, 0, time.UTC)
	payout := func(method, country string) *structpb.Struct {
		s, _ := structpb.NewStruct(map[string]any{"payout": map[string]any{"method": method, "country": country}})
		return s
	}
	fraud := &detectorv1.DetectRequest{
		Checkpoint: "withdrawal",
		Subject: &detectorv1.Subject{Id: "a", CreatedAt: timestamppb.New(now.Add(-30 * time.Hour)),
			Profile: &detectorv1.Profile{Email: "k3x9q2m7z@tempinbox.net", Country: "US", Phone: "+2348012345678"}},
		Context:    &detectorv1.Context{Ip: "203.0.113.9"},
		Attributes: payout("crypto", "NG"),
		Now:        timestamppb.New(now),
	}
	honest := &detectorv1.DetectRequest{
		Checkpoint: "withdrawal",
		Subject: &detectorv1.Subject{Id: "b", CreatedAt: timestamppb.New(now.Add(-400 * 24 * time.Hour)),
			Profile: &detectorv1.Profile{Email: "amelia.laurent@gmail.com", GivenName: "Amelia", FamilyName: "Laurent",
				Country: "FR", Phone: "+33612345678"}},
		Context:    &detectorv1.Context{Ip: "192.0.2.10", DeviceId: "dev-1"},
		Attributes: payout("bank_transfer", "FR"),
		Now:        timestamppb.New(now.Add(12 * time.Hour)),
	}
	fs, hs := d.Signal(fraud), d.Signal(honest)
	if fs.GetScore() <= hs.GetScore() {
		t.Errorf("score(fraud-like) = %v, score(honest) = %v, want fraud-like higher", fs.GetScore(), hs.GetScore())
	}
	if fs.GetScore() < 0.7 || hs.GetScore() >= 0.5 {
		t.Errorf("score(fraud-like) = %v (want ≥ 0.7), score(honest) = %v (want < 0.5)", fs.GetScore(), hs.GetScore())
	}
	if fs.GetValue() != m.Version || fs.GetName() != fraudmodel.SignalFraudScore {
		t.Errorf("signal = %s/%s, want %s/%s", fs.GetName(), fs.GetValue(), fraudmodel.SignalFraudScore, m.Version)
	}
	top := fs.GetEvidence().GetFields()["top_features"].GetListValue().GetValues()
	if len(top) != 5 {
		t.Fatalf("evidence top_features has %d entries, want 5: %v", len(top), fs.GetEvidence())
	}
	for _, f := range top {
		if f.GetStructValue().GetFields()["feature"].GetStringValue() == "" {
			t.Errorf("top feature without a name: %v", f)
		}
	}
	t.Logf("fraud-like %.4f %v; honest %.4f", fs.GetScore(), top, hs.GetScore())
}
