package links

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// member is a request of an account with a family name and creation time on
// the shared laptop.
func member(account, family string, created time.Time, at time.Time, dryRun bool) *detectorv1.DetectRequest {
	s := &detectorv1.Subject{Id: account, Profile: &detectorv1.Profile{FamilyName: family}}
	if !created.IsZero() {
		s.CreatedAt = timestamppb.New(created)
	}
	return &detectorv1.DetectRequest{Subject: s, Checkpoint: "login",
		Context: &detectorv1.Context{DeviceId: "family-laptop"}, Now: timestamppb.New(at), DryRun: dryRun}
}

func household(t *testing.T, d *Detector, req *detectorv1.DetectRequest) map[string]float64 {
	t.Helper()
	resp, err := d.Detect(context.Background(), req)
	if err != nil {
		t.Fatalf("Detect(%v) = %v", req, err)
	}
	for _, s := range resp.GetSignals() {
		if s.GetName() != SignalSharedDevice {
			continue
		}
		hh := s.GetEvidence().GetFields()["household"].GetStructValue()
		if hh == nil {
			return nil
		}
		out := map[string]float64{}
		for k, v := range hh.GetFields() {
			if _, ok := v.GetKind().(*structpb.Value_BoolValue); ok {
				if v.GetBoolValue() {
					out[k] = 1
				}
				continue
			}
			out[k] = v.GetNumberValue()
		}
		return out
	}
	return nil
}

func TestHouseholdEvidence(t *testing.T) {
	eachBackend(t, func(t *testing.T, open backend) {
		s := open(t)
		d := NewDetector(s, Config{HashKey: "k"})
		years := func(n int) time.Time { return t0.Add(-time.Duration(n) * 365 * 24 * time.Hour) }

		if hh := household(t, d, member("mother", "Müller", years(3), t0, false)); hh != nil {
			t.Fatalf("first account on the laptop: household %v, want none (no sharing)", hh)
		}
		// A dry run records nothing: the stranger below is unknown.
		household(t, d, member("stranger", "Smith", t0, t0, true))

		got := household(t, d, member("son", "MUELLER", years(2), t0.Add(time.Hour), false))
		want := map[string]float64{"examined": 1, "known": 1, "same_family": 1, "youngest_age_days": 1095, "restricted": 0, "suspended": 0}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("son's household[%s] = %v, want %v (all: %v)", k, got[k], v, got)
			}
		}

		// Someone new with another family name joins; the mother is restricted.
		household(t, d, member("stranger", "Smith", t0.Add(2*time.Hour), t0.Add(2*time.Hour), false))
		restrict := &detectorv1.ObserveRequest{DecisionId: "d-1", SubjectId: "mother", Action: "restrict",
			Context: &detectorv1.Context{DeviceId: "family-laptop"}, DecidedAt: timestamppb.New(t0)}
		observe(t, d, restrict)
		got = household(t, d, member("son", "Mueller", years(2), t0.Add(3*time.Hour), false))
		for k, v := range map[string]float64{"examined": 2, "known": 2, "same_family": 1, "youngest_age_days": 0, "restricted": 1} {
			if got[k] != v {
				t.Errorf("after a stranger and a restriction, son's household[%s] = %v, want %v (all: %v)", k, got[k], v, got)
			}
		}
		restrict.Overturned = true
		observe(t, d, restrict)
		if got := household(t, d, member("son", "Mueller", years(2), t0.Add(4*time.Hour), false)); got["restricted"] != 0 {
			t.Errorf("after the overturn, son's household restricted = %v, want 0", got["restricted"])
		}

		// No family name: the evidence says so rather than matching nobody silently.
		if got := household(t, d, member("lodger", "", time.Time{}, t0.Add(5*time.Hour), false)); got["family_name_unknown"] != 1 || got["same_family"] != 0 {
			t.Errorf("account without a family name: household %v, want family_name_unknown and same_family 0", got)
		}

		// The family name is stored only as a keyed hash.
		var family string
		if err := s.db.QueryRowContext(context.Background(), s.q(`SELECT family_hash FROM linkage_accounts WHERE account = ?`), "son").Scan(&family); err != nil {
			t.Fatal(err)
		}
		if family == "" || strings.Contains(strings.ToLower(family), "muller") || strings.Contains(strings.ToLower(family), "mueller") {
			t.Errorf("stored family_hash = %q, want a keyed hash", family)
		}
	})
}
