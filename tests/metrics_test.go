package tests

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"
	dto "github.com/prometheus/client_model/go"
	_ "modernc.org/sqlite"

	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

// TestDecisionSecondsCountsTheCommit: gavel_decision_seconds is the time to
// decide and record. Another writer holds the ledger's write lock while a
// decision waits to commit; the decision's observed time includes the
// wait, which the record's own latency (taken before the commit) does not.
func TestDecisionSecondsCountsTheCommit(t *testing.T) {
	g := startGavel(t)
	client := g.decisions()
	if _, err := client.Decide(ctxT(t), connect.NewRequest(signup("warm@example.com"))); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(g.dataDir, "ledger.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctxT(t), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	locked := true
	defer func() {
		if locked {
			conn.ExecContext(ctxT(t), "ROLLBACK")
		}
	}()
	before := scrapeMetrics(t, g.addr+"/metrics", "")
	type answer struct {
		resp *connect.Response[decisionv1.DecideResponse]
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		resp, err := client.Decide(ctxT(t), connect.NewRequest(signup("held@example.com")))
		done <- answer{resp, err}
	}()
	// Hold the lock for this long once the decision waits for it.
	const hold = 300 * time.Millisecond
	for deadline := time.Now().Add(30 * time.Second); sumSeries(scrapeMetrics(t, g.addr+"/metrics", ""), "gavel_ledger_commits_waiting", nil) < 1; {
		if time.Now().After(deadline) {
			t.Fatal("no decision waited to commit within 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(hold)
	if _, err := conn.ExecContext(ctxT(t), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	locked = false
	a := <-done
	if a.err != nil {
		t.Fatalf("Decide with the ledger held %v: %v", hold, a.err)
	}
	if a.resp.Msg.GetFallback() {
		t.Fatalf("Decide fell back (%v); want it committed after the wait", a.resp.Msg.GetReasons())
	}
	after := scrapeMetrics(t, g.addr+"/metrics", "")
	took := histogramSum(after, "gavel_decision_seconds") - histogramSum(before, "gavel_decision_seconds")
	if took < hold.Seconds() {
		t.Errorf("gavel_decision_seconds grew by %.3fs for a decision that waited %v to commit; want at least the wait", took, hold)
	}
}

// histogramSum is the sum of the observations of every series of name.
func histogramSum(fams map[string]*dto.MetricFamily, name string) float64 {
	var total float64
	for _, m := range fams[name].GetMetric() {
		total += m.GetHistogram().GetSampleSum()
	}
	return total
}
