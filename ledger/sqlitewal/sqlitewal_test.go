package sqlitewal_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/gavel/gavel/ledger/sqlitewal"
)

// TestCheckpointsBesideTheWriter: with the writer's own checkpoints off,
// what it commits stays in the WAL until the Checkpointer, on a connection
// of its own, copies it into the database file.
func TestCheckpointsBesideTheWriter(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "wal.db")
	w, err := sql.Open("sqlite", path+"?_journal_mode=WAL&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.SetMaxOpenConns(1)
	if _, err := w.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)`); err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("x", 1000)
	for i := range 2000 {
		if _, err := w.Exec(`INSERT INTO t (id, body) VALUES (?, ?)`, i, body); err != nil {
			t.Fatal(err)
		}
	}
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if s := size(); s > 100<<10 {
		t.Fatalf("fixture: the database file is %d bytes before any checkpoint, want the rows still in the WAL", s)
	}

	cdb, err := sql.Open("sqlite", path+"?_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	c := sqlitewal.Start(cdb, nil, 5*time.Millisecond, func(err error) { t.Error(err) })
	deadline := time.Now().Add(30 * time.Second)
	for size() < 2000*1000 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s := size(); s < 2000*1000 {
		t.Errorf("the database file is %d bytes after %d checkpoints, want the 2 MB of rows copied into it", s, c.Runs())
	}
	// The writer goes on writing beside it.
	if _, err := w.Exec(`INSERT INTO t (id, body) VALUES (?, ?)`, 2000, body); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if c.Runs() == 0 {
		t.Error("Runs() = 0 after the file was checkpointed")
	}
	if err := cdb.Ping(); err == nil {
		t.Error("Stop left the checkpointer's database open")
	}
}
