package host

import (
	"strings"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
)

func TestBreakerOpensProbesAndCloses(t *testing.T) {
	dc := detectorConfig("flaky", nil)
	dc.Timeout = 150 * time.Millisecond
	const cooldown = 400 * time.Millisecond
	h, logs := startHost(t, Config{Detectors: []DetectorConfig{dc}, BreakerFailures: 3, BreakerCooldown: cooldown})
	call := func(c string) decision.DetectorResult {
		t.Helper()
		got := collect(h, request("signup", c), patience)
		if len(got) != 1 {
			t.Fatalf("Collect(case=%s) = %+v, want one result", c, got)
		}
		return got[0]
	}

	// Errors and timeouts both count.
	for _, c := range []string{"error", "hang", "error"} {
		if r := call(c); r.Status != decision.StatusError && r.Status != decision.StatusTimeout {
			t.Fatalf("Collect(case=%s) = %+v, want error or timeout", c, r)
		}
	}
	s := statusOf(h, "flaky")
	if s.Breaker != BreakerOpen || s.ConsecutiveFailures != 3 || s.BreakerOpened != 1 {
		t.Errorf("after 3 failures Status() = breaker %q, %d failures, opened %d; want open, 3, 1",
			s.Breaker, s.ConsecutiveFailures, s.BreakerOpened)
	}
	if !strings.Contains(logs.String(), "circuit breaker opened") {
		t.Errorf("log does not say the breaker opened:\n%s", logs)
	}
	// While open, a call that would succeed is not made.
	if r := call("ok"); r.Status != decision.StatusUnavailable || !strings.Contains(r.Error, "circuit breaker open") || r.Latency != 0 {
		t.Errorf("Collect(case=ok) with the breaker open = %+v, want unavailable, not called", r)
	}

	// After the cool-down one probe goes out; its failure opens the breaker again.
	eventually(t, "breaker half-open", func() (bool, string) {
		s := statusOf(h, "flaky")
		return s.Breaker == BreakerHalfOpen, s.Breaker
	})
	if r := call("error"); r.Status != decision.StatusError {
		t.Errorf("probe Collect(case=error) = %+v, want error (the probe is made)", r)
	}
	if s := statusOf(h, "flaky"); s.Breaker != BreakerOpen || s.BreakerOpened != 2 {
		t.Errorf("after a failed probe Status() = breaker %q, opened %d; want open, 2", s.Breaker, s.BreakerOpened)
	}
	if r := call("ok"); r.Status != decision.StatusUnavailable {
		t.Errorf("Collect(case=ok) right after a failed probe = %+v, want unavailable", r)
	}

	// A successful probe closes it.
	eventually(t, "breaker half-open again", func() (bool, string) {
		s := statusOf(h, "flaky")
		return s.Breaker == BreakerHalfOpen, s.Breaker
	})
	if r := call("ok"); r.Status != decision.StatusOK {
		t.Errorf("probe Collect(case=ok) = %+v, want ok", r)
	}
	if s := statusOf(h, "flaky"); s.Breaker != BreakerClosed || s.ConsecutiveFailures != 0 {
		t.Errorf("after a good probe Status() = breaker %q, %d failures; want closed, 0", s.Breaker, s.ConsecutiveFailures)
	}
	if r := call("ok"); r.Status != decision.StatusOK {
		t.Errorf("Collect(case=ok) after closing = %+v, want ok", r)
	}
	// The process was never restarted for any of this.
	if s := statusOf(h, "flaky"); s.State != StateOK || s.Restarts != 0 {
		t.Errorf("Status() = %+v, want ok without restarts", s)
	}
}

func TestBreakerSuccessResetsCount(t *testing.T) {
	h, _ := startHost(t, Config{Detectors: []DetectorConfig{detectorConfig("alpha", nil)}, BreakerFailures: 2})
	for i, c := range []string{"error", "ok", "error", "ok", "error"} {
		got := collect(h, request("signup", c), patience)
		if got[0].Status == decision.StatusUnavailable {
			t.Fatalf("call %d (case=%s) = %+v: the breaker opened although failures were never consecutive", i, c, got[0])
		}
	}
	if s := statusOf(h, "alpha"); s.Breaker != BreakerClosed || s.ConsecutiveFailures != 1 {
		t.Errorf("Status() = breaker %q, %d failures; want closed, 1", s.Breaker, s.ConsecutiveFailures)
	}
}

func TestBreakerIgnoresTheDecisionsDeadline(t *testing.T) {
	// A decision whose own deadline is short is not the detector's fault.
	h, _ := startHost(t, Config{Detectors: []DetectorConfig{detectorConfig("alpha", nil)}, BreakerFailures: 1})
	if got := collect(h, request("signup", "hang"), 100*time.Millisecond); got[0].Status != decision.StatusTimeout {
		t.Fatalf("Collect(case=hang) = %+v, want timeout", got[0])
	}
	if s := statusOf(h, "alpha"); s.Breaker != BreakerClosed {
		t.Errorf("after the decision's deadline cut a call short, breaker = %q, want closed", s.Breaker)
	}
}

func TestSignalLimitsAndEvidenceSize(t *testing.T) {
	h, _ := startHost(t, Config{
		Detectors: []DetectorConfig{detectorConfig("alpha", nil)},
		Limits:    decision.Limits{MaxStringBytes: 10},
	})
	long := request("signup", "clean")
	long.Subject.ID = "acct-0123456789" // the test detector echoes it as the value
	if got := collect(h, long, patience); got[0].Status != decision.StatusError ||
		!strings.Contains(got[0].Error, "longer than 10 bytes") {
		t.Errorf("Collect(value of 15 bytes, limit 10) = %+v, want an error naming the limit", got[0])
	}
	if got := collect(h, request("signup", "clean"), patience); got[0].Status != decision.StatusOK {
		t.Errorf("Collect(value of 7 bytes, limit 10) = %+v, want ok", got[0])
	}

	h2, _ := startHost(t, Config{Detectors: []DetectorConfig{detectorConfig("bulky", nil)}})
	got := collect(h2, request("signup", "evidence_big"), patience)
	if got[0].Status != decision.StatusError || !strings.Contains(got[0].Error, `detector "bulky"`) ||
		!strings.Contains(got[0].Error, "more than the 16384 allowed") {
		t.Errorf("Collect(20 KB of evidence) = %+v, want an error naming the detector and the 16 KiB limit", got[0])
	}
	h3, _ := startHost(t, Config{Detectors: []DetectorConfig{detectorConfig("roomy", nil)}, MaxEvidenceBytes: 64 << 10})
	if got := collect(h3, request("signup", "evidence_big"), patience); got[0].Status != decision.StatusOK {
		t.Errorf("Collect(20 KB of evidence, limit 64 KiB) = %+v, want ok", got[0])
	}
}
