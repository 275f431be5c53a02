package builtin_test

import (
	"context"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/plugins/builtin"
	"github.com/gavel/gavel/plugins/host"
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
		dcs = append(dcs, host.DetectorConfig{Name: n, Open: open, Timeout: 5 * time.Second})
	}
	if len(dcs) != 7 {
		t.Fatalf("Names() = %v, want the 7 built-in detectors", builtin.Names())
	}
	h, err := host.New(host.Config{Detectors: dcs, DataDir: t.TempDir(), OnFailure: host.OnFailureRefuse}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
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
	// Each detector's own latency budget bounds its call, and a first call
	// may load lazily (under -race, on a busy machine): a detector must
	// answer ok within a few tries, and never anything but ok or timeout.
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
