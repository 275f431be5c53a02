package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/gavel/gavel/events"
	"github.com/gavel/gavel/events/eventstest"
	"github.com/gavel/gavel/internal/pgtest"
	adminv1 "github.com/gavel/gavel/proto/gavel/admin/v1"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
	eventsv1 "github.com/gavel/gavel/proto/gavel/events/v1"
)

// eventsEnv configures gavel to deliver every event to the receiver.
func eventsEnv(r *eventstest.Receiver, secrets ...string) []string {
	return []string{
		"GAVEL_EVENTS__ENDPOINTS__MARKET__URL=" + r.URL + "/hooks/gavel",
		"GAVEL_EVENTS__ENDPOINTS__MARKET__SECRETS=" + strings.Join(secrets, ","),
		"GAVEL_EVENTS__ENDPOINTS__MARKET__TIMEOUT=1s",
		"GAVEL_EVENTS__ENDPOINTS__MARKET__CONCURRENCY=4",
		"GAVEL_EVENTS__ENDPOINTS__MARKET__BACKOFF_MIN=50ms",
		"GAVEL_EVENTS__ENDPOINTS__MARKET__BACKOFF_MAX=500ms",
		"GAVEL_EVENTS__POLL_INTERVAL=50ms",
	}
}

func eventsStatus(t testing.TB, g *gavelProc) *eventsv1.EventsStatus {
	t.Helper()
	st, err := g.admin().GetStatus(ctxT(t), connect.NewRequest(&adminv1.GetStatusRequest{}))
	if err != nil {
		t.Fatalf("GetStatus: %v", err)
	}
	return st.Msg.GetEvents()
}

// restrictiveDecisions has clients ask for restrictive decisions (a caller
// signal of fraud at withdrawal) about subjects, each subject several
// times, and returns the ids of those answered restrict or suspend.
func restrictiveDecisions(t *testing.T, gs []*gavelProc, subjects, each int) []string {
	t.Helper()
	var (
		mu  sync.Mutex
		ids []string
		wg  sync.WaitGroup
	)
	stamp := time.Now().UnixNano()
	for i := range subjects {
		wg.Go(func() {
			for j := range each {
				c := gs[(i+j)%len(gs)].decisions()
				req := at(fmt.Sprintf("acct-ev-%d-%d", stamp, i), "withdrawal", fraudScore(0.97))
				resp, err := c.Decide(ctxT(t), connect.NewRequest(req))
				if err != nil {
					t.Errorf("Decide: %v", err)
					return
				}
				if a := resp.Msg.GetAction(); a == decisionv1.Action_ACTION_RESTRICT || a == decisionv1.Action_ACTION_SUSPEND {
					mu.Lock()
					ids = append(ids, resp.Msg.GetDecisionId())
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(ids) == 0 {
		t.Fatal("no decision was restrictive: the test would prove nothing")
	}
	return ids
}

// restrictiveDelivered is the ids of decisions whose restrictive event the
// receiver got.
func restrictiveDelivered(r *eventstest.Receiver) map[string]bool {
	got := map[string]bool{}
	for _, evs := range r.Delivered() {
		for _, ev := range evs {
			if ev.Type != events.TypeDecisionRestrictive {
				continue
			}
			var d events.DecisionData
			if json.Unmarshal(ev.Data, &d) == nil {
				got[d.DecisionID] = true
			}
		}
	}
	return got
}

// TestEventsSurviveSIGKILL kills gavel with SIGKILL while committed events
// are still on their way to a slow receiver, restarts it on the same data,
// and checks that every event committed is delivered — signed, at least
// once, in order per subject — with none left pending or dead.
func TestEventsSurviveSIGKILL(t *testing.T) {
	secret := eventstest.NewSecret()
	r := eventstest.NewReceiver(t, secret)
	r.SetHold(func(eventstest.Received) time.Duration { return 150 * time.Millisecond })
	env := append(detectorsOff(t), eventsEnv(r, secret)...)
	dataDir := t.TempDir()
	g := startGavelIn(t, dataDir, env...)

	ids := restrictiveDecisions(t, []*gavelProc{g}, 10, 4)
	eventually(t, 30*time.Second, "the first events delivered", func() (bool, string) {
		n := r.Count()
		return n > 0, fmt.Sprintf("%d delivered", n)
	})
	g.stop(syscall.SIGKILL)
	before := restrictiveDelivered(r)
	t.Logf("gavel killed: %d restrictive decisions answered, %d of their events delivered, %d events delivered in all",
		len(ids), len(before), r.Count())
	if len(before) >= len(ids) {
		t.Fatalf("every restrictive event was delivered before the kill: the receiver was too fast for the test to mean anything")
	}

	r.SetHold(nil)
	g = startGavelIn(t, dataDir, env...)
	eventually(t, 60*time.Second, "every committed event delivered after the restart", func() (bool, string) {
		got := restrictiveDelivered(r)
		missing := 0
		for _, id := range ids {
			if !got[id] {
				missing++
			}
		}
		st := eventsStatus(t, g)
		pending := int64(-1)
		if st != nil && len(st.GetEndpoints()) == 1 {
			pending = st.GetEndpoints()[0].GetPending()
		}
		return missing == 0 && pending == 0 && st.GetUnrouted() == 0, fmt.Sprintf("%d restrictive decisions' events missing, %d pending", missing, pending)
	})
	if p := r.Problems(); len(p) > 0 {
		t.Errorf("receiver problems: %v", p)
	}
	if err := eventstest.InOrder(r.Delivered()); err != nil {
		t.Error(err)
	}
	ep := eventsStatus(t, g).GetEndpoints()[0]
	if ep.GetDead() != 0 || int64(r.Count()) != ep.GetDelivered() {
		t.Errorf("endpoint after the restart = %v; want no dead letter and %d delivered (the distinct events received)", ep, r.Count())
	}
	redelivered := len(r.All()) - r.Count()
	t.Logf("after the restart: %d distinct events delivered, %d requests in all (%d redeliveries of events whose delivery the kill cut short)",
		r.Count(), len(r.All()), redelivered)

	// The operator's view: gavel status and gavel events status.
	out, err := exec.Command(filepath.Join(binDir, "gavel"), "events", "status", "--addr", g.addr).CombinedOutput()
	if err != nil || !strings.Contains(string(out), fmt.Sprintf("endpoint market %s/hooks/gavel: 0 pending, %d delivered", r.URL, r.Count())) {
		t.Errorf("gavel events status = %v\n%s", err, out)
	}
	out, err = exec.Command(filepath.Join(binDir, "gavel"), "status", "--addr", g.addr).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "endpoint market") {
		t.Errorf("gavel status = %v\n%s", err, out)
	}
}

// TestEventsDeadLettersCLI: a receiver that refuses one subject's events
// dead-letters them after the configured attempts; gavel events dead lists
// them, gavel events redrive sends them again once the receiver takes them.
func TestEventsDeadLettersCLI(t *testing.T) {
	secret := eventstest.NewSecret()
	r := eventstest.NewReceiver(t, secret)
	var mu sync.Mutex
	refusing := true
	r.SetAnswer(func(ev eventstest.Received, attempt int) int {
		mu.Lock()
		defer mu.Unlock()
		if refusing {
			return 422
		}
		return 204
	})
	env := append(detectorsOff(t), eventsEnv(r, secret)...)
	env = append(env, "GAVEL_EVENTS__ENDPOINTS__MARKET__MAX_ATTEMPTS=2")
	g := startGavel(t, env...)
	ids := restrictiveDecisions(t, []*gavelProc{g}, 1, 1)
	eventually(t, 30*time.Second, "the events dead-lettered", func() (bool, string) {
		ep := eventsStatus(t, g).GetEndpoints()
		if len(ep) != 1 {
			return false, "no endpoint"
		}
		return ep[0].GetPending() == 0 && ep[0].GetDead() > 0, fmt.Sprintf("%v", ep[0])
	})
	gavel := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(filepath.Join(binDir, "gavel"), append(args, "--addr", g.addr)...).CombinedOutput()
		if err != nil {
			t.Fatalf("gavel %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := gavel("events", "dead")
	if !strings.Contains(out, events.TypeDecisionRestrictive) || !strings.Contains(out, "422") {
		t.Errorf("gavel events dead =\n%s\nwant the restrictive decision's event, last status 422", out)
	}
	mu.Lock()
	refusing = false
	mu.Unlock()
	out = gavel("events", "redrive", "--all")
	if !strings.Contains(out, "dead letters pending again") {
		t.Errorf("gavel events redrive --all = %s", out)
	}
	eventually(t, 30*time.Second, "the redriven events delivered", func() (bool, string) {
		return restrictiveDelivered(r)[ids[0]], fmt.Sprintf("%d delivered", r.Count())
	})
	if out := gavel("events", "dead"); !strings.Contains(out, "no dead deliveries") {
		t.Errorf("gavel events dead after the redrive =\n%s", out)
	}
	if p := r.Problems(); len(p) > 0 {
		t.Errorf("receiver problems: %v", p)
	}
}

// TestEventsReplicasPostgres runs two gavel replicas on one PostgreSQL
// ledger, both delivering, kills one with SIGKILL mid-delivery, and checks
// that the survivor delivers everything — no subject ever had two of its
// events in flight at once, and each subject's events arrived in order.
func TestEventsReplicasPostgres(t *testing.T) {
	if os.Getenv(pgtest.Env) == "" {
		t.Skip(pgtest.Env + " not set: no PostgreSQL for the replicas")
	}
	secret := eventstest.NewSecret()
	r := eventstest.NewReceiver(t, secret)
	r.SetHold(func(eventstest.Received) time.Duration { return 50 * time.Millisecond })
	env := append(detectorsOff(t), eventsEnv(r, secret)...)
	env = append(env, "GAVEL_LEDGER__DRIVER=postgres", "GAVEL_LEDGER__DSN="+pgtest.Schema(t, "gavel_e2e_events"), "GAVEL_LEDGER__TIMEOUT=30s")
	a := startGavel(t, env...)
	b := startGavel(t, env...)
	ids := restrictiveDecisions(t, []*gavelProc{a, b}, 8, 4)
	a.stop(syscall.SIGKILL)
	t.Logf("replica a killed with %d events delivered of %d restrictive decisions' (and their holds)", r.Count(), len(ids))
	r.SetHold(nil)
	eventually(t, 60*time.Second, "replica b delivering everything", func() (bool, string) {
		got := restrictiveDelivered(r)
		missing := 0
		for _, id := range ids {
			if !got[id] {
				missing++
			}
		}
		ep := eventsStatus(t, b).GetEndpoints()
		pending := int64(-1)
		if len(ep) == 1 {
			pending = ep[0].GetPending()
		}
		return missing == 0 && pending == 0, fmt.Sprintf("%d missing, %d pending", missing, pending)
	})
	if p := r.Problems(); len(p) > 0 {
		t.Errorf("receiver problems: %v", p)
	}
	if err := eventstest.InOrder(r.Delivered()); err != nil {
		t.Error(err)
	}
}
