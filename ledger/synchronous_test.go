package ledger

import (
	"path/filepath"
	"testing"
)

// TestSQLiteSynchronous: ledger.sqlite.synchronous reaches SQLite on the
// writer connection, the one that commits decisions (NORMAL = 1, FULL = 2).
func TestSQLiteSynchronous(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		setting string
		want    int
	}{{"", 1}, {"normal", 1}, {"full", 2}} {
		t.Run("setting="+tc.setting, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			cfg.Path = filepath.Join(t.TempDir(), "ledger.db")
			cfg.SQLiteSynchronous = tc.setting
			l, err := Open(t.Context(), cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			var got int
			if err := l.w.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
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
	cfg := DefaultConfig()
	cfg.Path = filepath.Join(t.TempDir(), "ledger.db")
	l, err := Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var got int
	if err := l.w.QueryRowContext(t.Context(), "PRAGMA temp_store").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != 2 {
		t.Errorf("PRAGMA temp_store on the writer = %d, want 2 (MEMORY)", got)
	}
}
