package ledger_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
	"github.com/gavel/gavel/ledger/ledgertest"
)

// TestVersionBackfill: History skips the queries of a subject whose
// standing version is 0, so a ledger written before subjects had versions
// (no row), or with a row left at 0, must come out of migration 0023 with
// every such subject's history whole: its decision, hold and strike.
func TestVersionBackfill(t *testing.T) {
	t.Parallel()
	for name, setup := range rebuiltBackends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg, driver, dsn := setup(t)
			l := mustOpen(t, cfg)
			for _, subject := range []string{"acct-no-row", "acct-zero"} {
				rec := ledgertest.Record(subject, "withdrawal", ledgertest.T0, decision.Restrict, "PAYOUT_MISMATCH")
				rec.Verdict.Strike = true
				rec.Verdict.Restrictions = []decision.Restriction{{Capability: "payouts", Duration: 30 * 24 * time.Hour}}
				if _, _, err := l.Commit(t.Context(), rec, nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}

			// The ledger as an older gavel left it.
			rewind(t, driver, dsn,
				"DELETE FROM subject_versions WHERE subject_id = 'acct-no-row'",
				"UPDATE subject_versions SET version = 0 WHERE subject_id = 'acct-zero'",
				"DELETE FROM schema_migrations WHERE version = 23",
			)

			l = mustOpen(t, cfg)
			defer l.Close()
			for _, subject := range []string{"acct-no-row", "acct-zero"} {
				h, err := l.History(t.Context(), subject, ledgertest.T0.Add(time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				if h.Version == 0 || len(h.Recent) != 1 || h.Strikes != 1 || len(h.Holds) != 1 {
					t.Errorf("History(%s) after migration = version %d, %d recent, %d strikes, %d holds; want version > 0 and 1 of each",
						subject, h.Version, len(h.Recent), h.Strikes, len(h.Holds))
				}
			}
			// A subject nothing was committed for has an empty history.
			h, err := l.History(t.Context(), "acct-new", ledgertest.T0.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if h.Version != 0 || len(h.Recent) != 0 || h.Strikes != 0 || len(h.Holds) != 0 || h.Suspended {
				t.Errorf("History(acct-new) = %+v, want empty", h)
			}
		})
	}
}

// TestChangedAtBackfill: a decision dated before the latest change of its
// subject's standing is made again at commit (changed_at, migration 0024),
// so the subjects of a ledger written before that column must get their
// latest decision's time from the migration.
func TestChangedAtBackfill(t *testing.T) {
	t.Parallel()
	for name, setup := range rebuiltBackends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg, driver, dsn := setup(t)
			l := mustOpen(t, cfg)
			const subject = "acct-old"
			now := time.Now()
			rec := ledgertest.Record(subject, "withdrawal", now.Add(-time.Minute), decision.Restrict, "PAYOUT_MISMATCH")
			rec.Verdict.Strike = true
			if _, _, err := l.Commit(t.Context(), rec, nil); err != nil {
				t.Fatal(err)
			}
			l.Close()

			// The ledger as a gavel before migration 0024 left it.
			rewind(t, driver, dsn,
				"ALTER TABLE subject_versions DROP COLUMN changed_at",
				"DELETE FROM schema_migrations WHERE version = 24",
			)

			l = mustOpen(t, cfg)
			defer l.Close()
			// A decision dated before the stored one, on the version that
			// counts it: its history as of its own time has no strike.
			earlier := ledgertest.Record(subject, "withdrawal", now.Add(-2*time.Minute), decision.Restrict, "PAYOUT_MISMATCH")
			h, err := l.History(t.Context(), subject, earlier.DecidedAt)
			if err != nil {
				t.Fatal(err)
			}
			var redone *decision.History
			basis := &decision.Basis{Version: h.Version, Redo: func(_ context.Context, h decision.History) error {
				redone = &h
				return nil
			}}
			if _, _, err := l.Commit(t.Context(), earlier, basis); err != nil {
				t.Fatal(err)
			}
			if redone == nil || redone.Strikes != 1 {
				t.Errorf("a decision dated before the migrated subject's last one was made again on %+v; want it made again on its one strike", redone)
			}
		})
	}
}

// rebuiltBackends are the backends of the tests that rebuild a ledger as an
// older gavel left it: each gives a configuration, and the database/sql
// driver and source to reach the same database directly.
func rebuiltBackends() map[string]func(t *testing.T) (ledger.Config, string, string) {
	backends := map[string]func(t *testing.T) (ledger.Config, string, string){
		"sqlite": func(t *testing.T) (ledger.Config, string, string) {
			cfg := ledger.DefaultConfig()
			cfg.Path = filepath.Join(t.TempDir(), "ledger.db")
			return cfg, "sqlite", cfg.Path
		},
	}
	if os.Getenv(postgresEnv) != "" {
		backends["postgres"] = func(t *testing.T) (ledger.Config, string, string) {
			cfg := ledger.DefaultConfig()
			cfg.Driver, cfg.DSN = ledger.Postgres, postgresSchema(t)
			return cfg, "pgx", cfg.DSN
		}
	}
	return backends
}

// mustOpen opens the ledger cfg configures, migrating it.
func mustOpen(t *testing.T, cfg ledger.Config) *ledger.Ledger {
	t.Helper()
	l, err := ledger.Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// rewind runs statements on the ledger's database directly, to leave it as
// an older gavel did.
func rewind(t *testing.T, driver, dsn string, statements ...string) {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range statements {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestRecordJSONMigration: migration 0025 turns PostgreSQL's stored records
// from jsonb into json; a ledger written before it reads back the same
// decisions after it, and takes new ones.
func TestRecordJSONMigration(t *testing.T) {
	t.Parallel()
	setup, ok := rebuiltBackends()["postgres"]
	if !ok {
		t.Skipf("%s not set: the migration is PostgreSQL's", postgresEnv)
	}
	cfg, driver, dsn := setup(t)
	l := mustOpen(t, cfg)
	rec := ledgertest.Record("acct-jsonb", "withdrawal", ledgertest.T0, decision.Restrict, "PAYOUT_MISMATCH")
	rec.Input["padding"] = "quotes \" and <html> & unicode \u00e9\u2028"
	stored, _, err := l.Commit(t.Context(), rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()

	// The ledger as a gavel before migration 0025 left it.
	rewind(t, driver, dsn,
		"ALTER TABLE decisions ALTER COLUMN record TYPE jsonb USING record::jsonb",
		"DELETE FROM schema_migrations WHERE version = 25",
	)

	l = mustOpen(t, cfg)
	defer l.Close()
	got, err := l.Get(t.Context(), stored.DecisionID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(stored, got, cmpopts.IgnoreFields(decision.Record{}, "Effects")); diff != "" {
		t.Errorf("a record stored as jsonb, read after the migration (-stored +read):\n%s", diff)
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var typ string
	if err := db.QueryRowContext(t.Context(), `SELECT data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'decisions' AND column_name = 'record'`).Scan(&typ); err != nil {
		t.Fatal(err)
	}
	if typ != "json" {
		t.Errorf("decisions.record is %s after the migration, want json", typ)
	}
	next := ledgertest.Record("acct-jsonb", "withdrawal", ledgertest.T0.Add(time.Minute), decision.Allow, "")
	if _, _, err := l.Commit(t.Context(), next, nil); err != nil {
		t.Fatalf("a commit after the migration: %v", err)
	}
}
