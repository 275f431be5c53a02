package ledger_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
	"github.com/gavel/gavel/ledger/ledgertest"
)

func openSQLite(t testing.TB) *ledger.Ledger {
	t.Helper()
	cfg := ledger.DefaultConfig()
	cfg.Driver = ledger.SQLite
	cfg.Path = filepath.Join(t.TempDir(), "data", "ledger.db") // a folder Open must create
	l, err := ledger.Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatalf("Open(sqlite %s) = %v", cfg.Path, err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return l
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	ledgertest.Run(t, openSQLite)
}

func TestSQLiteCorruptFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ledger.db")
	garbage := []byte(strings.Repeat("this is not a SQLite database. ", 200))
	if err := os.WriteFile(path, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := ledger.DefaultConfig()
	cfg.Path = path
	l, err := ledger.Open(t.Context(), cfg, nil)
	if err == nil {
		l.Close()
		t.Fatal("Open(corrupt file) = nil error, want an error")
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("Open(corrupt file) = %q, want it to name %s", err, path)
	}
}

// TestSQLiteTwoHandles has two ledgers (as two gavel processes would) write
// one file at once: busy_timeout and BEGIN IMMEDIATE must keep every commit
// from failing with SQLITE_BUSY.
func TestSQLiteTwoHandles(t *testing.T) {
	t.Parallel()
	cfg := ledger.DefaultConfig()
	cfg.Path = filepath.Join(t.TempDir(), "ledger.db")
	var ls [2]*ledger.Ledger
	for i := range ls {
		l, err := ledger.Open(t.Context(), cfg, nil)
		if err != nil {
			t.Fatalf("Open #%d = %v", i, err)
		}
		t.Cleanup(func() { l.Close() })
		ls[i] = l
	}
	var wg sync.WaitGroup
	for i, l := range ls {
		wg.Go(func() {
			for j := range 25 {
				rec := ledgertest.Record("s-two", "login", ledgertest.T0, decision.Restrict, "R")
				rec.Verdict.Strike = true
				if _, _, err := l.Commit(t.Context(), rec, nil); err != nil {
					t.Errorf("handle %d commit %d: %v", i, j, err)
				}
			}
		})
	}
	wg.Wait()
	h, err := ls[0].History(t.Context(), "s-two", ledgertest.T0)
	if err != nil || h.Strikes != 50 {
		t.Errorf("History = %d strikes, %v; want 50", h.Strikes, err)
	}
}
