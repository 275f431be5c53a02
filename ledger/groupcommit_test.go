package ledger

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gavel/gavel/decision"
)

func openGroup(t *testing.T, batch int) *Ledger {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Path = filepath.Join(t.TempDir(), "ledger.db")
	cfg.SQLiteCommitBatch = batch
	l, err := Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func groupRecord(subject string) *decision.Record {
	return &decision.Record{
		DecisionID: uuid.NewString(),
		RequestID:  uuid.NewString(),
		SubjectID:  subject,
		Checkpoint: "payout_method_change",
		DecidedAt:  time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		Input:      map[string]any{"subject": map[string]any{"id": subject}},
		Verdict: decision.Verdict{
			Action:       decision.Restrict,
			Reasons:      []decision.Reason{{Code: "PAYOUT_MISMATCH", Action: decision.Restrict}},
			Restrictions: []decision.Restriction{{Capability: "payouts"}},
			Strike:       true,
		},
	}
}

// holdWriter takes the SQLite ledger's one writer connection until the
// returned function is called, so that commits queue behind it and the
// next transaction takes them together.
func holdWriter(t *testing.T, l *Ledger) func() {
	t.Helper()
	tx, err := l.w.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release := func() { once.Do(func() { tx.Rollback() }) }
	t.Cleanup(release)
	return release
}

// waitPending waits until n commits are with the group committer.
func waitPending(t *testing.T, l *Ledger, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for l.group.w.Pending() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d commits pending after 30s, want %d", l.group.w.Pending(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func versionRows(t *testing.T, l *Ledger, subject string) int {
	t.Helper()
	var n int
	if err := l.r.QueryRowContext(t.Context(), `SELECT count(*) FROM subject_versions WHERE subject_id = ?`, subject).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

type commitResult struct {
	rec      *decision.Record
	replayed bool
	err      error
}

// TestGroupCommitBatch: decisions that queue together commit in fewer
// transactions than decisions; one that fails rolls back alone (nothing of
// it stays, down to its subject's version row), one whose caller gave up
// while it waited is not stored, and every other is stored and answered.
func TestGroupCommitBatch(t *testing.T) {
	t.Parallel()
	l := openGroup(t, 64)
	ctx := t.Context()

	taken := groupRecord("s-taken")
	if _, _, err := l.Commit(ctx, taken, nil); err != nil {
		t.Fatal(err)
	}
	release := holdWriter(t, l)

	const good = 20
	results := make([]commitResult, good+2)
	recs := make([]*decision.Record, good+2)
	var wg sync.WaitGroup
	for i := range good {
		recs[i] = groupRecord(fmt.Sprintf("s-group-%d", i))
		wg.Go(func() {
			r, replayed, err := l.Commit(ctx, recs[i], &decision.Basis{Version: 0})
			results[i] = commitResult{r, replayed, err}
		})
	}
	// A decision id already stored for another request: it fails.
	bad := groupRecord("s-bad")
	bad.DecisionID = taken.DecisionID
	recs[good] = bad
	wg.Go(func() {
		r, replayed, err := l.Commit(ctx, bad, &decision.Basis{Version: 0})
		results[good] = commitResult{r, replayed, err}
	})
	// A caller that gives up while its decision waits.
	gaveUp := groupRecord("s-gave-up")
	recs[good+1] = gaveUp
	gctx, cancel := context.WithCancel(ctx)
	wg.Go(func() {
		r, replayed, err := l.Commit(gctx, gaveUp, &decision.Basis{Version: 0})
		results[good+1] = commitResult{r, replayed, err}
	})
	waitPending(t, l, good+2)
	cancel()
	release()
	wg.Wait()

	for i := range good {
		r := results[i]
		if r.err != nil || r.replayed || r.rec.DecisionID != recs[i].DecisionID {
			t.Errorf("Commit(%s) = %v, replayed %v, %v; want it stored", recs[i].SubjectID, r.rec, r.replayed, r.err)
			continue
		}
		got, err := l.Get(ctx, recs[i].DecisionID)
		if err != nil || got.SubjectID != recs[i].SubjectID {
			t.Errorf("Get(%s) = %v, %v; want the stored decision", recs[i].DecisionID, got, err)
		}
		h, err := l.History(ctx, recs[i].SubjectID, recs[i].DecidedAt.Add(time.Minute))
		if err != nil || h.Strikes != 1 || len(h.Holds) != 1 || h.Version != 1 {
			t.Errorf("History(%s) = %d strikes, %d holds, version %d, %v; want 1, 1, 1",
				recs[i].SubjectID, h.Strikes, len(h.Holds), h.Version, err)
		}
	}
	if r := results[good]; r.err == nil || !strings.Contains(r.err.Error(), "already stored for another request") {
		t.Errorf("Commit(reused decision id) = %v, want the already-stored error", r.err)
	}
	if n := versionRows(t, l, "s-bad"); n != 0 {
		t.Errorf("subject_versions rows of the failed decision's subject = %d, want 0 (rolled back to its savepoint)", n)
	}
	if r := results[good+1]; !errors.Is(r.err, context.Canceled) {
		t.Errorf("Commit(caller gave up) = %v, %v; want context.Canceled", r.rec, r.err)
	}
	if _, err := l.ByRequestID(ctx, gaveUp.RequestID); !errors.Is(err, decision.ErrNotFound) {
		t.Errorf("ByRequestID(gave up) = %v, want ErrNotFound: a caller that gave up while waiting is not stored", err)
	}
	if txs, decisions := l.GroupCommits(); txs >= decisions || decisions < good+1 {
		t.Errorf("GroupCommits() = %d transactions for %d decisions; want fewer transactions than decisions", txs, decisions)
	}
}

// TestGroupCommitGaveUpBeforeCommit: a caller whose context ends after its
// decision was written but before the COMMIT is not told success; a retry
// of its request id gets the one decision stored for it.
func TestGroupCommitGaveUpBeforeCommit(t *testing.T) {
	t.Parallel()
	l := openGroup(t, 64)
	ctx := t.Context()
	rec := groupRecord("s-late")
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A stale basis makes the ledger decide again inside the batch: the
	// caller gives up right then.
	basis := &decision.Basis{Version: 7, Redo: func(context.Context, decision.History) error {
		cancel()
		return nil
	}}
	got, _, err := l.Commit(cctx, rec, basis)
	if err == nil {
		t.Fatalf("Commit(caller gave up before COMMIT) = %v, nil; want an error, not success", got)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Commit(caller gave up before COMMIT) = %v, want context.Canceled", err)
	}
	retry := groupRecord("s-late")
	retry.RequestID = rec.RequestID
	again, replayed, err := l.Commit(ctx, retry, &decision.Basis{Version: 0})
	if err != nil {
		t.Fatalf("retry: Commit = %v", err)
	}
	if stored, err := l.ByRequestID(ctx, rec.RequestID); err == nil {
		// The abandoned decision made it into the ledger: the retry must
		// be answered with it, not decided twice.
		if !replayed || again.DecisionID != stored.DecisionID || stored.DecisionID != rec.DecisionID {
			t.Errorf("retry = %s (replayed %v), stored %s; want the decision stored first, replayed", again.DecisionID, replayed, stored.DecisionID)
		}
	} else {
		t.Errorf("ByRequestID after retry = %v", err)
	}
	if h, err := l.History(ctx, "s-late", rec.DecidedAt.Add(time.Hour)); err != nil || h.Strikes != 1 {
		t.Errorf("History(s-late) = %d strikes, %v; want 1 (never struck twice)", h.Strikes, err)
	}
}

// TestGroupCommitPanic: a panic while storing one decision fails that
// decision alone; the decisions batched with it commit and the ledger
// goes on.
func TestGroupCommitPanic(t *testing.T) {
	t.Parallel()
	l := openGroup(t, 64)
	ctx := t.Context()
	release := holdWriter(t, l)
	var wg sync.WaitGroup
	var panicErr, okErr error
	ok := groupRecord("s-ok")
	wg.Go(func() {
		_, _, panicErr = l.Commit(ctx, groupRecord("s-panic"), &decision.Basis{Version: 3, Redo: func(context.Context, decision.History) error {
			panic("policy exploded")
		}})
	})
	wg.Go(func() { _, _, okErr = l.Commit(ctx, ok, &decision.Basis{Version: 0}) })
	waitPending(t, l, 2)
	release()
	wg.Wait()
	if panicErr == nil || !strings.Contains(panicErr.Error(), "policy exploded") {
		t.Errorf("Commit(panicking redo) = %v, want an error naming the panic", panicErr)
	}
	if okErr != nil {
		t.Errorf("Commit(batched beside a panic) = %v", okErr)
	}
	if n := versionRows(t, l, "s-panic"); n != 0 {
		t.Errorf("subject_versions rows of the panicking decision's subject = %d, want 0", n)
	}
	if _, _, err := l.Commit(ctx, groupRecord("s-after"), nil); err != nil {
		t.Errorf("Commit after a panic = %v", err)
	}
}

// TestGroupCommitClose: Close waits for the batch being written, and a
// commit after Close fails instead of hanging.
func TestGroupCommitClose(t *testing.T) {
	t.Parallel()
	l := openGroup(t, 64)
	if _, _, err := l.Commit(t.Context(), groupRecord("s-before"), nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Commit(t.Context(), groupRecord("s-after"), nil); !errors.Is(err, errClosed) {
		t.Errorf("Commit after Close = %v, want %v", err, errClosed)
	}
}

// TestGroupCommitOff: a batch of 1 commits each decision alone.
func TestGroupCommitOff(t *testing.T) {
	t.Parallel()
	l := openGroup(t, 1)
	if l.group != nil {
		t.Fatal("SQLiteCommitBatch 1: group committer running, want none")
	}
	if _, _, err := l.Commit(t.Context(), groupRecord("s-alone"), nil); err != nil {
		t.Fatal(err)
	}
	if txs, n := l.GroupCommits(); txs != 0 || n != 0 {
		t.Errorf("GroupCommits() = %d, %d; want 0, 0", txs, n)
	}
}
