// Package groupcommit commits the writes of many callers to one SQLite
// database in one transaction.
//
// On SQLite the largest cost of a small write transaction is its BEGIN
// IMMEDIATE and COMMIT: the write lock, the WAL index, and the pages the
// transaction changed appended to the WAL. Callers writing at the same
// moment touch the same pages (the same table and index leaves), so one
// writer goroutine runs the writes waiting for it together: one
// transaction, one savepoint per write, one COMMIT.
//
// What each caller is promised is what a transaction of its own gives:
//   - its write runs alone, after every write handed over before it, and
//     sees all of them (and those of other processes on the file, which
//     BEGIN IMMEDIATE serialises as before);
//   - a write that fails (or panics) rolls back to its savepoint and fails
//     alone; the others in the batch go on;
//   - Do returns only after the COMMIT of the transaction holding the
//     write; if that COMMIT fails, every write in it fails;
//   - a caller that gave up (its context ended) while its write was still
//     waiting is dropped from the batch and gets its context's error; one
//     that gives up while its write runs waits for the transaction to end,
//     and if it gave up before the COMMIT it is told so (ErrGaveUp: the
//     write may be stored).
//
// A batch takes only what is already waiting, up to a bound: an idle
// database commits a lone write at once, a busy one amortises each COMMIT
// over everything that queued while the previous one ran.
package groupcommit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// ErrGaveUp marks a write whose caller gave up before the COMMIT.
var ErrGaveUp = errors.New("the caller gave up before the commit")

// ErrClosed is returned by Do after Close.
var ErrClosed = errors.New("group commit closed")

// ErrRollback, returned by a write, rolls its part back and makes Do
// return nil: the write found its work already done and changed nothing.
var ErrRollback = errors.New("groupcommit: roll back this write")

// Write is one caller's part of a transaction. ctx keeps the caller's
// values but not its cancellation: a caller giving up must not interrupt,
// and so roll back, everyone else's writes.
type Write func(ctx context.Context, tx *sql.Tx) error

// job states.
const (
	queued    int32 = iota // waiting for the writer
	taken                  // the writer has it: its caller waits for the end
	abandoned              // its caller gave up before the writer took it
)

type job struct {
	ctx   context.Context
	write Write
	state atomic.Int32
	err   error
	done  chan struct{}
}

// Writer is the one writer goroutine of a database.
type Writer struct {
	db      *sql.DB
	max     int
	onPanic func(p any, stack []byte)
	jobs    chan *job // unbuffered: a job is handed over or not at all
	quit    chan struct{}
	ended   chan struct{} // closed when run returns
	once    sync.Once

	ckpt *checkpointer // nil: SQLite checkpoints in the commits

	batches, writes atomic.Int64
	pending         atomic.Int64 // writes handed over or waiting to be
}

// Options tune a Writer. The zero value is usable.
type Options struct {
	// MaxBatch bounds the writes in one transaction. Default 64.
	MaxBatch int
	// OnPanic, when set, is told of a write that panicked (its caller gets
	// an error either way).
	OnPanic func(p any, stack []byte)
	// Checkpoint, when set, is the path of db's SQLite file: the Writer
	// then checkpoints its WAL in the background, from a connection of its
	// own (checkpoint.go). Every connection of db must have
	// wal_autocheckpoint(0), or its commits checkpoint as before.
	Checkpoint string
	// Log receives checkpoint failures; slog.Default() when nil.
	Log *slog.Logger
}

// New starts the writer of db. BEGIN on db must take the write lock
// (SQLite's _txlock=immediate), as for any writer of its own. With
// Options.Checkpoint the "sqlite" driver must be registered.
func New(db *sql.DB, o Options) *Writer {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 64
	}
	w := &Writer{db: db, max: o.MaxBatch, onPanic: o.OnPanic, jobs: make(chan *job),
		quit: make(chan struct{}), ended: make(chan struct{})}
	if o.Checkpoint != "" {
		w.ckpt = newCheckpointer(o.Checkpoint, o.Log)
	}
	go w.run()
	return w
}

// Do hands write to the writer and returns when its transaction has ended:
// nil once committed, write's error, or why it could not run or commit.
func (w *Writer) Do(ctx context.Context, write Write) error {
	w.pending.Add(1)
	defer w.pending.Add(-1)
	j := &job{ctx: ctx, write: write, done: make(chan struct{})}
	select {
	case w.jobs <- j:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.ended:
		return ErrClosed
	}
	select {
	case <-j.done:
	case <-ctx.Done():
		if j.state.CompareAndSwap(queued, abandoned) {
			return ctx.Err()
		}
		<-j.done // running: what write touches is the writer's until its transaction ends
	}
	return j.err
}

// Pending is how many writes are handed over or waiting to be.
func (w *Writer) Pending() int64 { return w.pending.Load() }

// Stats returns how many transactions committed and how many writes they
// held.
func (w *Writer) Stats() (batches, writes int64) { return w.batches.Load(), w.writes.Load() }

// Close stops the writer once the batch it is writing has ended. Do
// returns ErrClosed afterwards.
func (w *Writer) Close() {
	w.once.Do(func() {
		close(w.quit)
		<-w.ended
		if w.ckpt != nil {
			w.ckpt.close()
		}
	})
	<-w.ended
}

func (w *Writer) run() {
	defer close(w.ended)
	batch := make([]*job, 0, w.max)
	for {
		select {
		case j := <-w.jobs:
			batch = append(batch[:0], j)
		case <-w.quit:
			return
		}
	more:
		for len(batch) < w.max {
			select {
			case j := <-w.jobs:
				batch = append(batch, j)
			default:
				break more
			}
		}
		w.commit(batch)
		clear(batch)
		if w.ckpt != nil {
			w.ckpt.catchUpNow(w.db)
		}
	}
}

// run1 runs one job's write, a panic failing that write alone, as it would
// fail one caller had its own goroutine been writing.
func (w *Writer) run1(tx *sql.Tx, j *job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if w.onPanic != nil {
				w.onPanic(p, debug.Stack())
			}
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return j.write(context.WithoutCancel(j.ctx), tx)
}

// commit runs the batch's writes in one transaction and answers each.
func (w *Writer) commit(batch []*job) {
	live := make([]*job, 0, len(batch))
	for _, j := range batch {
		if j.state.CompareAndSwap(queued, taken) {
			live = append(live, j)
		}
	}
	if len(live) == 0 {
		return
	}
	defer func() {
		for _, j := range live {
			close(j.done)
		}
	}()
	fail := func(err error) {
		for _, j := range live {
			j.err = err
		}
	}
	ctx := context.Background()
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		fail(fmt.Errorf("begin: %w", err))
		return
	}
	defer tx.Rollback()
	// A lone write needs no savepoint: its failure rolls back the whole
	// transaction, which holds nothing else.
	alone := len(live) == 1
	for _, j := range live {
		if err := j.ctx.Err(); err != nil {
			j.err = err
			if alone {
				return
			}
			continue
		}
		if !alone {
			if _, err := tx.ExecContext(ctx, "SAVEPOINT groupcommit"); err != nil {
				fail(fmt.Errorf("savepoint: %w", err))
				return
			}
		}
		j.err = w.run1(tx, j)
		if alone {
			break
		}
		if j.err != nil {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO groupcommit"); err != nil {
				// The error took the whole transaction with it.
				fail(fmt.Errorf("roll back to savepoint: %w (after %w)", err, j.err))
				return
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE groupcommit"); err != nil {
			fail(fmt.Errorf("release savepoint: %w", err))
			return
		}
	}
	if alone && live[0].err != nil {
		if live[0].err == ErrRollback {
			live[0].err = nil
		}
		return // the deferred Rollback undoes it
	}
	for _, j := range live {
		if j.err == ErrRollback {
			j.err = nil
		} else if j.err == nil && j.ctx.Err() != nil {
			j.err = fmt.Errorf("%w: %w", ErrGaveUp, j.ctx.Err())
		}
	}
	if err := tx.Commit(); err != nil {
		fail(fmt.Errorf("commit: %w", err))
		return
	}
	w.batches.Add(1)
	w.writes.Add(int64(len(live)))
	if w.ckpt != nil {
		w.ckpt.committed()
	}
}
