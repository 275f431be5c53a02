package journal_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
	"github.com/gavel/gavel/ledger/journal"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func record(i int) *decision.Record {
	return &decision.Record{
		DecisionID: fmt.Sprintf("dec-%04d", i),
		RequestID:  fmt.Sprintf("req-%04d", i),
		SubjectID:  fmt.Sprintf("acct-%d", i%7),
		Checkpoint: "signup",
		DecidedAt:  t0.Add(time.Duration(i) * time.Second),
		Input:      map[string]any{"checkpoint": "signup"},
		Verdict: decision.Verdict{Action: decision.Challenge, Reasons: []decision.Reason{{
			Code: decision.ReasonLedgerUnavailable, Action: decision.Challenge,
		}}},
		Fallback: true,
		Cause:    "ledger away",
	}
}

func open(t testing.TB, dir string) *journal.Journal {
	t.Helper()
	j, err := journal.Open(dir, nil)
	if err != nil {
		t.Fatalf("Open(%s) = %v", dir, err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func sqliteLedger(t testing.TB) *ledger.Ledger {
	t.Helper()
	cfg := ledger.DefaultConfig()
	cfg.Path = filepath.Join(t.TempDir(), "ledger.db")
	l, err := ledger.Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func segments(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "journal-*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAppendIsDurableAndDeduplicated(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := open(t, dir)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, replayed, err := j.Append(record(i)); err != nil || replayed {
				t.Errorf("Append(%d) = replayed %v, %v; want stored", i, replayed, err)
			}
		}()
	}
	wg.Wait()

	again := record(7)
	again.DecisionID = "dec-other"
	got, replayed, err := j.Append(again)
	if err != nil || !replayed || got.DecisionID != "dec-0007" {
		t.Errorf("Append(retried request id) = %v, replayed %v, %v; want dec-0007 replayed", got, replayed, err)
	}
	if n := j.Pending(); n != 50 {
		t.Errorf("Pending() = %d, want 50", n)
	}

	// A second process opening the folder (gavel restarted after a crash)
	// sees every acknowledged record, without closing the first.
	j2 := open(t, dir)
	if n := j2.Pending(); n != 50 {
		t.Errorf("reopened Pending() = %d, want 50", n)
	}
	if rec, ok := j2.ByRequestID("req-0031"); !ok || rec.DecisionID != "dec-0031" || !rec.Fallback {
		t.Errorf("reopened ByRequestID(req-0031) = %v, %v; want dec-0031, fallback", rec, ok)
	}
}

func TestTornLastLineIsDropped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := open(t, dir)
	for i := range 3 {
		if _, _, err := j.Append(record(i)); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	segs := segments(t, dir)
	if len(segs) != 1 {
		t.Fatalf("segments = %v, want one", segs)
	}
	// A crash in the middle of the fourth write.
	f, err := os.OpenFile(segs[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"decision_id":"dec-0003","request_id":"req-00`)
	f.Close()

	j2 := open(t, dir)
	if n := j2.Pending(); n != 3 {
		t.Errorf("Pending() after a torn write = %d, want 3", n)
	}
	if _, ok := j2.ByRequestID("req-0003"); ok {
		t.Errorf("ByRequestID(torn record) found it, want it dropped")
	}
	// Appends after the restart go to a new segment, and the torn line
	// stays harmlessly last in the old one.
	if _, _, err := j2.Append(record(3)); err != nil {
		t.Fatal(err)
	}
	if n := len(segments(t, dir)); n != 2 {
		t.Errorf("segments after restart and append = %d, want 2", n)
	}
	j3 := open(t, dir)
	if n := j3.Pending(); n != 4 {
		t.Errorf("Pending() on the next open = %d, want 4", n)
	}

	// A torn line followed by a newline (the write got that far) is torn too.
	dir2 := t.TempDir()
	os.WriteFile(filepath.Join(dir2, "journal-00000000000000000000.jsonl"), []byte("{\"decision_id\":\"x\"\n"), 0o640)
	if j := open(t, dir2); j.Pending() != 0 {
		t.Errorf("Pending() of a lone torn line = %d, want 0", j.Pending())
	}
}

func TestCorruptMiddleLineIsAnError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "journal-00000000000000000000.jsonl")
	os.WriteFile(path, []byte("garbage\n{\"decision_id\":\"d\",\"request_id\":\"r\"}\n"), 0o640)
	_, err := journal.Open(dir, nil)
	if err == nil {
		t.Fatal("Open(corrupt journal) = nil error, want one naming the file and line")
	}
	for _, want := range []string{path, "line 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open(corrupt journal) = %v, want it to name %q", err, want)
		}
	}
}

func TestDrainIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	l := sqliteLedger(t)
	j := open(t, dir)
	for i := range 10 {
		if _, _, err := j.Append(record(i)); err != nil {
			t.Fatal(err)
		}
	}

	// The ledger takes five records, then goes away again.
	short := &shortLedger{Ledger: l, left: 5}
	if n, err := j.Drain(ctx, short); err == nil || n != 5 {
		t.Fatalf("Drain(ledger lost after 5) = %d, %v; want 5 and an error", n, err)
	}
	if n := j.Pending(); n != 10 {
		t.Errorf("Pending() after a partial drain = %d, want 10 (the segment is kept whole)", n)
	}
	if j.LastError() == nil {
		t.Errorf("LastError() after a failed drain = nil")
	}

	// Appends go on while the segment is sealed.
	if _, _, err := j.Append(record(10)); err != nil {
		t.Fatal(err)
	}

	// A crash now, then a restart: the drain starts over, replaying the
	// five already committed, storing each once.
	j.Close()
	j = open(t, dir)
	n, err := j.Drain(ctx, l)
	if err != nil || n != 11 {
		t.Fatalf("Drain() = %d, %v; want 11", n, err)
	}
	if n := j.Pending(); n != 0 || j.LastError() != nil {
		t.Errorf("after a full drain Pending() = %d, LastError() = %v; want 0, nil", n, j.LastError())
	}
	if segs := segments(t, dir); len(segs) != 0 {
		t.Errorf("segments after a full drain = %v, want none", segs)
	}
	for i := range 11 {
		rec, err := l.ByRequestID(ctx, record(i).RequestID)
		if err != nil || rec.DecisionID != record(i).DecisionID || !rec.Fallback {
			t.Errorf("ledger ByRequestID(%s) = %v, %v; want %s, fallback", record(i).RequestID, rec, err, record(i).DecisionID)
		}
	}
	for s := range 7 {
		recs, _, err := l.List(ctx, fmt.Sprintf("acct-%d", s), 100, "")
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for i := range 11 {
			if i%7 == s {
				want++
			}
		}
		if len(recs) != want {
			t.Errorf("List(acct-%d) = %d decisions, want %d (each stored once)", s, len(recs), want)
		}
	}
	// Fallbacks carry no enforcement: no strike, no hold.
	h, err := l.History(ctx, "acct-0", t0.Add(time.Hour))
	if err != nil || h.Strikes != 0 || len(h.Holds) != 0 || h.Suspended {
		t.Errorf("History(acct-0) = %+v, %v; want no strike, hold or suspension", h, err)
	}

	// Nothing to drain is a no-op.
	if n, err := j.Drain(ctx, l); n != 0 || err != nil {
		t.Errorf("Drain(empty) = %d, %v; want 0, nil", n, err)
	}
}

// shortLedger commits left records, then fails.
type shortLedger struct {
	*ledger.Ledger
	left int
}

func (s *shortLedger) Commit(ctx context.Context, rec *decision.Record, basis *decision.Basis) (*decision.Record, bool, error) {
	if s.left == 0 {
		return nil, false, errors.New("connection reset")
	}
	s.left--
	return s.Ledger.Commit(ctx, rec, basis)
}

// A journaled record whose request id the ledger already holds under another
// decision (stored before the ledger was lost) leaves the ledger's decision
// standing and is drained without error.
func TestDrainKeepsTheLedgersDecision(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l := sqliteLedger(t)
	first := record(1)
	first.DecisionID = "dec-first"
	first.Fallback = false
	first.Verdict = decision.Verdict{Action: decision.Allow}
	if _, _, err := l.Commit(ctx, first, nil); err != nil {
		t.Fatal(err)
	}
	j := open(t, t.TempDir())
	if _, _, err := j.Append(record(1)); err != nil {
		t.Fatal(err)
	}
	if n, err := j.Drain(ctx, l); err != nil || n != 1 {
		t.Fatalf("Drain() = %d, %v; want 1", n, err)
	}
	got, err := l.ByRequestID(ctx, first.RequestID)
	if err != nil || got.DecisionID != "dec-first" {
		t.Errorf("ByRequestID = %v, %v; want dec-first", got, err)
	}
}
