package ledger

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/gavel/gavel/internal/pgtest"
)

// TestSubjectVersionLockAcrossReplicas: two ledgers on one database, as two
// replicas. While one holds a subject's version row in a transaction, the
// other's lock waits for it, and then reads the version that transaction
// committed, never the one before it.
func TestSubjectVersionLockAcrossReplicas(t *testing.T) {
	t.Parallel()
	for name, config := range configs() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := config(t)
			open := func() *Ledger {
				l, err := Open(t.Context(), cfg, nil)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { l.Close() })
				return l
			}
			a, b := open(), open()
			const subject = "s-replicas"
			at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
			for _, l := range []*Ledger{a, b} { // the row exists, or is made, either way
				tx, err := l.w.BeginTx(t.Context(), nil)
				if err != nil {
					t.Fatal(err)
				}
				if v, _, err := l.lockSubjectAsOf(t.Context(), tx, subject, at); err != nil || v != 0 {
					t.Fatalf("a new subject locked: version %d, %v; want 0", v, err)
				}
				tx.Rollback()
			}

			txA, err := a.w.BeginTx(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer txA.Rollback()
			if v, _, err := a.lockSubjectAsOf(t.Context(), txA, subject, at); err != nil || v != 0 {
				t.Fatalf("replica a locked: version %d, %v; want 0", v, err)
			}
			type locked struct {
				version int64
				changed bool
				err     error
			}
			got := make(chan locked, 1)
			go func() {
				tx, err := b.w.BeginTx(t.Context(), nil)
				if err != nil {
					got <- locked{err: err}
					return
				}
				defer tx.Rollback()
				v, changed, err := b.lockSubjectAsOf(t.Context(), tx, subject, at)
				got <- locked{v, changed, err}
			}()
			select {
			case r := <-got:
				t.Fatalf("replica b locked the subject while a held it: version %d, %v", r.version, r.err)
			case <-time.After(200 * time.Millisecond):
			}
			if err := a.bumpSubject(t.Context(), txA, subject, at.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			if err := txA.Commit(); err != nil {
				t.Fatal(err)
			}
			r := <-got
			if r.err != nil || r.version != 1 || !r.changed {
				t.Errorf("replica b after a committed: version %d, changed after its time %v, %v; want 1, true", r.version, r.changed, r.err)
			}
		})
	}
}

// configs are the configurations of a ledger of its own on each backend,
// for this package's tests (PostgreSQL's skips without a server).
func configs() map[string]func(t *testing.T) Config {
	return map[string]func(t *testing.T) Config{
		"sqlite": func(t *testing.T) Config {
			cfg := DefaultConfig()
			cfg.Path = filepath.Join(t.TempDir(), "ledger.db")
			return cfg
		},
		"postgres": func(t *testing.T) Config {
			cfg := DefaultConfig()
			cfg.Driver, cfg.DSN, cfg.MaxConns = Postgres, pgtest.Schema(t, "gavel_test"), 2
			return cfg
		},
	}
}
