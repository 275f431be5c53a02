package host

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
)

func TestBreakerOpensProbesAndCloses(t *testing.T) {
	dc := detectorConfig("flaky", nil)
	dc.Timeout = 150 * time.Millisecond
	const cooldown = 400 * time.Millisecond
	h, logs := startHost(t, Config{Detectors: []DetectorConfig{dc}, BreakerFailures: 3, BreakerCooldown: cooldown,
		BreakerGrace: 100 * time.Millisecond})
	call := func(c string) decision.DetectorResult {
		t.Helper()
		got := collect(h, request("signup", c), patience)
		if len(got) != 1 {
			t.Fatalf("Collect(case=%s) = %+v, want one result", c, got)
		}
		return got[0]
	}

	// Errors and hangs (no answer within the timeout and the grace, and none
	// to any other call meanwhile) both count; the hang is judged when its
	// grace has passed.
	for _, c := range []string{"error", "error", "hang"} {
		if r := call(c); r.Status != decision.StatusError && r.Status != decision.StatusTimeout {
			t.Fatalf("Collect(case=%s) = %+v, want error or timeout", c, r)
		}
	}
	eventually(t, "breaker open after 3 failures", func() (bool, string) {
		s := statusOf(h, "flaky")
		return s.Breaker == BreakerOpen, s.Breaker
	})
	s := statusOf(h, "flaky")
	if s.Breaker != BreakerOpen || s.ConsecutiveFailures != 3 || s.BreakerOpened != 1 {
		t.Errorf("after 3 failures Status() = breaker %q, %d failures, opened %d; want open, 3, 1",
			s.Breaker, s.ConsecutiveFailures, s.BreakerOpened)
	}
	eventually(t, "the log says the breaker opened", func() (bool, string) {
		return strings.Contains(logs.String(), "circuit breaker opened"), "not yet"
	})
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

// A burst on a saturated machine makes a detector late, not broken: calls
// answered after their decisions stopped waiting, but within the grace, do
// not open the breaker, even with a limit of one failure. A hung detector,
// under the same burst, still opens it.
func TestBreakerTellsSlowFromHung(t *testing.T) {
	const burst = 12
	run := func(t *testing.T, c, sleep string, grace time.Duration) (*Host, []decision.DetectorResult) {
		t.Helper()
		dc := detectorConfig("burst", nil)
		dc.Timeout = 50 * time.Millisecond
		h, _ := startHost(t, Config{Detectors: []DetectorConfig{dc}, BreakerFailures: 1, BreakerGrace: grace})
		results := make([]decision.DetectorResult, burst)
		var wg sync.WaitGroup
		for i := range burst {
			wg.Go(func() {
				req := request("signup", c)
				req.Attributes["sleep"] = sleep
				// half the decisions have a deadline of their own shorter than the timeout
				results[i] = collect(h, req, []time.Duration{patience, 20 * time.Millisecond}[i%2])[0]
			})
		}
		wg.Wait()
		return h, results
	}

	t.Run("slow", func(t *testing.T) {
		h, results := run(t, "slow", "250ms", time.Second) // five times the timeout, within the grace
		for i, r := range results {
			if r.Status != decision.StatusTimeout {
				t.Errorf("Collect(slow) %d = %+v, want timeout (the decision does not wait)", i, r)
			}
		}
		eventually(t, "every call of the burst answered, late", func() (bool, string) {
			n := h.dets[0].inflight.Load()
			return n == 0, fmt.Sprintf("%d calls open", n)
		})
		if s := statusOf(h, "burst"); s.Breaker != BreakerClosed || s.ConsecutiveFailures != 0 || s.BreakerOpened != 0 {
			t.Errorf("after a burst of late answers Status() = breaker %q, %d failures, opened %d; want closed, 0, 0",
				s.Breaker, s.ConsecutiveFailures, s.BreakerOpened)
		}
		if r := collect(h, request("signup", "ok"), patience)[0]; r.Status != decision.StatusOK {
			t.Errorf("Collect(ok) after the burst = %+v, want ok (called)", r)
		}
	})
	// Queued one at a time, most calls get no answer even within the grace;
	// but the detector answers others meanwhile: busy, not hung.
	t.Run("queued", func(t *testing.T) {
		h, results := run(t, "queue", "100ms", 200*time.Millisecond)
		for i, r := range results {
			if r.Status != decision.StatusTimeout {
				t.Errorf("Collect(queue) %d = %+v, want timeout", i, r)
			}
		}
		eventually(t, "every call of the burst ended", func() (bool, string) {
			n := h.dets[0].inflight.Load()
			return n == 0, fmt.Sprintf("%d calls open", n)
		})
		if s := statusOf(h, "burst"); s.Breaker != BreakerClosed || s.BreakerOpened != 0 {
			t.Errorf("after a burst queued in the detector Status() = breaker %q, %d failures, opened %d; want closed, never opened",
				s.Breaker, s.ConsecutiveFailures, s.BreakerOpened)
		}
	})
	t.Run("hung", func(t *testing.T) {
		h, results := run(t, "hang", "", time.Second)
		for i, r := range results {
			if r.Status != decision.StatusTimeout {
				t.Errorf("Collect(hang) %d = %+v, want timeout", i, r)
			}
		}
		eventually(t, "breaker open on a hung detector", func() (bool, string) {
			s := statusOf(h, "burst")
			return s.Breaker == BreakerOpen && s.BreakerOpened >= 1, s.Breaker
		})
		if r := collect(h, request("signup", "ok"), patience)[0]; r.Status != decision.StatusUnavailable ||
			!strings.Contains(r.Error, "circuit breaker open") {
			t.Errorf("Collect(ok) with the breaker open = %+v, want unavailable, not called", r)
		}
	})
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
