package groupcommit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

func openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "w.db")+"?_txlock=immediate&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE t (v TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return db
}

func insert(v string) Write {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO t (v) VALUES (?)`, v)
		return err
	}
}

func rows(t *testing.T, db *sql.DB) map[string]bool {
	t.Helper()
	rs, err := db.Query(`SELECT v FROM t`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	out := map[string]bool{}
	for rs.Next() {
		var v string
		if err := rs.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out[v] = true
	}
	return out
}

// TestBatch holds the writer in a first write while five more queue, so
// they share one transaction: the failing one, the panicking one and the
// one that rolls itself back leave nothing; the others commit.
func TestBatch(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	w := New(db, Options{})
	t.Cleanup(w.Close)
	started, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- w.Do(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
			close(started)
			<-release
			return insert("first")(ctx, tx)
		})
	}()
	<-started
	writes := map[string]Write{
		"ok-1": insert("ok-1"),
		"ok-2": insert("ok-2"),
		"fails": func(ctx context.Context, tx *sql.Tx) error {
			if err := insert("fails")(ctx, tx); err != nil {
				return err
			}
			return errors.New("changed its mind")
		},
		"panics": func(ctx context.Context, tx *sql.Tx) error {
			if err := insert("panics")(ctx, tx); err != nil {
				return err
			}
			panic("boom")
		},
		"rolls-back": func(ctx context.Context, tx *sql.Tx) error {
			if err := insert("rolls-back")(ctx, tx); err != nil {
				return err
			}
			return ErrRollback
		},
	}
	var mu sync.Mutex
	got := map[string]error{}
	var wg sync.WaitGroup
	for name, write := range writes {
		wg.Go(func() {
			err := w.Do(t.Context(), write)
			mu.Lock()
			got[name] = err
			mu.Unlock()
		})
	}
	for deadline := time.Now().Add(30 * time.Second); w.Pending() < int64(len(writes))+1; {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes pending after 30s, want %d", w.Pending(), len(writes)+1)
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatalf("first write: %v", err)
	}
	for name, err := range got {
		wantErr := name == "fails" || name == "panics"
		if (err != nil) != wantErr {
			t.Errorf("Do(%s) = %v, want error %v", name, err, wantErr)
		}
	}
	want := map[string]bool{"first": true, "ok-1": true, "ok-2": true}
	if have := rows(t, db); fmt.Sprint(have) != fmt.Sprint(want) {
		t.Errorf("stored %v, want %v", have, want)
	}
	if batches, n := w.Stats(); batches != 2 || n != 6 {
		t.Errorf("Stats() = %d transactions, %d writes; want 2 and 6 (the first alone, then the five together)", batches, n)
	}
}

// TestAlone: a lone write that fails or rolls back leaves nothing and
// needs no savepoint; a caller whose context has ended is not run.
func TestAlone(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	w := New(db, Options{})
	if err := w.Do(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
		if err := insert("fails")(ctx, tx); err != nil {
			t.Errorf("insert fails: %v", err)
		}
		return errors.New("no")
	}); err == nil {
		t.Error("Do(failing write) = nil, want its error")
	}
	if err := w.Do(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
		if err := insert("rolls-back")(ctx, tx); err != nil {
			t.Errorf("insert rolls-back: %v", err)
		}
		return ErrRollback
	}); err != nil {
		t.Errorf("Do(write rolling back) = %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := w.Do(ctx, insert("gave-up")); !errors.Is(err, context.Canceled) {
		t.Errorf("Do(ended context) = %v, want context.Canceled", err)
	}
	if err := w.Do(t.Context(), insert("ok")); err != nil {
		t.Fatal(err)
	}
	if have := rows(t, db); len(have) != 1 || !have["ok"] {
		t.Errorf("stored %v, want only ok", have)
	}
	w.Close()
	if err := w.Do(t.Context(), insert("late")); !errors.Is(err, ErrClosed) {
		t.Errorf("Do after Close = %v, want ErrClosed", err)
	}
}
