package tests

import (
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/google/go-cmp/cmp"

	"github.com/gavel/gavel/internal/pgtest"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
	enforcementv1 "github.com/gavel/gavel/proto/gavel/enforcement/v1"
)

// burst is the requests of one subject that TestStandingAcrossReplicas sends
// at once: each a withdrawal with a caller signal that restricts, so each
// earns a strike and the ladder climbs to a suspension.
func burst(subject string, n int) []*decisionv1.DecideRequest {
	out := make([]*decisionv1.DecideRequest, n)
	for i := range out {
		out[i] = at(subject, "withdrawal", &decisionv1.Signal{Name: "email.disposable", Score: 1, Value: "mailinator.com", Confidence: 1})
	}
	return out
}

// outcome is what a run of decisions left: the actions given, and the
// subject's strikes, holds and suspensions as rows.
type outcome struct {
	actions                        map[string]int
	strikes, holds, suspensions    int
	standingHolds, standingStrikes int
}

// TestStandingAcrossReplicas sends 50 decisions for one subject at once,
// spread over two gavel serve processes on one PostgreSQL, and compares what
// they leave with the same 50 decided one after another: the same actions,
// strikes, holds and a single suspension, and the same standing from either
// replica.
func TestStandingAcrossReplicas(t *testing.T) {
	dsn := pgtest.Schema(t, "gavel_replicas")
	const n = 50

	// The sequence, one at a time, on an embedded ledger.
	seq := startGavel(t, detectorsOff(t)...)
	want := outcome{actions: map[string]int{}}
	for _, req := range burst("acct-seq", n) {
		d := decideOK(t, seq.decisions(), req)
		want.actions[actionOf(d)]++
	}
	st := standingOf(t, seq, "acct-seq")
	want.standingHolds, want.standingStrikes = len(st.GetHolds()), len(st.GetStrikes())
	if st.GetSuspension() == nil || want.actions["suspend"] == 0 {
		t.Fatalf("the sequence = %v, standing %v: want the ladder to reach a suspension", want.actions, st)
	}
	var all []*decisionv1.DecideResponse
	list, err := seq.decisions().ListDecisions(ctxT(t), connect.NewRequest(&decisionv1.ListDecisionsRequest{SubjectId: "acct-seq", PageSize: 100}))
	if err != nil {
		t.Fatal(err)
	}
	all = list.Msg.GetDecisions()
	for _, d := range all {
		for _, e := range d.GetEffects() {
			switch e.GetKind() {
			case "hold":
				want.holds++
			case "strike":
				want.strikes++
			case "suspension":
				want.suspensions++
			}
		}
	}

	// The same, all at once, over two replicas on one PostgreSQL.
	// Fifty decisions for one subject commit one after another: the last
	// waits for the 49 before it, longer than the default ledger, history
	// and policy budgets on a loaded machine. This test is about what is
	// recorded, not how fast.
	env := append(detectorsOff(t), "GAVEL_LEDGER__DRIVER=postgres", "GAVEL_LEDGER__DSN="+dsn, "GAVEL_LEDGER__TIMEOUT=30s",
		"GAVEL_DECISION__SIGNAL_TIMEOUT=30s", "GAVEL_DECISION__POLICY_TIMEOUT=30s")
	a := startGavel(t, env...)
	b := startGavel(t, env...)
	const s = "acct-replicas"
	got := outcome{actions: map[string]int{}}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for i, req := range burst(s, n) {
		g := a
		if i%2 == 1 {
			g = b
		}
		wg.Go(func() {
			resp, err := g.decisions().Decide(ctxT(t), connect.NewRequest(req))
			if err != nil {
				t.Errorf("Decide %d = %v", i, err)
				return
			}
			if resp.Msg.GetFallback() {
				t.Errorf("Decide %d fell back: %v", i, codes(resp.Msg))
			}
			mu.Lock()
			got.actions[actionOf(resp.Msg)]++
			mu.Unlock()
		})
	}
	wg.Wait()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, c := range []struct {
		table string
		dst   *int
	}{{"strikes", &got.strikes}, {"holds", &got.holds}, {"suspensions", &got.suspensions}} {
		if err := db.QueryRowContext(ctxT(t), fmt.Sprintf("SELECT count(*) FROM %s WHERE subject_id = $1", c.table), s).Scan(c.dst); err != nil {
			t.Fatalf("count %s: %v", c.table, err)
		}
	}
	fromA, fromB := standingOf(t, a, s), standingOf(t, b, s)
	got.standingHolds, got.standingStrikes = len(fromA.GetHolds()), len(fromA.GetStrikes())
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(outcome{})); diff != "" {
		t.Errorf("50 concurrent decisions over two replicas left (-one at a time +concurrent):\n%s", diff)
	}
	if got.suspensions != 1 {
		t.Errorf("suspension rows = %d, want exactly 1", got.suspensions)
	}
	if diff := cmp.Diff(fromA, fromB, protocmp.Transform()); diff != "" {
		t.Errorf("standing from replica a and b differ (-a +b):\n%s", diff)
	}
}

func standingOf(t *testing.T, g *gavelProc, subject string) *enforcementv1.Standing {
	t.Helper()
	resp, err := g.enforcement().GetStanding(ctxT(t), connect.NewRequest(&enforcementv1.GetStandingRequest{SubjectId: subject}))
	if err != nil {
		t.Fatalf("GetStanding(%s) = %v", subject, err)
	}
	return resp.Msg.GetStanding()
}

func actionOf(d *decisionv1.DecideResponse) string {
	return strings.ToLower(strings.TrimPrefix(d.GetAction().String(), "ACTION_"))
}
