package tests

import (
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"

	adminv1 "github.com/gavel/gavel/proto/gavel/admin/v1"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

// TestRetryThroughOutage: a request decided before the ledger became
// unreachable, retried while it is down, gets the decision the caller
// already holds, never a second one; and a fallback made by a replica that
// did not know the request resolves, once the journal drains, to the
// ledger's decision.
func TestRetryThroughOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: runs gavel and a PostgreSQL cluster")
	}
	pg := startPGCluster(t)
	dsn := pg.createDatabase(t, "gavel_retry", "retry-pw-19c2")
	env := append(detectorsOff(t), "GAVEL_LEDGER__DRIVER=postgres", "GAVEL_LEDGER__DSN="+dsn, "GAVEL_DECISION__FAILURE_ACTION=challenge")
	a := startGavel(t, env...)
	b := startGavel(t, env...)

	req := at("acct-retry", "payout_method_change", fraudScore(0.95))
	first := decideOK(t, a.decisions(), req)
	other := at("acct-retry-b", "payout_method_change", fraudScore(0.95))
	otherFirst := decideOK(t, a.decisions(), other)

	pg.ctl(t, "stop", "-m", "fast")

	// The replica that decided it answers the retry with that decision.
	again, err := a.decisions().Decide(ctxT(t), connect.NewRequest(req))
	if err != nil {
		t.Fatalf("Decide(retry while the ledger is down) = %v", err)
	}
	if again.Msg.GetDecisionId() != first.GetDecisionId() || !again.Msg.GetReplayed() || again.Msg.GetFallback() || again.Msg.GetAction() != first.GetAction() {
		t.Errorf("Decide(retry while down) = %s %v replayed %v fallback %v, want %s %v replayed",
			again.Msg.GetDecisionId(), again.Msg.GetAction(), again.Msg.GetReplayed(), again.Msg.GetFallback(), first.GetDecisionId(), first.GetAction())
	}

	// The other replica cannot know: it answers with the failure action,
	// marked as a fallback, journaled.
	fb, err := b.decisions().Decide(ctxT(t), connect.NewRequest(other))
	if err != nil {
		t.Fatalf("Decide(retry on the other replica while down) = %v", err)
	}
	if !fb.Msg.GetFallback() || fb.Msg.GetDecisionId() == otherFirst.GetDecisionId() {
		t.Fatalf("Decide(retry on the other replica while down) = %s fallback %v, want a marked fallback", fb.Msg.GetDecisionId(), fb.Msg.GetFallback())
	}

	pg.start(t)
	eventually(t, 60*time.Second, "replica b's journal drained", func() (bool, string) {
		st, err := b.admin().GetStatus(ctxT(t), connect.NewRequest(&adminv1.GetStatusRequest{}))
		if err != nil {
			return false, err.Error()
		}
		return st.Msg.GetLedgerOk() && st.Msg.GetJournalPending() == 0, fmt.Sprintf("ledger_ok %v pending %d", st.Msg.GetLedgerOk(), st.Msg.GetJournalPending())
	})
	// Every id ever returned stays resolvable: the superseded fallback
	// resolves to the ledger's decision for the same request.
	got, err := b.decisions().GetDecision(ctxT(t), connect.NewRequest(&decisionv1.GetDecisionRequest{DecisionId: fb.Msg.GetDecisionId()}))
	if err != nil {
		t.Fatalf("GetDecision(superseded fallback) = %v", err)
	}
	if d := got.Msg.GetDecision(); d.GetDecisionId() != otherFirst.GetDecisionId() || d.GetSupersededId() != fb.Msg.GetDecisionId() {
		t.Errorf("GetDecision(superseded fallback) = %s superseded %q, want %s superseded %s",
			d.GetDecisionId(), d.GetSupersededId(), otherFirst.GetDecisionId(), fb.Msg.GetDecisionId())
	}
	// And the retry now gets the ledger's decision.
	again, err = b.decisions().Decide(ctxT(t), connect.NewRequest(other))
	if err != nil || again.Msg.GetDecisionId() != otherFirst.GetDecisionId() || !again.Msg.GetReplayed() {
		t.Errorf("Decide(retry after the drain) = %v, %v; want %s replayed", again.Msg, err, otherFirst.GetDecisionId())
	}
}
