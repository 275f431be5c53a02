package groupcommit

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// tableStore opens a store in a new file with one table, t, and returns it
// with the file's path; it is closed at the test's end (Close twice is
// harmless).
func tableStore(t *testing.T) (*sql.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.db")
	db, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE t (v TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return db, path
}

// walPages is the length of the WAL file at path, in pages.
func walPages(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size() / 4096
}

// writeMany commits n writes of a page-sized row each through w, from
// callers at once, so that most transactions hold several.
func writeMany(t *testing.T, w *Writer, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	row := strings.Repeat("x", 3000)
	for c := range 8 {
		wg.Go(func() {
			for i := c; i < n; i += 8 {
				if err := w.Do(context.Background(), insert(fmt.Sprintf("%06d%s", i, row))); err != nil {
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
}

// A store's commits do not checkpoint; its Writer does, in the background,
// and starts the WAL over once it is restartPages long: 4,000 writes of
// about a page each (some 22,000 WAL pages for the rows and the index) leave
// a WAL about 5,000 pages long. Every write is in the database once it is
// closed.
func TestCheckpointsKeepTheWALShort(t *testing.T) {
	db, path := tableStore(t)
	w := New(db, Options{Checkpoint: path})
	const n = 4000
	writeMany(t, w, n)
	w.Close()
	background, catchUps, failures := w.Checkpoints()
	pages := walPages(t, path)
	txs, _ := w.Stats()
	t.Logf("%d writes in %d transactions; %d background checkpoints, %d caught up by the writer; WAL %d pages", n, txs, background, catchUps, pages)
	if failures != 0 {
		t.Errorf("%d checkpoints failed", failures)
	}
	if background == 0 {
		t.Error("no background checkpoint copied anything")
	}
	if pages > 2*restartPages {
		t.Errorf("the WAL grew to %d pages; want at most %d", pages, 2*restartPages)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	check, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	var got int
	if err := check.QueryRow(`SELECT count(*) FROM t`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Errorf("%d rows stored, want %d", got, n)
	}
}

// Without the Writer's checkpoints the same writes grow the WAL without
// end, which is what the test above would see if they stopped running.
func TestWithoutCheckpointsTheWALGrows(t *testing.T) {
	db, path := tableStore(t)
	w := New(db, Options{})
	writeMany(t, w, 4000)
	w.Close()
	if pages := walPages(t, path); pages <= 2*restartPages {
		t.Errorf("the WAL holds %d pages without checkpoints; the test above would not tell", pages)
	}
}

// The writer reads the WAL's length from the WAL index's header as SQLite
// lays it out: what it reads agrees with what SQLite's own checkpoint
// reports, before and after the checkpoint copies the WAL; a file that is
// not a WAL index reads as unknown.
func TestWALIndexHeader(t *testing.T) {
	db, path := tableStore(t)
	for i := range 50 {
		if _, err := db.Exec(`INSERT INTO t (v) VALUES (?)`, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path + "-shm")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	wal, copied, ok := walIndex(f)
	if !ok || wal < 50 || copied != 0 {
		t.Fatalf("before a checkpoint: WAL %d pages, %d copied, ok %v; want at least 50 (one commit each), none copied", wal, copied, ok)
	}
	log, done, err := checkpoint(db, "PASSIVE")
	if err != nil {
		t.Fatal(err)
	}
	if log != wal || done != wal {
		t.Fatalf("checkpoint reports %d pages, %d copied; the index read %d", log, done, wal)
	}
	if wal, copied, ok = walIndex(f); !ok || copied != wal || wal != log {
		t.Errorf("after the checkpoint: WAL %d pages, %d copied, ok %v; want %d and %d", wal, copied, ok, log, log)
	}
	if _, _, ok := walIndex(nil); ok {
		t.Error("no index read as one")
	}
	other, err := os.Open(path) // the database file: not a WAL index
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, _, ok := walIndex(other); ok {
		t.Error("the database file read as a WAL index")
	}
}
