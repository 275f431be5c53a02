package ledger

import (
	"database/sql"
	"path/filepath"
	"testing"
)

// openSQLite opens an SQLite ledger with synchronous set as given.
func openSQLite(t *testing.T, synchronous string) *Ledger {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Path = filepath.Join(t.TempDir(), "ledger.db")
	cfg.SQLiteSynchronous = synchronous
	l, err := Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// writerPragma opens an SQLite ledger with synchronous set as given and
// reads a pragma on its writer connection, the one that commits decisions.
func writerPragma(t *testing.T, synchronous, pragma string) int {
	t.Helper()
	l := openSQLite(t, synchronous)
	var got int
	if err := l.w.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestSQLiteSynchronous: ledger.sqlite.synchronous reaches SQLite on the
// writer connection (NORMAL = 1, FULL = 2).
func TestSQLiteSynchronous(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		setting string
		want    int
	}{{"", 1}, {"normal", 1}, {"full", 2}} {
		t.Run("setting="+tc.setting, func(t *testing.T) {
			t.Parallel()
			if got := writerPragma(t, tc.setting, "synchronous"); got != tc.want {
				t.Errorf("PRAGMA synchronous with setting %q = %d, want %d", tc.setting, got, tc.want)
			}
		})
	}
	if err := (Config{Driver: SQLite, Path: "x", SQLiteSynchronous: "extra"}).Validate(); err == nil {
		t.Error("Validate(synchronous extra) = nil, want an error")
	}
}

// TestSQLiteWriterTempStore: the writer keeps its statement journal (one
// savepoint per decision in a group commit) in memory, never in a
// temporary file (temp_store MEMORY = 2).
func TestSQLiteWriterTempStore(t *testing.T) {
	t.Parallel()
	if got := writerPragma(t, "", "temp_store"); got != 2 {
		t.Errorf("PRAGMA temp_store on the writer = %d, want 2 (MEMORY)", got)
	}
}

// TestSQLiteCaches: the readers keep a small page cache, which the
// writer's commits clear anyway; the writer keeps SQLite's default.
func TestSQLiteCaches(t *testing.T) {
	t.Parallel()
	l := openSQLite(t, "")
	for _, c := range []struct {
		name string
		db   *sql.DB
		want int
	}{{"reader", l.r, -256}, {"writer", l.w, -2000}} {
		var got int
		if err := c.db.QueryRowContext(t.Context(), "PRAGMA cache_size").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("PRAGMA cache_size on the %s = %d, want %d", c.name, got, c.want)
		}
	}
}

// TestSQLiteWriterAutocheckpoint: with group commit the writer's commits
// never checkpoint (its Writer does, in the background); a ledger that
// commits each decision alone has no such Writer and keeps SQLite's own
// checkpoints (1,000 pages), or its WAL would grow without end.
func TestSQLiteWriterAutocheckpoint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		batch, want int
	}{{0, 0}, {64, 0}, {1, 1000}} {
		cfg := DefaultConfig()
		cfg.Path = filepath.Join(t.TempDir(), "ledger.db")
		cfg.SQLiteCommitBatch = tc.batch
		l, err := Open(t.Context(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got int
		if err := l.w.QueryRowContext(t.Context(), "PRAGMA wal_autocheckpoint").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want || l.GroupCommitted() != (tc.want == 0) {
			t.Errorf("commit_batch %d: wal_autocheckpoint %d, group commit %v; want %d, %v", tc.batch, got, l.GroupCommitted(), tc.want, tc.want == 0)
		}
		l.Close()
	}
}
