package tests

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

// processes returns the cluster's postmaster and its children.
func (c *pgCluster) processes(t testing.TB) []int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	var master int
	fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "%d", &master)
	pids := []int{master}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid, ppid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) > 1 {
			fmt.Sscanf(fields[1], "%d", &ppid)
		}
		if ppid == master {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestLedgerHangs freezes gavel's PostgreSQL with SIGSTOP, so connections
// stay open and nothing answers (a hung database, not a refusing one):
// decisions still answer within ledger.timeout with the failure action and
// LEDGER_UNAVAILABLE, journaled; once the database thaws, the journal
// drains and the decision is in the ledger.
func TestLedgerHangs(t *testing.T) {
	pg := startPGCluster(t)
	dsn := pg.createDatabase(t, "gavel_hang", "hang-secret-7")
	g := startGavel(t, "GAVEL_LEDGER__DRIVER=postgres", "GAVEL_LEDGER__DSN="+dsn,
		"GAVEL_LEDGER__TIMEOUT=1s", "GAVEL_DECISION__FAILURE_ACTION=challenge")
	client := g.decisions()
	if resp, err := client.Decide(ctxT(t), connect.NewRequest(signup("before.hang@example.org"))); err != nil || resp.Msg.GetFallback() {
		t.Fatalf("Decide before the hang = %v, %v; want a recorded decision", resp, err)
	}

	pids := pg.processes(t)
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGSTOP)
	}
	thawed := false
	thaw := func() {
		if !thawed {
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGCONT)
			}
			thawed = true
		}
	}
	t.Cleanup(thaw)

	// The caller's deadline is far beyond ledger.timeout: the answer must
	// come from gavel's own bound, not from the caller giving up.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hung, err := client.Decide(ctx, connect.NewRequest(signup("during.hang@example.org")))
	if err != nil {
		t.Fatalf("Decide while PostgreSQL hangs error = %v, want the failure action", err)
	}
	if !hung.Msg.GetFallback() || !slices.Contains(codes(hung.Msg), "LEDGER_UNAVAILABLE") || hung.Msg.GetAction() != decisionv1.Action_ACTION_CHALLENGE {
		t.Fatalf("Decide while PostgreSQL hangs = %v fallback %v %v, want CHALLENGE, fallback, LEDGER_UNAVAILABLE",
			hung.Msg.GetAction(), hung.Msg.GetFallback(), codes(hung.Msg))
	}

	thaw()
	eventually(t, 90*time.Second, "the journaled decision in the ledger after the thaw", func() (bool, string) {
		got, err := client.GetDecision(ctxT(t), connect.NewRequest(&decisionv1.GetDecisionRequest{DecisionId: hung.Msg.GetDecisionId()}))
		if err != nil {
			return false, err.Error()
		}
		return got.Msg.GetDecision().GetFallback(), "stored without the fallback mark"
	})
}
