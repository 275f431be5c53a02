package tests

import (
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, to create the test database

	adminv1 "github.com/gavel/gavel/proto/gavel/admin/v1"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

// pgCluster is a throwaway PostgreSQL cluster of one test, started with
// tests/pg/start.sh on its own port, so the test may stop and start it
// without touching the cluster other tests share.
type pgCluster struct {
	dir, port, bindir string
}

func startPGCluster(t testing.TB) *pgCluster {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		t.Skip("PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)")
	}
	slices.Sort(bins)
	// Under /tmp, not t.TempDir: as root the cluster runs as the postgres
	// user, who must reach its folder.
	parent, err := os.MkdirTemp("", "gavel-outage-pg-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(parent, 0o755)
	c := &pgCluster{dir: filepath.Join(parent, "data"), port: freePort(t), bindir: filepath.Dir(bins[len(bins)-1])}
	t.Cleanup(func() {
		c.ctl(t, "stop", "-m", "immediate")
		os.RemoveAll(parent)
		os.Remove(parent + "/data.initdb.log")
	})
	c.start(t)
	return c
}

func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

func (c *pgCluster) start(t testing.TB) {
	t.Helper()
	out, err := exec.Command("bash", filepath.Join("pg", "start.sh"), c.dir, c.port).CombinedOutput()
	if err != nil {
		t.Fatalf("tests/pg/start.sh %s %s: %v\n%s", c.dir, c.port, err, out)
	}
}

// ctl runs pg_ctl on the cluster as the user that owns it.
func (c *pgCluster) ctl(t testing.TB, args ...string) {
	t.Helper()
	argv := append([]string{filepath.Join(c.bindir, "pg_ctl"), "-D", c.dir, "-w"}, args...)
	if os.Getuid() == 0 {
		argv = append([]string{"runuser", "-u", "postgres", "--"}, argv...)
	}
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil && args[0] != "stop" {
		t.Fatalf("pg_ctl %v: %v\n%s", args, err, out)
	}
}

// createDatabase creates a fresh database on the cluster and returns its DSN,
// with a password that the trust-authenticated test cluster never asks for:
// it must never show in gavel's output.
func (c *pgCluster) createDatabase(t testing.TB, name, password string) string {
	t.Helper()
	admin, err := sql.Open("pgx", fmt.Sprintf("postgres://postgres@127.0.0.1:%s/postgres?sslmode=disable", c.port))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctxT(t), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	return fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%s/%s?sslmode=disable", password, c.port, name)
}

// received is a decision whose reply reached the client.
type received struct {
	req  *decisionv1.DecideRequest
	resp *decisionv1.DecideResponse
}

// TestLedgerOutageMidRun stops gavel's PostgreSQL mid-stream: decisions keep
// answering with the failure action and LEDGER_UNAVAILABLE, journaled; when
// PostgreSQL is back the journal drains and every decision a client received
// is in the ledger.
func TestLedgerOutageMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: runs gavel and a PostgreSQL cluster")
	}
	const password = "outage-pw-7f3a9c"
	pg := startPGCluster(t)
	dsn := pg.createDatabase(t, "gavel_outage", password)
	g := startGavel(t, "GAVEL_LEDGER__DRIVER=postgres", "GAVEL_LEDGER__DSN="+dsn, "GAVEL_DECISION__FAILURE_ACTION=challenge")
	client := g.decisions()

	var (
		mu       sync.Mutex
		got      []received
		rpcErrs  []error
		stopping = make(chan struct{})
		wg       sync.WaitGroup
	)
	count := func(pred func(received) bool) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, r := range got {
			if pred(r) {
				n++
			}
		}
		return n
	}
	for c := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stopping:
					return
				default:
				}
				email := "amelia.laurent@gmail.com"
				if (i+c)%3 == 0 {
					email = "throwaway@mailinator.com"
				}
				req := signup(email)
				resp, err := client.Decide(ctxT(t), connect.NewRequest(req))
				mu.Lock()
				if err != nil {
					rpcErrs = append(rpcErrs, err)
				} else {
					got = append(got, received{req, resp.Msg})
				}
				mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	stopStream := sync.OnceFunc(func() { close(stopping); wg.Wait() })
	t.Cleanup(stopStream)

	eventually(t, 30*time.Second, "decisions recorded in PostgreSQL", func() (bool, string) {
		n := count(func(r received) bool { return !r.resp.GetFallback() })
		return n >= 20, fmt.Sprintf("%d decisions", n)
	})
	mu.Lock()
	before := len(got)
	mu.Unlock()
	pg.ctl(t, "stop", "-m", "fast")

	isLedgerFallback := func(r received) bool {
		return r.resp.GetFallback() && slices.Contains(codes(r.resp), "LEDGER_UNAVAILABLE")
	}
	var whileDown []received
	eventually(t, 30*time.Second, "fallback decisions while PostgreSQL is down", func() (bool, string) {
		mu.Lock()
		whileDown = slices.Clone(got[before:])
		mu.Unlock()
		n := 0
		for _, r := range whileDown {
			if isLedgerFallback(r) {
				n++
			}
		}
		return n >= 30, fmt.Sprintf("%d fallback decisions", n)
	})

	// While it is down: a journaled request retried gets the same decision.
	var journaled received
	for _, r := range whileDown {
		if isLedgerFallback(r) {
			journaled = r
			break
		}
	}
	again, err := client.Decide(ctxT(t), connect.NewRequest(journaled.req))
	if err != nil {
		t.Fatalf("Decide(retry of a journaled request) error = %v", err)
	}
	if again.Msg.GetDecisionId() != journaled.resp.GetDecisionId() || !again.Msg.GetReplayed() {
		t.Errorf("Decide(retry of journaled %s) = id %s replayed %v, want id %s replayed",
			journaled.req.GetRequestId(), again.Msg.GetDecisionId(), again.Msg.GetReplayed(), journaled.resp.GetDecisionId())
	}
	for _, r := range whileDown {
		if isLedgerFallback(r) && r.resp.GetAction() != decisionv1.Action_ACTION_CHALLENGE {
			t.Errorf("fallback decision %s action = %v, want the failure action CHALLENGE", r.resp.GetDecisionId(), r.resp.GetAction())
		}
	}

	st, err := g.admin().GetStatus(ctxT(t), connect.NewRequest(&adminv1.GetStatusRequest{}))
	if err != nil {
		t.Fatalf("GetStatus while the ledger is down error = %v", err)
	}
	if st.Msg.GetLedgerOk() || st.Msg.GetLedgerError() == "" || st.Msg.GetJournalPending() < 30 {
		t.Errorf("GetStatus while the ledger is down = ledger_ok %v, ledger_error %q, journal_pending %d; want false, a reason, at least 30",
			st.Msg.GetLedgerOk(), st.Msg.GetLedgerError(), st.Msg.GetJournalPending())
	}
	// /metrics still answers, without the series read from the ledger.
	down := scrapeMetrics(t, g.addr+"/metrics", "")
	if got := sumSeries(down, "gavel_journal_pending", nil); got < 30 {
		t.Errorf("gavel_journal_pending while the ledger is down = %v, want at least 30", got)
	}
	// A scrape counts its failure after it gathered: the next one shows it.
	if got := sumSeries(scrapeMetrics(t, g.addr+"/metrics", ""), "promhttp_metric_handler_errors_total", map[string]string{"cause": "gathering"}); got < 1 {
		t.Errorf("promhttp_metric_handler_errors_total{cause=gathering} while the ledger is down = %v, want the outbox's failed read counted", got)
	}
	if strings.Contains(st.Msg.GetLedgerError(), password) {
		t.Errorf("GetStatus ledger_error = %q, shows the DSN's password", st.Msg.GetLedgerError())
	}

	pg.start(t)
	eventually(t, 60*time.Second, "decisions recorded again after PostgreSQL is back", func() (bool, string) {
		mu.Lock()
		tail := got[len(got)-min(len(got), 5):]
		mu.Unlock()
		for _, r := range tail {
			if r.resp.GetFallback() {
				return false, "latest decisions still fall back"
			}
		}
		return true, ""
	})
	stopStream()
	eventually(t, 60*time.Second, "the journal drained", func() (bool, string) {
		st, err := g.admin().GetStatus(ctxT(t), connect.NewRequest(&adminv1.GetStatusRequest{}))
		if err != nil {
			return false, err.Error()
		}
		return st.Msg.GetLedgerOk() && st.Msg.GetJournalPending() == 0,
			fmt.Sprintf("ledger_ok %v pending %d error %q", st.Msg.GetLedgerOk(), st.Msg.GetJournalPending(), st.Msg.GetLedgerError())
	})
	if got := sumSeries(scrapeMetrics(t, g.addr+"/metrics", ""), "gavel_journal_pending", nil); got != 0 {
		t.Errorf("gavel_journal_pending once the journal drained = %v, want 0", got)
	}

	if len(rpcErrs) > 0 {
		t.Errorf("Decide returned %d RPC errors, want none (first: %v)", len(rpcErrs), rpcErrs[0])
	}
	fallbacks := count(isLedgerFallback)
	t.Logf("%d decisions received, %d of them LEDGER_UNAVAILABLE fallbacks", len(got), fallbacks)
	for _, r := range got {
		id := r.resp.GetDecisionId()
		rec, err := client.GetDecision(ctxT(t), connect.NewRequest(&decisionv1.GetDecisionRequest{DecisionId: id}))
		if err != nil {
			t.Errorf("GetDecision(%s) (request %s, fallback %v) error = %v, want it in the ledger", id, r.req.GetRequestId(), r.resp.GetFallback(), err)
			continue
		}
		if rec.Msg.GetDecision().GetAction() != r.resp.GetAction() || rec.Msg.GetDecision().GetFallback() != r.resp.GetFallback() {
			t.Errorf("GetDecision(%s) = %v fallback %v, want %v fallback %v as replied", id,
				rec.Msg.GetDecision().GetAction(), rec.Msg.GetDecision().GetFallback(), r.resp.GetAction(), r.resp.GetFallback())
		}
	}
	// A journaled decision retried after the drain is the ledger's replay.
	again, err = client.Decide(ctxT(t), connect.NewRequest(journaled.req))
	if err != nil || again.Msg.GetDecisionId() != journaled.resp.GetDecisionId() || !again.Msg.GetReplayed() {
		t.Errorf("Decide(retry of %s after the drain) = %v, %v; want decision %s replayed", journaled.req.GetRequestId(), again.Msg, err, journaled.resp.GetDecisionId())
	}
	if logs := g.Logs(); strings.Contains(logs, password) {
		t.Errorf("gavel's log shows the DSN's password")
	}
}
