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
	if pageSize <= 0 {
		pageSize = 500
	}
	q := l.d.rebind(`SELECT record, decided_at, decision_id, overturned_at IS NOT NULL FROM decisions
		WHERE ` + f.where() + ` AND (decided_at > ? OR (decided_at = ? AND decision_id > ?))
		ORDER BY decided_at, decision_id LIMIT ?`)
	return func(yield func(*Stored, error) bool) {
		afterAt, afterID := scanFloor.Add(-time.Microsecond), ""
		for {
			args := append(l.filterArgs(f), l.d.ts(afterAt), l.d.ts(afterAt), afterID, pageSize)
			page, err := l.scanPage(ctx, q, args)
			if err == nil && len(page) > 0 {
				err = l.appealOutcomes(ctx, page)
			}
			if err != nil {
				yield(nil, err)
				return
			}
			for _, s := range page {
				if !yield(s, nil) {
					return
				}
			}
			if len(page) < pageSize {
				return
			}
			last := page[len(page)-1].Record
			afterAt, afterID = last.DecidedAt, last.DecisionID
		}
	}
}

func (l *Ledger) scanPage(ctx context.Context, q string, args []any) ([]*Stored, error) {
	rows, err := l.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("scan decisions: %w", err)
	}
	defer rows.Close()
	var page []*Stored
	for rows.Next() {
		var (
			body       []byte
			at         dbTime
			id         string
			overturned bool
		)
		if err := rows.Scan(&body, &at, &id, &overturned); err != nil {
			return nil, fmt.Errorf("scan decisions: %w", err)
		}
		rec, err := decodeRecord(body)
		if err != nil {
			return nil, fmt.Errorf("scan decisions: decision %s: %w", id, err)
		}
		// The paging key is the column, which the record's time equals.
		rec.DecidedAt, rec.DecisionID = at.Time, id
		s := &Stored{Record: rec}
		if overturned {
			s.Outcome = OutcomeOverturned
		}
		page = append(page, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scan decisions: %w", err)
	}
	return page, nil
}

// appealOutcomes sets each decision's outcome from its resolved appeals:
// overturned if any appeal overturned it, else upheld if one upheld it.
func (l *Ledger) appealOutcomes(ctx context.Context, page []*Stored) error {
	byID := make(map[string]*Stored, len(page))
	args := make([]any, 0, len(page))
	for _, s := range page {
		byID[s.Record.DecisionID] = s
		args = append(args, s.Record.DecisionID)
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
