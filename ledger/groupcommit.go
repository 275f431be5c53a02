package ledger

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger/groupcommit"
)

// Group commit on SQLite. A commit's largest cost there is the COMMIT
// itself: SQLite appends every page the transaction changed to the WAL (the
// decisions table and its indexes, reason_hits, subject_versions, …), and
// with synchronous=full syncs it. Decisions made at the same moment touch
// the same pages, so one writer goroutine commits the decisions waiting for
// it together (groupcommit: one transaction, one savepoint per decision,
// one COMMIT, every reply after it).
//
// Each decision is stored by the same code (store) as a commit alone, under
// the same subject lock, taken by Commit before it queues: the subject's
// decisions still commit one at a time, and a decision made on an older
// standing is made again on the standing in the transaction, which includes
// the decisions before it in the batch. A caller that gave up while its
// decision was being written is told it did not commit; the decision may be
// stored, and a retry of its request id returns it, as after a reply lost on
// the network.

// groupCommitter is the one writer of an SQLite ledger's decisions.
type groupCommitter struct {
	l *Ledger
	w *groupcommit.Writer
}

func newGroupCommitter(l *Ledger, size int) *groupCommitter {
	return &groupCommitter{l: l, w: groupcommit.New(l.w, groupcommit.Options{
		MaxBatch:   size,
		Checkpoint: l.cfg.Path,
		Log:        l.log,
		OnPanic: func(p any, stack []byte) {
			l.log.Error("panic storing a decision", "panic", p, "stack", string(stack))
		},
	})}
}

// errClosed is returned for commits after Close.
var errClosed = groupcommit.ErrClosed

// commit hands one decision to the writer and waits for its transaction.
func (g *groupCommitter) commit(ctx context.Context, rec *decision.Record, basis *decision.Basis, enc *encoded) (stored, error) {
	var out stored
	err := g.w.Do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		s, err := g.l.store(ctx, tx, rec, basis, enc)
		if err != nil {
			return err
		}
		out = s
		if s.replayed {
			return groupcommit.ErrRollback // it wrote nothing; its savepoint goes
		}
		return nil
	})
	if err != nil {
		return stored{}, fmt.Errorf("commit decision %s: %w", rec.DecisionID, err)
	}
	return out, nil
}

// close stops the writer once the batch it is writing has ended.
func (g *groupCommitter) close() { g.w.Close() }
