package tests

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/gavel/gavel/internal/pgtest"
	"github.com/gavel/gavel/internal/redistest"
	adminv1 "github.com/gavel/gavel/proto/gavel/admin/v1"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

// burstTimeout is the linkage and velocity detectors' timeout in the burst
// tests: short enough that, with fifty decisions at once on a small machine,
// some of their calls answer too late.
const burstTimeout = "20ms"

// An account farm signs up fifty accounts at once from one device and one IP,
// spread over two gavel replicas sharing the linkage store (PostgreSQL) and
// the velocity store (Redis). Calls time out under the burst, yet every link
// and every event is recorded, each answered count is an ordinal seen once,
// and no breaker opens: a probe afterwards sees all fifty accounts.
func TestBurstKeepsDetectorStateAcrossReplicas(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end test: builds and runs gavel (run without -short)")
	}
	ledgerDSN := pgtest.Schema(t, "burst_ledger")
	linkageDSN := pgtest.Schema(t, "burst_linkage")
	redisURL := redistest.Server(t)
	env := append(burstEnv(),
		"GAVEL_LEDGER__DRIVER=postgres", "GAVEL_LEDGER__DSN="+ledgerDSN,
		"GAVEL_DETECTORS__PLUGINS__LINKAGE__ENV__POSTGRES_DSN="+linkageDSN,
		"GAVEL_DETECTORS__PLUGINS__VELOCITY__ENV__REDIS_URL="+redisURL)
	var replicas [2]*gavelProc
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() { replicas[i] = startGavel(t, env...) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	checkBurst(t, replicas[:])
}

// The same burst on one gavel with the embedded SQLite stores.
func TestBurstKeepsDetectorStateOnSQLite(t *testing.T) {
	t.Parallel()
	checkBurst(t, []*gavelProc{startGavel(t, burstEnv()...)})
}

func burstEnv() []string {
	return append([]string{
		// neither the ledger (its history read is bounded by the signal
		// timeout) nor the policy may fall back under the burst on a busy
		// machine: this test reads every decision back
		"GAVEL_LEDGER__TIMEOUT=20s", "GAVEL_DECISION__SIGNAL_TIMEOUT=20s", "GAVEL_DECISION__POLICY_TIMEOUT=20s",
		"GAVEL_DETECTORS__PLUGINS__LINKAGE__TIMEOUT=" + burstTimeout,
		"GAVEL_DETECTORS__PLUGINS__VELOCITY__TIMEOUT=" + burstTimeout,
	}, budgetsEnv(burstTimeout)...)
}

func checkBurst(t *testing.T, replicas []*gavelProc) {
	const n = 50
	device := fmt.Sprintf("farm-device-%d", time.Now().UnixNano())
	ip := "198.51.100.23"
	farmSignup := func() *decisionv1.DecideRequest {
		r := signup("farm@gmail.com") // a free-mail domain: not counted by domain
		r.Context.DeviceId, r.Context.Ip = device, ip
		return r
	}

	type outcome struct {
		resp *decisionv1.DecideResponse
		err  error
	}
	outcomes := make([]outcome, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		client := replicas[i%len(replicas)].decisions()
		req := farmSignup()
		wg.Go(func() {
			<-start
			resp, err := client.Decide(ctxT(t), connect.NewRequest(req))
			outcomes[i] = outcome{resp.Msg, err}
			if err != nil {
				outcomes[i].resp = nil
			}
		})
	}
	close(start)
	wg.Wait()

	// Each answered count is its call's ordinal: distinct, within 1..n (and
	// 0..n-1 other accounts on the device).
	var velocity, linkage []int
	timeouts := map[string]int{}
	for i, o := range outcomes {
		if o.err != nil {
			t.Fatalf("Decide(burst signup %d) error = %v", i, o.err)
		}
		if o.resp.GetFallback() {
			t.Fatalf("Decide(burst signup %d) = fallback %v, want a decision of the policy's", i, codes(o.resp))
		}
		for _, det := range []string{"velocity", "linkage"} {
			switch st := detectorStatus(o.resp, det); st {
			case decisionv1.DetectorStatus_DETECTOR_STATUS_OK:
			case decisionv1.DetectorStatus_DETECTOR_STATUS_TIMEOUT:
				timeouts[det]++
				continue
			default:
				t.Errorf("Decide(burst signup %d): %s detector status %v, want ok or timeout (never a breaker open)", i, det, st)
				continue
			}
			sigs := reviewerSignals(t, replicas[i%len(replicas)], o.resp.GetDecisionId())
			switch det {
			case "velocity":
				velocity = append(velocity, atoi(t, sigs["velocity.signups_per_ip"]), atoi(t, sigs["velocity.signups_per_device"]))
			case "linkage":
				linkage = append(linkage, atoi(t, sigs["linkage.shared_device"]))
			}
		}
	}
	t.Logf("%d signups over %d replica(s): timeouts %v; velocity answered %d, linkage answered %d",
		n, len(replicas), timeouts, n-timeouts["velocity"], n-timeouts["linkage"])
	if timeouts["velocity"]+timeouts["linkage"] == 0 {
		t.Errorf("no detector call timed out under the burst: the test did not exercise late answers (lower burstTimeout)")
	}
	// per IP and per device are separate windows over the same events: each
	// lists every answered ordinal once
	ips, devices := everyOther(velocity, 0), everyOther(velocity, 1)
	for what, got := range map[string][]int{"signups_per_ip": ips, "signups_per_device": devices} {
		if !distinctWithin(got, 1, n) {
			t.Errorf("answered velocity.%s counts = %v, want distinct values in 1..%d", what, sorted(got), n)
		}
	}
	if !distinctWithin(linkage, 0, n-1) {
		t.Errorf("answered linkage.shared_device counts = %v, want distinct values in 0..%d", sorted(linkage), n-1)
	}

	// Nothing was lost to a timeout: a probe (a dry run, so it may be
	// repeated until both detectors answer in time) sees every account.
	probe := farmSignup()
	probeID := probe.GetSubject().GetId()
	try := 0
	eventually(t, 60*time.Second, "a probe signup answered by linkage and velocity sees the whole burst", func() (bool, string) {
		try++
		p := farmSignup()
		p.Subject.Id, p.RequestId, p.DryRun = probeID, fmt.Sprintf("%s-probe-%d", probeID, try), true
		g := replicas[try%len(replicas)]
		resp, err := g.decisions().Decide(ctxT(t), connect.NewRequest(p))
		if err != nil {
			return false, err.Error()
		}
		if detectorStatus(resp.Msg, "linkage") != decisionv1.DetectorStatus_DETECTOR_STATUS_OK ||
			detectorStatus(resp.Msg, "velocity") != decisionv1.DetectorStatus_DETECTOR_STATUS_OK {
			return false, fmt.Sprintf("linkage %v, velocity %v", detectorStatus(resp.Msg, "linkage"), detectorStatus(resp.Msg, "velocity"))
		}
		sigs := reviewerSignals(t, g, resp.Msg.GetDecisionId())
		linked, ips, devices := atoi(t, sigs["linkage.shared_device"]), atoi(t, sigs["velocity.signups_per_ip"]), atoi(t, sigs["velocity.signups_per_device"])
		got := fmt.Sprintf("linked accounts %d, signups per IP %d, per device %d", linked, ips, devices)
		if linked > n || ips > n+1 || devices > n+1 {
			t.Fatalf("probe after %d signups: %s; want no more than %d linked accounts and a count of %d", n, got, n, n+1)
		}
		// Writes that were late for their answers may still be committing
		// (one at a time on this device): the probe waits for them.
		return linked == n && ips == n+1 && devices == n+1, got
	})

	// The burst opened no breaker.
	for i, g := range replicas {
		st, err := g.admin().GetStatus(ctxT(t), connect.NewRequest(&adminv1.GetStatusRequest{}))
		if err != nil {
			t.Fatalf("GetStatus(replica %d) error = %v", i, err)
		}
		for _, d := range st.Msg.GetDetectors() {
			if (d.GetName() == "linkage" || d.GetName() == "velocity") && d.GetBreaker() != "closed" {
				t.Errorf("replica %d after the burst: %s breaker %q (%d failures), want closed", i, d.GetName(), d.GetBreaker(), d.GetConsecutiveFailures())
			}
		}
	}
}

// reviewerSignals returns a decision's signals by name (their values).
func reviewerSignals(t testing.TB, g *gavelProc, decisionID string) map[string]string {
	t.Helper()
	rev, err := g.decisions().GetDecision(ctxT(t), connect.NewRequest(&decisionv1.GetDecisionRequest{
		DecisionId: decisionID, View: decisionv1.View_VIEW_REVIEWER}))
	if err != nil {
		t.Fatalf("GetDecision(%s, reviewer) error = %v", decisionID, err)
	}
	out := map[string]string{}
	for _, s := range rev.Msg.GetSignals() {
		out[s.GetName()] = s.GetValue()
	}
	return out
}

func atoi(t testing.TB, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("signal value %q is not a count", s)
	}
	return n
}

func everyOther(xs []int, from int) []int {
	var out []int
	for i := from; i < len(xs); i += 2 {
		out = append(out, xs[i])
	}
	return out
}

func sorted(xs []int) []int {
	out := slices.Clone(xs)
	slices.Sort(out)
	return out
}

// distinctWithin reports whether xs holds no value twice, all in lo..hi.
func distinctWithin(xs []int, lo, hi int) bool {
	s := sorted(xs)
	for i, x := range s {
		if x < lo || x > hi || (i > 0 && s[i-1] == x) {
			return false
		}
	}
	return true
}
