package ledger

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/internal/pgtest"
)

// TestReasonCodeIndex: migration 0022 gives reason_hits its (code,
// decided_at, decision_id) index on both backends (descending on
// PostgreSQL; on SQLite ascending since migration 0027), and on SQLite the
// search by reason code walks it instead of every hit by time. Migration
// 0026 drops the (code) index that is its prefix.
func TestReasonCodeIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.Path = filepath.Join(t.TempDir(), "ledger.db")
	l, err := Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var n int
	if err := l.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'reason_hits_code_time'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("sqlite: index reason_hits_code_time = %d, %v; want it", n, err)
	}
	if err := l.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'reason_hits_code'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("sqlite: index reason_hits_code = %d, %v; want it dropped", n, err)
	}
	// SearchDecisions' query with a reason code.
	q, args, err := l.searchQuery(SearchFilter{ReasonCode: "DOCUMENT_REUSED"}, "", 50, "")
	if err != nil {
		t.Fatal(err)
	}
	if p := explain(t, l, q, args...); !strings.Contains(p, "reason_hits_code_time") || strings.Contains(p, "TEMP B-TREE") {
		t.Errorf("sqlite plan of a search by reason = %q, want it to walk reason_hits_code_time in order", p)
	}

	if os.Getenv(pgtest.Env) == "" {
		t.Log("PostgreSQL not configured: checked SQLite only")
		return
	}
	pc := DefaultConfig()
	pc.Driver, pc.DSN = Postgres, pgtest.Schema(t, "gavel_reason_index")
	pl, err := Open(ctx, pc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	var def string
	if err := pl.r.QueryRowContext(ctx, `SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'reason_hits_code_time'`).Scan(&def); err != nil ||
		!strings.Contains(def, "(code, decided_at DESC, decision_id DESC)") {
		t.Errorf("postgres: index reason_hits_code_time = %q, %v; want (code, decided_at DESC, decision_id DESC)", def, err)
	}
	if err := pl.r.QueryRowContext(ctx, `SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'reason_hits_code'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("postgres: index reason_hits_code = %d, %v; want it dropped", n, err)
	}
}

// TestReasonHitsEveryCode: every reason code of a decision is stored once
// (a code given by several reasons too), for any count of codes, on both
// backends.
func TestReasonHitsEveryCode(t *testing.T) {
	t.Parallel()
	for name, config := range configs() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l, err := Open(t.Context(), config(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			for _, n := range []int{0, 1, 3, 11} {
				rec := groupRecord(fmt.Sprintf("s-codes-%d", n))
				rec.Verdict.Reasons = nil
				want := map[string]bool{}
				for i := range n {
					code := fmt.Sprintf("CODE_%d", i)
					want[code] = true
					// Each code twice: stored once.
					rec.Verdict.Reasons = append(rec.Verdict.Reasons, decision.Reason{Code: code, Action: decision.Restrict},
						decision.Reason{Code: code, Action: decision.Warn})
				}
				if _, _, err := l.Commit(t.Context(), rec, nil); err != nil {
					t.Fatalf("%d codes: %v", n, err)
				}
				rows, err := l.r.QueryContext(t.Context(), l.d.rebind(`SELECT code FROM reason_hits WHERE decision_id = ?`), rec.DecisionID)
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]bool{}
				count := 0
				for rows.Next() {
					var c string
					if err := rows.Scan(&c); err != nil {
						t.Fatal(err)
					}
					got[c] = true
					count++
				}
				if err := rows.Close(); err != nil {
					t.Fatal(err)
				}
				if count != n || len(got) != n {
					t.Errorf("%d codes: %d hits stored (%d distinct), want %d", n, count, len(got), n)
				}
				for c := range want {
					if !got[c] {
						t.Errorf("%d codes: %s not stored", n, c)
					}
				}
			}
		})
	}
}
