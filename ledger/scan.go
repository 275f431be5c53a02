package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/gavel/gavel/decision"
)

// Filter selects stored decisions to read back in bulk, for replay.
type Filter struct {
	// Since and Until bound the decision time, [Since, Until); zero means
	// unbounded.
	Since, Until time.Time
	// Checkpoint, when set, keeps that checkpoint's decisions only.
	Checkpoint string
}

// Appeal outcomes of a stored decision.
const (
	OutcomeNone       = ""           // never appealed, or not resolved
	OutcomeUpheld     = "upheld"     // an appeal upheld it
	OutcomeOverturned = "overturned" // an appeal overturned it
)

// Stored is a decision read back with its appeal outcome.
type Stored struct {
	Record  *decision.Record
	Outcome string
}

var (
	scanFloor   = time.Unix(0, 0)
	scanCeiling = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

func (f Filter) bounds() (since, until time.Time) {
	since, until = scanFloor, scanCeiling
	if !f.Since.IsZero() {
		since = f.Since
	}
	if !f.Until.IsZero() {
		until = f.Until
	}
	return since, until
}

func (f Filter) where() string {
	w := "decided_at >= ? AND decided_at < ?"
	if f.Checkpoint != "" {
		w += " AND checkpoint = ?"
	}
	return w
}

func (l *Ledger) filterArgs(f Filter) []any {
	since, until := f.bounds()
	args := []any{l.d.ts(since), l.d.ts(until)}
	if f.Checkpoint != "" {
		args = append(args, f.Checkpoint)
	}
	return args
}

// Count returns how many stored decisions f selects.
func (l *Ledger) Count(ctx context.Context, f Filter) (int64, error) {
	var n int64
	q := l.d.rebind("SELECT count(*) FROM decisions WHERE " + f.where())
	if err := l.r.QueryRowContext(ctx, q, l.filterArgs(f)...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count decisions: %w", err)
	}
	return n, nil
}

// Scan reads the decisions f selects, oldest first, pageSize at a time
// (keyset paging on decision time and id, so memory stays bounded and
// decisions committed meanwhile do not shift pages). The outcome of each
// comes from its resolved appeals and from its overturned mark (Overturn).
// The sequence stops at the first error, which it yields.
func (l *Ledger) Scan(ctx context.Context, f Filter, pageSize int) iter.Seq2[*Stored, error] {
	return func(yield func(*Stored, error) bool) {
		for e, err := range l.ScanEncoded(ctx, f, pageSize) {
			var s *Stored
			if err == nil {
				s, err = e.Decode()
			}
			if !yield(s, err) || err != nil {
				return
			}
		}
	}
}

// Encoded is a stored decision read back but not decoded yet: a reader
// that spreads the work over several goroutines (replay) decodes each on
// the goroutine that uses it, instead of on the one reading the ledger.
type Encoded struct {
	DecisionID string
	DecidedAt  time.Time
	Outcome    string
	body       []byte
}

// Decode decodes the stored record.
func (e *Encoded) Decode() (*Stored, error) {
	return e.decode(decodeRecord)
}

// DecodeForReplay decodes the stored record without the parts a replay
// never reads: the detectors' reports and the signals list (the input
// document keeps the signals the policy saw). About half of a record.
func (e *Encoded) DecodeForReplay() (*Stored, error) {
	return e.decode(decodeRecordForReplay)
}

func (e *Encoded) decode(dec func([]byte) (*decision.Record, error)) (*Stored, error) {
	rec, err := dec(e.body)
	if err != nil {
		return nil, fmt.Errorf("scan decisions: decision %s: %w", e.DecisionID, err)
	}
	// The paging key is the column, which the record's time equals.
	rec.DecidedAt, rec.DecisionID = e.DecidedAt, e.DecisionID
	return &Stored{Record: rec, Outcome: e.Outcome}, nil
}

// ScanEncoded is Scan without decoding: see Encoded.
func (l *Ledger) ScanEncoded(ctx context.Context, f Filter, pageSize int) iter.Seq2[*Encoded, error] {
	if pageSize <= 0 {
		pageSize = 500
	}
	q := l.d.rebind(`SELECT record, decided_at, decision_id, overturned_at IS NOT NULL FROM decisions
		WHERE ` + f.where() + ` AND (decided_at > ? OR (decided_at = ? AND decision_id > ?))
		ORDER BY decided_at, decision_id LIMIT ?`)
	since, _ := f.bounds()
	return func(yield func(*Encoded, error) bool) {
		afterAt, afterID := scanFloor.Add(-time.Microsecond), ""
		for {
			// The page's lower bound is the cursor's time once past since:
			// a bound the index seeks to. The OR after it, with its own
			// parameters, is none, and every page would walk the index from
			// since to the cursor (a replay of 1,000,000 decisions spent a
			// third of its CPU there).
			args := l.filterArgs(Filter{Since: laterOf(since, afterAt), Until: f.Until, Checkpoint: f.Checkpoint})
			args = append(args, l.d.ts(afterAt), l.d.ts(afterAt), afterID, pageSize)
			page, err := l.scanPage(ctx, q, args)
			if err == nil && len(page) > 0 {
				err = l.appealOutcomes(ctx, page)
			}
			if err != nil {
				yield(nil, err)
				return
			}
			for _, e := range page {
				if !yield(e, nil) {
					return
				}
			}
			if len(page) < pageSize {
				return
			}
			last := page[len(page)-1]
			afterAt, afterID = last.DecidedAt, last.DecisionID
		}
	}
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (l *Ledger) scanPage(ctx context.Context, q string, args []any) ([]*Encoded, error) {
	rows, err := l.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("scan decisions: %w", err)
	}
	defer rows.Close()
	var page []*Encoded
	for rows.Next() {
		var (
			e          Encoded
			at         dbTime
			overturned bool
		)
		if err := rows.Scan(&e.body, &at, &e.DecisionID, &overturned); err != nil {
			return nil, fmt.Errorf("scan decisions: %w", err)
		}
		e.DecidedAt = at.Time
		if overturned {
			e.Outcome = OutcomeOverturned
		}
		page = append(page, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scan decisions: %w", err)
	}
	return page, nil
}

// appealOutcomes sets each decision's outcome from its resolved appeals:
// overturned if any appeal overturned it, else upheld if one upheld it.
func (l *Ledger) appealOutcomes(ctx context.Context, page []*Encoded) error {
	byID := make(map[string]*Encoded, len(page))
	args := make([]any, 0, len(page))
	for _, e := range page {
		byID[e.DecisionID] = e
		args = append(args, e.DecisionID)
	}
	q := l.d.rebind(`SELECT decision_id, status FROM appeals
		WHERE status IN ('upheld', 'overturned') AND decision_id IN (?` + strings.Repeat(", ?", len(args)-1) + `)`)
	rows, err := l.r.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("read appeal outcomes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var outcome sql.NullString
		if err := rows.Scan(&id, &outcome); err != nil {
			return fmt.Errorf("read appeal outcomes: %w", err)
		}
		if s := byID[id]; s != nil && s.Outcome != OutcomeOverturned {
			s.Outcome = outcome.String
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read appeal outcomes: %w", err)
	}
	return nil
}
