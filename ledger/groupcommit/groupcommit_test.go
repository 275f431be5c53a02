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

// held starts a write that keeps the writer busy until release is closed,
// then queues writes behind it and waits until all of them are waiting, so
// that the writer takes them as one batch when it is released.
func held(t *testing.T, w *Writer, queue ...string) (release chan struct{}, results chan error) {
	t.Helper()
	started := make(chan struct{})
	release = make(chan struct{})
	results = make(chan error, len(queue)+1)
	go func() {
		results <- w.Do(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
			close(started)
			<-release
			return insert("first")(ctx, tx)
		})
	}()
	<-started
	for _, v := range queue {
		go func() { results <- w.Do(t.Context(), insert(v)) }()
	}
	for deadline := time.Now().Add(30 * time.Second); w.Pending() < int64(len(queue))+1; {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes pending after 30s, want %d", w.Pending(), len(queue)+1)
		}
		time.Sleep(time.Millisecond)
	}
	return release, results
}

func awaitLinger(t *testing.T, waiting <-chan struct{}) {
	t.Helper()
	select {
	case <-waiting:
	case <-time.After(30 * time.Second):
		t.Fatal("the batch of a and b did not wait for more writes")
	}
}

// TestDelay: a batch of more than one write waits for the writes that
// arrive during the delay, and commits as soon as it is full. The delay is
// an hour, so the test passes only if the full batch does not wait for it.
func TestDelay(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	w := New(db, Options{MaxBatch: 4, Delay: time.Hour})
	t.Cleanup(w.Close)
	waiting := make(chan struct{}, 1)
	w.lingering = func() { waiting <- struct{}{} }
	release, results := held(t, w, "a", "b")
	close(release)
	awaitLinger(t, waiting) // a and b wait for more
	for _, v := range []string{"c", "d"} {
		go func() { results <- w.Do(t.Context(), insert(v)) }()
	}
	for range 5 {
		if err := <-results; err != nil {
			t.Fatalf("Do: %v", err)
		}
	}
	if batches, n := w.Stats(); batches != 2 || n != 5 {
		t.Errorf("Stats() = %d transactions, %d writes; want 2 and 5 (the first alone, then a and b with c and d, which came during the delay)", batches, n)
	}
	if have := rows(t, db); len(have) != 5 {
		t.Errorf("stored %v, want first, a, b, c and d", have)
	}
}

// TestDelayLoneWrite: a lone write commits at once, whatever the delay.
func TestDelayLoneWrite(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	w := New(db, Options{Delay: time.Hour})
	t.Cleanup(w.Close)
	w.lingering = func() { t.Error("a lone write waited for others") }
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := w.Do(ctx, insert("alone")); err != nil {
		t.Fatalf("Do(lone write) = %v, want nil", err)
	}
}

// TestDelayClose: Close ends a batch's wait; the batch commits.
func TestDelayClose(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	w := New(db, Options{Delay: time.Hour})
	waiting := make(chan struct{}, 1)
	w.lingering = func() { waiting <- struct{}{} }
	release, results := held(t, w, "a", "b")
	close(release)
	awaitLinger(t, waiting)
	w.Close()
	for range 3 {
		if err := <-results; err != nil {
			t.Errorf("Do: %v, want the batch committed on Close", err)
		}
	}
	if have := rows(t, db); len(have) != 3 {
		t.Errorf("stored %v, want first, a and b", have)
	}
}
