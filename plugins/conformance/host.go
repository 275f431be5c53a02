package conformance

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/plugins/host"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// underHost runs the detector under gavel's own host, sends it sample
// requests, kills it and waits for the host to restart it.
func (c *checker) underHost(ctx context.Context, desc *detectorv1.DescribeResponse) {
	after := []string{CheckDetect, CheckSignals, CheckHostHealth, CheckRestart}
	h, err := host.New(host.Config{
		Detectors:         []host.DetectorConfig{{Name: c.name(), Path: c.opts.Path, Timeout: c.opts.CallTimeout, Env: c.opts.Env}},
		DataDir:           c.opts.DataDir,
		StartTimeout:      c.opts.StartTimeout,
		RestartBackoffMin: 50 * time.Millisecond,
		RestartBackoffMax: time.Second,
		OnFailure:         host.OnFailureRefuse,
		// The check's patience, not gavel's: a broken answer should be
		// reported as such, never hidden behind an open breaker.
		BreakerFailures: 1 << 20,
	}, c.hostLog)
	if err != nil {
		c.add(CheckHost, Fail, "%v", err)
		c.skip("not started", after...)
		return
	}
	defer h.Close()
	start, mark := time.Now(), c.tail.mark()
	if err := h.Start(ctx); err != nil {
		c.add(CheckHost, Fail, "gavel's detector host (go-plugin, AutoMTLS) refused it: %s%s", firstLine(err.Error()), c.tail.since(mark, 3))
		c.skip("not started", after...)
		return
	}
	st := h.Status()[0]
	c.add(CheckHost, Pass, "gavel's detector host (go-plugin, AutoMTLS, SHA-256 pinned) started it as pid %d and read Describe in %v",
		st.PID, time.Since(start).Round(time.Millisecond))

	checkpoints := c.wanted(st.Checkpoints)
	if len(checkpoints) == 0 {
		c.add(CheckDetect, Fail, "it wants only checkpoints %v, none of gavel's (%s): it would never be called",
			st.Checkpoints, strings.Join(c.opts.Checkpoints, ", "))
		c.skip("never called", CheckSignals)
	} else {
		c.detect(ctx, h, checkpoints, st, desc)
	}

	pctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	ping := h.Ping(pctx)[0]
	cancel()
	if ping.PingError != "" {
		c.add(CheckHostHealth, Fail, "gavel's health check failed: %s", ping.PingError)
	} else {
		c.add(CheckHostHealth, Pass, "gavel's health check answered in %v", ping.PingLatency.Round(time.Microsecond))
	}
	c.restart(ctx, h, checkpoints)
}

// wanted is the configured checkpoints the detector asks for (all when it
// names none).
func (c *checker) wanted(declared []string) []string {
	if len(declared) == 0 {
		return c.opts.Checkpoints
	}
	var out []string
	for _, cp := range c.opts.Checkpoints {
		if slices.Contains(declared, cp) {
			out = append(out, cp)
		}
	}
	return out
}

// detect sends the sample requests at each checkpoint through the host,
// which judges each answer as it does for a decision.
func (c *checker) detect(ctx context.Context, h *host.Host, checkpoints []string, st host.Health, desc *detectorv1.DescribeResponse) {
	var (
		calls, withSignals int
		slowest            time.Duration
		failed, rejected   []string
		emitted            = map[string]bool{}
	)
	for _, cp := range checkpoints {
		for _, req := range Samples(cp) {
			calls++
			res := h.Collect(ctx, req, time.Now())
			if len(res) == 0 {
				failed = append(failed, fmt.Sprintf("%s: not called", req.RequestID))
				continue
			}
			r := res[0]
			slowest = max(slowest, r.Latency)
			switch {
			case r.Status == decision.StatusOK:
				if len(r.Signals) > 0 {
					withSignals++
				}
				for _, s := range r.Signals {
					emitted[s.Name] = true
				}
			case r.Status == decision.StatusError && strings.Contains(r.Error, "answer rejected"):
				rejected = append(rejected, fmt.Sprintf("%s: %s", req.RequestID, r.Error))
			default:
				failed = append(failed, fmt.Sprintf("%s: %s: %s", req.RequestID, r.Status, r.Error))
			}
		}
	}
	at := fmt.Sprintf("%d requests at %s", calls, strings.Join(checkpoints, ", "))
	if len(failed) > 0 {
		c.add(CheckDetect, Fail, "%d of %s failed: %s", len(failed), at, strings.Join(first(failed, 3), "; "))
	} else {
		budget := st.Budget
		if desc != nil && desc.GetLatencyBudget() != nil {
			budget = desc.GetLatencyBudget().AsDuration()
		}
		if budget > 0 && slowest > budget {
			c.add(CheckDetect, Warn, "%s answered, %d with signals; the slowest took %v, over the declared latency budget %v (on this machine, now)",
				at, withSignals, slowest.Round(time.Microsecond), budget)
		} else {
			c.add(CheckDetect, Pass, "%s answered, %d with signals; the slowest took %v", at, withSignals, slowest.Round(time.Microsecond))
		}
	}
	switch {
	case len(rejected) > 0:
		c.add(CheckSignals, Fail, "gavel rejects the whole answer (the detector's status becomes error) for %d of %d requests: %s",
			len(rejected), calls, strings.Join(first(rejected, 3), "; "))
	case len(failed) == calls:
		c.add(CheckSignals, Skip, "not run: no answer to check")
	default:
		var names []string
		for n := range emitted {
			names = append(names, n)
		}
		slices.Sort(names)
		c.add(CheckSignals, Pass, "every answer valid (declared names, scores and confidences in 0..1, bounded evidence); emitted %d of %d declared signals: %s",
			len(names), len(st.Signals), cmpOr(strings.Join(names, ", "), "none"))
	}
}

// restart kills the detector's process and waits for the host to start it
// again, on the same data folder, and for it to answer.
func (c *checker) restart(ctx context.Context, h *host.Host, checkpoints []string) {
	old := h.Status()[0]
	p, err := os.FindProcess(old.PID)
	if err == nil {
		err = p.Kill()
	}
	if old.PID == 0 || err != nil {
		c.add(CheckRestart, Fail, "could not kill pid %d: %v", old.PID, err)
		return
	}
	killed, mark := time.Now(), c.tail.mark()
	deadline := killed.Add(c.opts.StartTimeout + 2*time.Second)
	for {
		st := h.Status()[0]
		if st.State == host.StateOK && st.PID != 0 && st.PID != old.PID {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			c.add(CheckRestart, Fail, "killed pid %d; not running again %v later: %s%s", old.PID, time.Since(killed).Round(time.Millisecond),
				firstLine(cmpOr(st.LastError, string(st.State))), c.tail.since(mark, 3))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	back := time.Since(killed)
	st := h.Status()[0]
	if len(checkpoints) > 0 {
		req := Samples(checkpoints[0])[0]
		if r := h.Collect(ctx, req, time.Now()); len(r) == 0 || r[0].Status != decision.StatusOK {
			why := "not called"
			if len(r) > 0 {
				why = fmt.Sprintf("%s: %s", r[0].Status, r[0].Error)
			}
			c.add(CheckRestart, Fail, "killed pid %d; restarted as pid %d, but Detect failed: %s", old.PID, st.PID, why)
			return
		}
	}
	c.add(CheckRestart, Pass, "killed pid %d (SIGKILL); gavel's host restarted it as pid %d on the same data folder in %v, and it answered",
		old.PID, st.PID, back.Round(time.Millisecond))
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("and %d more", len(s)-n))
	}
	return s
}

// Samples are the requests sent at checkpoint: an ordinary account, a
// risky one (throw-away mailbox, VoIP-looking phone, a document and payout
// details that disagree with the profile, a private address), and the
// risky one again as a dry run, which a stateful detector must not count.
func Samples(checkpoint string) []*decision.Request {
	created := time.Now().Add(-72 * time.Hour).UTC()
	plain := &decision.Request{
		RequestID: "check-" + checkpoint + "-plain", Checkpoint: checkpoint,
		Subject: decision.Subject{ID: "check-acct-1", Kind: "freelancer", CreatedAt: created,
			Profile: decision.Profile{GivenName: "Amelia", FamilyName: "Laurent", Country: "FR",
				Email: "amelia.laurent@gmail.com", Phone: "+33612345678", DateOfBirth: "1990-04-12"}},
		Context: decision.Context{IP: "192.0.2.10", DeviceID: "check-device-1", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", SessionID: "check-session-1"},
	}
	risky := &decision.Request{
		RequestID: "check-" + checkpoint + "-risky", Checkpoint: checkpoint,
		Subject: decision.Subject{ID: "check-acct-2", Kind: "client", CreatedAt: time.Now().Add(-time.Hour).UTC(),
			Profile: decision.Profile{GivenName: "John", FamilyName: "Smith", Country: "GB",
				Email: "xk7q2zr9@mailinator.com", Phone: "+15005550006", DateOfBirth: "2001-01-01"}},
		Context: decision.Context{IP: "10.0.0.7", DeviceID: "check-device-1", UserAgent: "curl/8.0"},
		Attributes: map[string]any{
			"document": map[string]any{"type": "passport", "number": "X1234567", "country": "US",
				"given_name": "Jon", "family_name": "Smyth", "date_of_birth": "1985-02-03", "expires": "2020-01-01",
				"vendor": "example", "vendor_verdict": "DENIED_FRAUD"},
			"payout": map[string]any{"method": "bank_account", "account_hash": "c2hhcmVkLWFjY291bnQ", "country": "NG",
				"holder_name": "Someone Else", "name_match": false},
		},
	}
	dry := *risky
	dry.RequestID = "check-" + checkpoint + "-dry-run"
	dry.DryRun = true
	return []*decision.Request{plain, risky, &dry}
}
