package ledger_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
	"github.com/gavel/gavel/ledger/ledgertest"
)

// The SQLite ledger's commits do not checkpoint the WAL; its group commit
// does, in the background, and the WAL stays short: 2,000 decisions from
// 16 callers append about 20,000 WAL pages, and the WAL starts over once it
// is 4,000 long (about 5,000 at most here; the bound leaves room for a
// restart that a reader held off). Every decision is stored.
func TestSQLiteCheckpointsInTheBackground(t *testing.T) {
	cfg := ledger.DefaultConfig()
	cfg.Path = filepath.Join(t.TempDir(), "ledger.db")
	l, err := ledger.Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const n, callers = 2000, 16
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for c := range callers {
		wg.Go(func() {
			for i := c; i < n; i += callers {
				rec := ledgertest.Record(fmt.Sprintf("ckpt-%d", i), "withdrawal", ledgertest.T0.Add(time.Duration(i)*time.Millisecond),
					decision.Restrict, "PAYOUT_ACCOUNT_SHARED")
				ids[i] = rec.DecisionID
				if _, _, err := l.Commit(t.Context(), rec, &decision.Basis{Version: 0}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	background, catchUps, failures := l.Checkpoints()
	fi, err := os.Stat(cfg.Path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	pages := fi.Size() / 4096
	t.Logf("%d decisions: %d background checkpoints, %d writer catch-ups, %d failed; WAL at most %d pages", n, background, catchUps, failures, pages)
	if background == 0 || failures != 0 {
		t.Errorf("%d background checkpoints, %d failed; want some, none failed", background, failures)
	}
	if pages > 12000 {
		t.Errorf("the WAL grew to %d pages; want at most 12,000", pages)
	}
	for _, id := range ids {
		if _, err := l.Get(t.Context(), id); err != nil {
			t.Fatalf("Get(%s) = %v", id, err)
		}
	}
}
