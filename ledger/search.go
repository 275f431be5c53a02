package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gavel/gavel/decision"
)

// Appeal states SearchFilter.Appeal takes besides an AppealStatus.
const (
	AppealAny  AppealStatus = "any"  // appealed, whatever the outcome
	AppealNone AppealStatus = "none" // never appealed
)

// SearchFilter selects decisions. Zero fields do not filter.
type SearchFilter struct {
	// Since and Until bound the decision time: Since <= decided_at < Until.
	Since, Until   time.Time
	Checkpoint     string
	Action         decision.Action // ActionUnspecified: any
	ReasonCode     string          // a reason that fired in the decision
	SubjectID      string
	BundleRevision string
	// Source keeps decisions of the policy (decision.SourcePolicy, the
	// automated ones) or reviewers' manual actions (decision.SourceManual).
	Source string
	// Fallback, when set, keeps only decisions where the failure action
	// applied (true) or the policy decided (false).
	Fallback *bool
	// Appeal keeps decisions with an appeal in that state (open, upheld,
	// overturned), with any appeal (AppealAny) or with none (AppealNone).
	Appeal AppealStatus
	// ShadowDisagrees keeps decisions the shadow bundle decided otherwise.
	ShadowDisagrees bool
}

// key identifies the filter inside page tokens: a token is valid only for
// the query that issued it.
func (f *SearchFilter) key() string {
	fb := ""
	if f.Fallback != nil {
		fb = fmt.Sprint(*f.Fallback)
	}
	return strings.Join([]string{"search", f.Since.UTC().Format(time.RFC3339Nano), f.Until.UTC().Format(time.RFC3339Nano),
		f.Checkpoint, f.Action.String(), f.ReasonCode, f.SubjectID, f.BundleRevision, f.Source, fb, string(f.Appeal),
		fmt.Sprint(f.ShadowDisagrees)}, "\x00")
}

// ErrBadFilter is wrapped by SearchDecisions' error for a filter it cannot
// run.
var ErrBadFilter = errors.New("invalid search filter")

// SearchDecisions returns the decisions f selects, newest first, pageSize
// at most (DefaultPageSize when not positive, MaxPageSize at most), after
// the page token, and the token of the next page ("" on the last). Paging
// is by keyset on (decided_at, decision_id): stable under inserts, and each
// page is an index range scan (see migration 0011).
func (l *Ledger) SearchDecisions(ctx context.Context, f SearchFilter, pageSize int, pageToken string) ([]*decision.Record, string, error) {
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	pageSize = min(pageSize, MaxPageSize)
	key := f.key()
	query, args, err := l.searchQuery(f, key, pageSize, pageToken)
	if err != nil {
		return nil, "", err
	}
	rows, err := l.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("search decisions: %w", err)
	}
	defer rows.Close()
	var (
		recs []*decision.Record
		last cursor
		body []byte
		next string
	)
	for rows.Next() {
		var at dbTime
		var id string
		if err := rows.Scan(&body, &at, &id); err != nil {
			return nil, "", fmt.Errorf("search decisions: %w", err)
		}
		if len(recs) == pageSize {
			next = encodeCursor(key, last)
			break
		}
		rec, err := decodeRecord(body)
		if err != nil {
			return nil, "", fmt.Errorf("search decisions: decision %s: %w", id, err)
		}
		recs = append(recs, rec)
		last = cursor{At: at.Time, ID: id}
	}
	if err := rows.Err(); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, "", fmt.Errorf("search decisions: %w", err)
	}
	rows.Close()
	if err := l.annotate(ctx, recs...); err != nil {
		return nil, "", fmt.Errorf("search decisions: %w", err)
	}
	return recs, next, nil
}

// searchQuery is SearchDecisions' statement for f, the page after
// pageToken (issued for the filter whose key is key), pageSize+1 rows at
// most: one more than a page says whether another follows.
func (l *Ledger) searchQuery(f SearchFilter, key string, pageSize int, pageToken string) (string, []any, error) {
	var (
		b    strings.Builder
		args []any
		t    = "d" // the table whose time and id order the page
	)
	if f.ReasonCode != "" {
		t = "h"
		b.WriteString(`SELECT d.record, h.decided_at, h.decision_id FROM reason_hits h
			JOIN decisions d ON d.decision_id = h.decision_id WHERE h.code = ?`)
		args = append(args, f.ReasonCode)
	} else {
		b.WriteString(`SELECT d.record, d.decided_at, d.decision_id FROM decisions d WHERE 1 = 1`)
	}
	eq := func(col string, v any) {
		b.WriteString(" AND " + col + " = ?")
		args = append(args, v)
	}
	if !f.Since.IsZero() {
		b.WriteString(" AND " + t + ".decided_at >= ?")
		args = append(args, l.d.ts(f.Since))
	}
	if !f.Until.IsZero() {
		b.WriteString(" AND " + t + ".decided_at < ?")
		args = append(args, l.d.ts(f.Until))
	}
	if f.Checkpoint != "" {
		eq("d.checkpoint", f.Checkpoint)
	}
	if f.Action != decision.ActionUnspecified {
		if !f.Action.Valid() {
			return "", nil, fmt.Errorf("search decisions: %w: action %v", ErrBadFilter, f.Action)
		}
		eq("d.action", f.Action.String())
	}
	if f.SubjectID != "" {
		eq("d.subject_id", f.SubjectID)
	}
	if f.BundleRevision != "" {
		eq("d.bundle_revision", f.BundleRevision)
	}
	switch f.Source {
	case "":
	case decision.SourcePolicy, decision.SourceManual:
		eq("d.source", f.Source)
	default:
		return "", nil, fmt.Errorf("search decisions: %w: source %q", ErrBadFilter, f.Source)
	}
	if f.Fallback != nil {
		eq("d.fallback", *f.Fallback)
	}
	switch f.Appeal {
	case "":
	case AppealOpen, AppealUpheld, AppealOverturned:
		b.WriteString(" AND d.decision_id IN (SELECT a.decision_id FROM appeals a WHERE a.status = ?)")
		args = append(args, string(f.Appeal))
	case AppealAny:
		b.WriteString(" AND d.decision_id IN (SELECT a.decision_id FROM appeals a)")
	case AppealNone:
		b.WriteString(" AND NOT EXISTS (SELECT 1 FROM appeals a WHERE a.decision_id = d.decision_id)")
	default:
		return "", nil, fmt.Errorf("search decisions: %w: appeal status %q", ErrBadFilter, f.Appeal)
	}
	if f.ShadowDisagrees {
		// Correlated: the page walks decisions by time and probes each
		// one's shadow verdict by key, instead of materialising every
		// disagreement first.
		b.WriteString(` AND EXISTS (SELECT 1 FROM shadow_verdicts s
			WHERE s.decision_id = d.decision_id AND s.action <> '' AND s.action <> d.action)`)
	}
	if pageToken != "" {
		c, err := decodeCursor(pageToken, key)
		if err != nil {
			return "", nil, fmt.Errorf("search decisions: %w", err)
		}
		b.WriteString(" AND (" + t + ".decided_at, " + t + ".decision_id) < (?, ?)")
		args = append(args, l.d.ts(c.At), c.ID)
	}
	b.WriteString(" ORDER BY " + t + ".decided_at DESC, " + t + ".decision_id DESC LIMIT ?")
	args = append(args, pageSize+1)
	return l.d.rebind(b.String()), args, nil
}
