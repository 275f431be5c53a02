package tests

import (
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

// TestCrashKeepsEveryAnsweredDecision kills gavel with SIGKILL while several
// clients stream decisions to it, restarts it on the same data folder
// (SQLite ledger) and checks that every decision whose reply a client
// received is in the ledger, and that retrying its request id returns the
// same decision, replayed, without a second one.
func TestCrashKeepsEveryAnsweredDecision(t *testing.T) {
	dataDir := t.TempDir()
	g := startGavelIn(t, dataDir)
	client := g.decisions()

	var (
		mu       sync.Mutex
		answered []received
		unsure   []*decisionv1.DecideRequest // sent, no reply: in flight at the kill
		wg       sync.WaitGroup
	)
	emails := []string{"amelia.laurent@gmail.com", "throwaway@mailinator.com", "x7k2q9zv@yopmail.com", "ops+1@example.org"}
	for c := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				req := signup(emails[(i+c)%len(emails)])
				resp, err := client.Decide(ctxT(t), connect.NewRequest(req))
				mu.Lock()
				if err != nil {
					unsure = append(unsure, req)
					mu.Unlock()
					return // gavel is gone
				}
				answered = append(answered, received{req, resp.Msg})
				mu.Unlock()
			}
		}()
	}
	eventually(t, 60*time.Second, "a stream of answered decisions", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(answered) >= 150, fmt.Sprintf("%d answered", len(answered))
	})
	g.stop(syscall.SIGKILL)
	wg.Wait()
	t.Logf("gavel killed after %d answered decisions, %d requests in flight", len(answered), len(unsure))

	g = startGavelIn(t, dataDir)
	client = g.decisions()
	for _, r := range answered {
		id := r.resp.GetDecisionId()
		if _, err := client.GetDecision(ctxT(t), connect.NewRequest(&decisionv1.GetDecisionRequest{DecisionId: id})); err != nil {
			t.Errorf("GetDecision(%s) after the crash error = %v, want the answered decision in the ledger", id, err)
			continue
		}
		again, err := client.Decide(ctxT(t), connect.NewRequest(r.req))
		if err != nil {
			t.Errorf("Decide(retry of %s) after the crash error = %v", r.req.GetRequestId(), err)
			continue
		}
		if again.Msg.GetDecisionId() != id || !again.Msg.GetReplayed() || again.Msg.GetAction() != r.resp.GetAction() {
			t.Errorf("Decide(retry of %s) after the crash = id %s replayed %v action %v, want id %s replayed action %v",
				r.req.GetRequestId(), again.Msg.GetDecisionId(), again.Msg.GetReplayed(), again.Msg.GetAction(), id, r.resp.GetAction())
		}
	}
	// Requests in flight at the kill may or may not have been recorded;
	// retried, each is decided exactly once.
	for _, req := range append(unsure, answered[0].req) {
		if _, err := client.Decide(ctxT(t), connect.NewRequest(req)); err != nil {
			t.Errorf("Decide(retry of in-flight %s) error = %v", req.GetRequestId(), err)
			continue
		}
		list, err := client.ListDecisions(ctxT(t), connect.NewRequest(&decisionv1.ListDecisionsRequest{SubjectId: req.GetSubject().GetId()}))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(list.Msg.GetDecisions()); n != 1 {
			t.Errorf("ListDecisions(%s) = %d decisions, want 1 for its one request", req.GetSubject().GetId(), n)
		}
	}
}
