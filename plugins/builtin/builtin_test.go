package builtin_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/plugins/builtin"
	"github.com/gavel/gavel/plugins/host"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// Every built-in detector starts in process from its embedded data and
// answers a decision through the host, as its binary does.
func TestEveryBuiltinAnswersInProcess(t *testing.T) {
	var dcs []host.DetectorConfig
	for _, n := range builtin.Names() {
		open, ok := builtin.Opener(n)
		if !ok {
			t.Fatalf("Opener(%q) not found though Names lists it", n)
		}
		dcs = append(dcs, host.DetectorConfig{Name: n, Open: unbudgeted(open), Timeout: 10 * time.Second})
	}
	if len(dcs) != 7 {
		t.Fatalf("Names() = %v, want the 7 built-in detectors", builtin.Names())
	}
	h, err := host.New(host.Config{Detectors: dcs, DataDir: t.TempDir(), OnFailure: host.OnFailureRefuse, StartTimeout: 2 * time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := h.Start(ctx); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	req := &decision.Request{
		RequestID: "r-1", Checkpoint: "identity_verification",
		Subject: decision.Subject{ID: "acct-1", Kind: "freelancer", Profile: decision.Profile{
			GivenName: "Amelia", FamilyName: "Laurent", Country: "FR",
			Email: "amelia@mailinator.com", Phone: "+33 6 12 34 56 78", DateOfBirth: "1990-04-01",
		}},
		Context: decision.Context{IP: "5.9.0.1", DeviceID: "dev-1"},
		Attributes: map[string]any{"document": map[string]any{
			"type": "passport", "country": "FR", "given_name": "Amelia", "family_name": "Laurent",
			"expires": "2031-01-01", "date_of_birth": "1990-04-01",
		}},
	}
	// Behaviour, not speed: the detectors' own latency budgets are lifted
	// (unbudgeted), and a call still late after 10 s on a crowded machine
	// is retried; anything but ok or timeout is a failure.
	got := map[string]decision.DetectorResult{}
	for _, cp := range []string{"signup", "identity_verification"} {
		req.Checkpoint = cp
		for try := 0; try < 20; try++ {
			late := false
			for _, r := range h.Collect(ctx, req, time.Now()) {
				switch r.Status {
				case decision.StatusOK:
					if _, seen := got[r.Name]; !seen || cp == "signup" {
						got[r.Name] = r
					}
				case decision.StatusTimeout:
					late = true
				default:
					t.Errorf("detector %s at %s = %s (%s), want ok", r.Name, cp, r.Status, r.Error)
				}
			}
			if !late {
				break
			}
		}
	}
	for _, n := range builtin.Names() {
		if _, ok := got[n]; !ok {
			t.Errorf("detector %s never answered ok at signup or identity_verification", n)
		}
	}
	if len(got["email"].Signals) == 0 {
		t.Errorf("email detector found nothing in a mailinator address: %+v", got["email"])
	}
	for _, s := range h.Status() {
		if s.Mode != host.ModeInProcess || s.State != host.StateOK {
			t.Errorf("Status %s = %s, %s; want ok, in process", s.Name, s.State, s.Mode)
		}
	}
}

// unbudgeted opens the detector with its declared latency budget removed,
// so that only the test's 10 s timeout bounds a call.
func unbudgeted(open host.Opener) host.Opener {
	return func(ctx context.Context, env func(string, string) string, dir string) (host.InProcess, io.Closer, error) {
		d, c, err := open(ctx, env, dir)
		if err != nil {
			return nil, nil, err
		}
		return noBudget{d}, c, nil
	}
}

type noBudget struct{ host.InProcess }

func (d noBudget) Describe(ctx context.Context) (*detectorv1.DescribeResponse, error) {
	r, err := d.InProcess.Describe(ctx)
	if r != nil {
		r.LatencyBudget = nil
	}
	return r, err
}
