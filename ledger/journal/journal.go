// Package journal keeps the decisions gavel made while its ledger could not
// be read or written, durably, until they are replayed into the ledger.
//
// The journal is a folder of append-only segment files, one JSON record a
// line. Append writes a line and fsyncs the file before it returns, so a
// decision whose reply left gavel survives a crash of the process or of the
// machine. A crash in the middle of a write leaves a torn last line, which was
// never acknowledged and is dropped when the journal is opened. Drain seals
// the segment being written, commits every sealed segment's records to the
// ledger (a request id the ledger already holds is a replay, stored once) and
// deletes each segment once all of its records are in.
package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gavel/gavel/decision"
)

var _ decision.Journal = (*Journal)(nil)

// Committer is where a drain puts the journaled decisions: the ledger.
type Committer interface {
	Commit(ctx context.Context, rec *decision.Record, basis *decision.Basis) (stored *decision.Record, replayed bool, err error)
	// Supersede makes the id of a journaled decision resolve to the
	// ledger's decision for the same request id.
	Supersede(ctx context.Context, fallbackID, requestID, byDecisionID string, at time.Time) error
}

const (
	segmentPrefix = "journal-"
	segmentSuffix = ".jsonl"
)

// Journal is the decision journal in one folder. It is safe for concurrent
// use; one process at a time may open a folder.
type Journal struct {
	dir string
	log *slog.Logger

	// drainMu makes drains take turns.
	drainMu sync.Mutex

	mu      sync.Mutex
	active  *os.File // nil until the first append after open or a seal
	seq     int      // number of the active (or next) segment
	index   map[string]entry
	sealed  []int // numbers of sealed segments with records, oldest first
	lastErr error // the last drain's error, nil after a complete drain
	closed  bool
}

type entry struct {
	rec *decision.Record
	seg int
}

// Open opens (creating if needed) the journal in dir and loads the records
// not yet drained. A torn last line of a segment is dropped; any other line
// that does not decode is an error naming the file and line.
func Open(dir string, log *slog.Logger) (*Journal, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("open journal %q: %w", dir, err)
	}
	j := &Journal{dir: dir, log: log, index: map[string]entry{}}
	segs, err := j.segments()
	if err != nil {
		return nil, fmt.Errorf("open journal %q: %w", dir, err)
	}
	for _, n := range segs {
		recs, err := readSegment(j.path(n))
		if err != nil {
			return nil, fmt.Errorf("open journal %q: %w", dir, err)
		}
		if len(recs) == 0 {
			if err := os.Remove(j.path(n)); err != nil {
				return nil, fmt.Errorf("open journal %q: %w", dir, err)
			}
			continue
		}
		for _, r := range recs {
			if _, dup := j.index[r.RequestID]; !dup {
				j.index[r.RequestID] = entry{rec: r, seg: n}
			}
		}
		j.sealed = append(j.sealed, n)
	}
	if len(segs) > 0 {
		j.seq = segs[len(segs)-1] + 1
	}
	if n := len(j.index); n > 0 {
		log.Warn("journal holds decisions not yet in the ledger", "journal", dir, "pending", n)
	}
	return j, nil
}

// Dir is the journal's folder.
func (j *Journal) Dir() string { return j.dir }

func (j *Journal) path(n int) string {
	return filepath.Join(j.dir, fmt.Sprintf("%s%020d%s", segmentPrefix, n, segmentSuffix))
}

// segments returns the numbers of the segment files in the folder, in order.
func (j *Journal) segments() ([]int, error) {
	ents, err := os.ReadDir(j.dir)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasPrefix(name, segmentPrefix) || !strings.HasSuffix(name, segmentSuffix) {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, segmentPrefix), segmentSuffix))
		if err != nil || n < 0 {
			continue
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// readSegment decodes a segment's records. Only the last line may be torn
// (a write cut short by a crash, never acknowledged): it is dropped.
func readSegment(path string) ([]*decision.Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var recs []*decision.Record
	line := 0
	for len(b) > 0 {
		line++
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			// No newline: the last write did not finish.
			return recs, nil
		}
		text := b[:i]
		b = b[i+1:]
		var rec decision.Record
		if err := json.Unmarshal(text, &rec); err != nil || rec.RequestID == "" || rec.DecisionID == "" {
			if len(bytes.TrimSpace(b)) == 0 {
				return recs, nil // torn last line
			}
			if err == nil {
				err = errors.New("no request or decision id")
			}
			return nil, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		recs = append(recs, &rec)
	}
	return recs, nil
}

// Append implements decision.Journal: it writes rec as one line of the
// active segment and fsyncs it before returning.
func (j *Journal) Append(rec *decision.Record) (*decision.Record, bool, error) {
	if rec == nil || rec.RequestID == "" || rec.DecisionID == "" {
		return nil, false, errors.New("journal: record needs a request id and a decision id")
	}
	st := *rec
	st.Replayed = false
	line, err := json.Marshal(&st)
	if err != nil {
		return nil, false, fmt.Errorf("journal decision %s: encode: %w", rec.DecisionID, err)
	}
	line = append(line, '\n')

	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil, false, fmt.Errorf("journal decision %s: journal %q is closed", rec.DecisionID, j.dir)
	}
	if prev, ok := j.index[rec.RequestID]; ok {
		return prev.rec, true, nil
	}
	if j.active == nil {
		if err := j.create(); err != nil {
			return nil, false, fmt.Errorf("journal decision %s: %w", rec.DecisionID, err)
		}
	}
	if _, err := j.active.Write(line); err != nil {
		j.abandon()
		return nil, false, fmt.Errorf("journal decision %s: write %s: %w", rec.DecisionID, j.active.Name(), err)
	}
	if err := j.active.Sync(); err != nil {
		j.abandon()
		return nil, false, fmt.Errorf("journal decision %s: sync %s: %w", rec.DecisionID, j.active.Name(), err)
	}
	j.index[rec.RequestID] = entry{rec: &st, seg: j.seq}
	return &st, false, nil
}

// create opens a new active segment and makes its name durable.
func (j *Journal) create() error {
	f, err := os.OpenFile(j.path(j.seq), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	if err := syncDir(j.dir); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	j.active = f
	return nil
}

// abandon gives up on the active segment after a failed write: a partial
// line may be in it, so the next append starts a new segment and the torn
// line stays last in this one.
func (j *Journal) abandon() {
	j.active.Close()
	j.active = nil
	if j.hasRecords(j.seq) {
		j.sealed = append(j.sealed, j.seq)
	} else {
		os.Remove(j.path(j.seq))
	}
	j.seq++
}

func (j *Journal) hasRecords(seg int) bool {
	for _, e := range j.index {
		if e.seg == seg {
			return true
		}
	}
	return false
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// ByRequestID implements decision.Journal.
func (j *Journal) ByRequestID(requestID string) (*decision.Record, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e, ok := j.index[requestID]
	return e.rec, ok
}

// Pending is how many journaled decisions are not yet in the ledger.
func (j *Journal) Pending() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.index)
}

// Drain commits the journaled decisions to l, oldest segment first, and
// deletes each segment once all its records are in. It stops at the first
// error (the ledger is still away), leaving that segment for the next drain;
// records of it already committed are replays then, stored once. It returns
// how many records it committed.
func (j *Journal) Drain(ctx context.Context, l Committer) (int, error) {
	j.drainMu.Lock()
	defer j.drainMu.Unlock()

	j.mu.Lock()
	if j.active != nil {
		// Seal the active segment: appends go to a new one from now on.
		err := j.active.Close()
		j.active = nil
		if err != nil {
			j.log.Warn("journal: close sealed segment", "error", err)
		}
		if j.hasRecords(j.seq) {
			j.sealed = append(j.sealed, j.seq)
		} else {
			os.Remove(j.path(j.seq))
		}
		j.seq++
	}
	sealed := slices.Clone(j.sealed)
	j.mu.Unlock()

	done := 0
	for _, n := range sealed {
		recs, err := readSegment(j.path(n))
		if err != nil {
			return done, j.fail(fmt.Errorf("drain journal: %w", err))
		}
		for _, rec := range recs {
			stored, replayed, err := l.Commit(ctx, rec, nil)
			if err != nil {
				return done, j.fail(fmt.Errorf("drain journal: commit decision %s: %w", rec.DecisionID, err))
			}
			if replayed && stored.DecisionID != rec.DecisionID {
				// The ledger already held another decision for this request id
				// (it was recorded before the ledger was lost, or by another
				// replica): that one stands.
				// Its id, which the caller may hold, resolves to that one.
				if err := l.Supersede(ctx, rec.DecisionID, rec.RequestID, stored.DecisionID, time.Now()); err != nil {
					return done, j.fail(fmt.Errorf("drain journal: %w", err))
				}
				j.log.Warn("journaled decision superseded by the ledger's decision for its request id",
					"request_id", rec.RequestID, "decision_id", rec.DecisionID, "ledger_decision_id", stored.DecisionID)
			}
			done++
		}
		if err := os.Remove(j.path(n)); err != nil {
			return done, j.fail(fmt.Errorf("drain journal: remove drained segment: %w", err))
		}
		j.mu.Lock()
		for id, e := range j.index {
			if e.seg == n {
				delete(j.index, id)
			}
		}
		j.sealed = slices.DeleteFunc(j.sealed, func(s int) bool { return s == n })
		j.mu.Unlock()
	}
	if err := syncDir(j.dir); err != nil {
		return done, j.fail(fmt.Errorf("drain journal: %w", err))
	}
	j.mu.Lock()
	j.lastErr = nil
	j.mu.Unlock()
	if done > 0 {
		j.log.Info("journal drained into the ledger", "decisions", done)
	}
	return done, nil
}

func (j *Journal) fail(err error) error {
	j.mu.Lock()
	j.lastErr = err
	j.mu.Unlock()
	return err
}

// LastError is the last drain's error, nil once a drain completed.
func (j *Journal) LastError() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.lastErr
}

// Run drains the journal into l every interval while it holds decisions,
// until ctx is done.
func (j *Journal) Run(ctx context.Context, l Committer, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if j.Pending() > 0 {
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			if _, err := j.Drain(dctx, l); err != nil && ctx.Err() == nil {
				j.log.Debug("journal not drained yet", "pending", j.Pending(), "error", err)
			}
			cancel()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close closes the active segment. Records not drained stay in the folder
// for the next Open.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.closed = true
	if j.active == nil {
		return nil
	}
	err := j.active.Close()
	j.active = nil
	if err != nil {
		return fmt.Errorf("close journal %q: %w", j.dir, err)
	}
	return nil
}
