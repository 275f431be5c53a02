package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/gavel/gavel/decision"
)

// Group commit on SQLite. A commit's largest cost there is the COMMIT
// itself: SQLite appends every page the transaction changed to the WAL (the
// decisions table and its indexes, reason_hits, subject_versions, …), and
// with synchronous=full syncs it. Decisions made at the same moment touch
// the same pages, so one writer goroutine commits the decisions waiting for
// it together: one transaction, one savepoint per decision, one COMMIT.
//
// What each decision's caller is promised does not change:
//   - its decision is stored by the same code (store) as a commit alone,
//     under the same subject lock, taken by Commit before it queues, so
//     the subject's decisions still commit one at a time and a decision
//     made on an older standing is made again on the standing in the
//     transaction, which includes the decisions before it in the batch;
//   - a decision that fails rolls back to its savepoint and fails alone;
//     the others in the batch go on;
//   - the reply comes only after the COMMIT of the transaction holding the
//     decision returned; if that COMMIT fails, every decision in it fails;
//   - a caller that gave up (its context ended) while its decision was
//     still waiting is dropped from the batch and gets its context's
//     error; one that gives up while its decision is being written waits
//     for the transaction to end and, if it gave up before the COMMIT, is
//     told it did not commit (the decision may be stored: a retry of its
//     request id returns it, as after a reply lost on the network).
//
// The batch takes only what is already waiting, up to a bound: an idle
// ledger commits a lone decision at once, a busy one amortises each COMMIT
// over everything that queued while the previous one ran.

// job states.
const (
	jobQueued    int32 = iota // waiting for the writer
	jobTaken                  // the writer has it: its caller waits for the end
	jobAbandoned              // its caller gave up before the writer took it
)

// errGaveUp marks a decision whose caller gave up before the COMMIT.
var errGaveUp = errors.New("the caller gave up before the commit")

type commitJob struct {
	ctx   context.Context
	rec   *decision.Record
	basis *decision.Basis
	state atomic.Int32
	out   stored
	err   error
	done  chan struct{}
}

// groupCommitter is the one writer of an SQLite ledger's decisions.
type groupCommitter struct {
	l     *Ledger
	max   int
	jobs  chan *commitJob // unbuffered: a job is handed over or not at all
	quit  chan struct{}
	ended chan struct{} // closed when run returns
	once  sync.Once

	batches, decisions atomic.Int64
	pending            atomic.Int64 // commits handed over or waiting to be
}

func newGroupCommitter(l *Ledger, size int) *groupCommitter {
	g := &groupCommitter{l: l, max: size, jobs: make(chan *commitJob), quit: make(chan struct{}), ended: make(chan struct{})}
	go g.run()
	return g
}

// errClosed is returned for commits after Close.
var errClosed = errors.New("ledger closed")

// commit hands one decision to the writer and waits for its transaction.
func (g *groupCommitter) commit(ctx context.Context, rec *decision.Record, basis *decision.Basis) (stored, error) {
	g.pending.Add(1)
	defer g.pending.Add(-1)
	j := &commitJob{ctx: ctx, rec: rec, basis: basis, done: make(chan struct{})}
	select {
	case g.jobs <- j:
	case <-ctx.Done():
		return stored{}, fmt.Errorf("commit decision %s: %w", rec.DecisionID, ctx.Err())
	case <-g.ended:
		return stored{}, fmt.Errorf("commit decision %s: %w", rec.DecisionID, errClosed)
	}
	select {
	case <-j.done:
	case <-ctx.Done():
		if j.state.CompareAndSwap(jobQueued, jobAbandoned) {
			return stored{}, fmt.Errorf("commit decision %s: %w", rec.DecisionID, ctx.Err())
		}
		<-j.done // being written: the record is the writer's until its transaction ends
	}
	return j.out, j.err
}

// close stops the writer once the batch it is writing has ended.
func (g *groupCommitter) close() {
	g.once.Do(func() { close(g.quit) })
	<-g.ended
}

func (g *groupCommitter) run() {
	defer close(g.ended)
	batch := make([]*commitJob, 0, g.max)
	for {
		select {
		case j := <-g.jobs:
			batch = append(batch[:0], j)
		case <-g.quit:
			return
		}
	more:
		for len(batch) < g.max {
			select {
			case j := <-g.jobs:
				batch = append(batch, j)
			default:
				break more
			}
		}
		g.write(batch)
		clear(batch)
	}
}

// store stores one job's decision in the writer's transaction; a panic
// fails that decision alone, as it would fail one request had the caller's
// own goroutine been writing.
func (g *groupCommitter) store(tx *sql.Tx, j *commitJob) (s stored, err error) {
	defer func() {
		if p := recover(); p != nil {
			g.l.log.Error("panic storing a decision", "decision_id", j.rec.DecisionID, "panic", p, "stack", string(debug.Stack()))
			s, err = stored{}, fmt.Errorf("commit decision %s: panic: %v", j.rec.DecisionID, p)
		}
	}()
	return g.l.store(context.WithoutCancel(j.ctx), tx, j.rec, j.basis)
}

// write commits the batch's decisions in one transaction and answers each.
func (g *groupCommitter) write(batch []*commitJob) {
	live := make([]*commitJob, 0, len(batch))
	for _, j := range batch {
		if j.state.CompareAndSwap(jobQueued, jobTaken) {
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
			j.out, j.err = stored{}, fmt.Errorf("commit decision %s: %w", j.rec.DecisionID, err)
		}
	}
	// The transaction is the writer's, not any caller's: a caller giving up
	// must not interrupt (and so roll back) everyone else's decisions.
	ctx := context.Background()
	tx, err := g.l.w.BeginTx(ctx, nil)
	if err != nil {
		fail(fmt.Errorf("begin: %w", err))
		return
	}
	defer tx.Rollback()
	for _, j := range live {
		if err := j.ctx.Err(); err != nil {
			j.err = fmt.Errorf("commit decision %s: %w", j.rec.DecisionID, err)
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT decision"); err != nil {
			fail(fmt.Errorf("savepoint: %w", err))
			return
		}
		j.out, j.err = g.store(tx, j)
		if j.err != nil || j.out.replayed {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO decision"); err != nil {
				// The error took the whole transaction with it.
				fail(fmt.Errorf("roll back to savepoint: %w (after %w)", err, j.err))
				return
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE decision"); err != nil {
			fail(fmt.Errorf("release savepoint: %w", err))
			return
		}
	}
	for _, j := range live {
		if j.err == nil && j.ctx.Err() != nil {
			j.out, j.err = stored{}, fmt.Errorf("commit decision %s: %w: %w", j.rec.DecisionID, errGaveUp, j.ctx.Err())
		}
	}
	if err := tx.Commit(); err != nil {
		fail(err)
		return
	}
	g.batches.Add(1)
	g.decisions.Add(int64(len(live)))
}
