package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gavel/gavel/decision"
)

// History returns the subject's enforcement state as of now: the version of
// its standing, holds not lifted and not expired, the suspension in force
// (and who placed it), unexpired strikes that were not overturned and their
// reason codes (oldest strike first, each strike's codes in the order they
// fired), the decisions of the last RecentWindow (newest first, at most
// RecentLimit, dry runs left out), how many of the subject's decisions were
// overturned, and the rules overturns cleared that are still cleared.
//
// Only state that began at or before now counts, so a replay with an
// earlier now sees the ledger as it was then (except for lifts and
// overturns, which are not versioned).
//
// It runs five indexed queries (one for a subject nothing was committed
// for) and decodes no stored record.
func (l *Ledger) History(ctx context.Context, subjectID string, now time.Time) (decision.History, error) {
	return l.history(ctx, source{stmts: &l.hot}, subjectID, now)
}

// source is where History reads: the prepared statements of the read pool,
// or a transaction that holds the subject's lock.
type source struct {
	stmts *struct{ holds, strikes, recent, standing, cleared *sql.Stmt }
	tx    *sql.Tx
}

func (s source) query(ctx context.Context, st *sql.Stmt, q string, args ...any) (*sql.Rows, error) {
	if s.tx != nil {
		return s.tx.QueryContext(ctx, q, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (s source) queryRow(ctx context.Context, st *sql.Stmt, q string, args ...any) *sql.Row {
	if s.tx != nil {
		return s.tx.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func (l *Ledger) history(ctx context.Context, src source, subjectID string, now time.Time) (decision.History, error) {
	now = normTime(now)
	at := l.d.ts(now)
	var h decision.History
	var susp string
	var hot struct{ holds, strikes, recent, standing, cleared *sql.Stmt }
	if src.stmts != nil {
		hot = *src.stmts
	}
	if err := src.queryRow(ctx, hot.standing, l.q.standing, subjectID, subjectID, at, at, subjectID).
		Scan(&h.Version, &susp, &h.Overturned); err != nil {
		return decision.History{}, fmt.Errorf("history of %q: standing: %w", subjectID, err)
	}
	if susp != "" {
		h.Suspended = true
		h.SuspendedBy, h.SuspensionSource, _ = strings.Cut(susp, " ")
	}
	if h.Version == 0 && !h.Suspended && h.Overturned == 0 {
		// Nothing that changes a standing was ever committed for the
		// subject (every such commit bumps its version; migration 0023
		// gave the subjects of older ledgers a version): no holds, no
		// strikes, no recent decisions, no cleared rules. A new
		// account's first decision, the common case at signup, reads
		// one row, not five queries.
		return h, nil
	}
	if err := l.holds(ctx, src, hot.holds, &h, subjectID, at); err != nil {
		return decision.History{}, fmt.Errorf("history of %q: holds: %w", subjectID, err)
	}
	if err := l.strikes(ctx, src, hot.strikes, &h, subjectID, at); err != nil {
		return decision.History{}, fmt.Errorf("history of %q: strikes: %w", subjectID, err)
	}
	if err := l.recent(ctx, src, hot.recent, &h, subjectID, now); err != nil {
		return decision.History{}, fmt.Errorf("history of %q: recent decisions: %w", subjectID, err)
	}
	if err := l.cleared(ctx, src, hot.cleared, &h, subjectID, at); err != nil {
		return decision.History{}, fmt.Errorf("history of %q: cleared rules: %w", subjectID, err)
	}
	return h, nil
}

func (l *Ledger) holds(ctx context.Context, src source, st *sql.Stmt, h *decision.History, subjectID string, at any) error {
	rows, err := src.query(ctx, st, l.q.activeHolds, subjectID, at, at)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			x            decision.Hold
			since, until dbTime
		)
		if err := rows.Scan(&x.Capability, &since, &until, &x.DecisionID, &x.Remedy); err != nil {
			return err
		}
		x.Since, x.Until = since.Time, until.Time
		h.Holds = append(h.Holds, x)
	}
	return rows.Err()
}

func (l *Ledger) strikes(ctx context.Context, src source, st *sql.Stmt, h *decision.History, subjectID string, at any) error {
	rows, err := src.query(ctx, st, l.q.activeStrikes, subjectID, at, at)
	if err != nil {
		return err
	}
	defer rows.Close()
	var codes []byte
	for rows.Next() {
		if err := rows.Scan(&codes); err != nil {
			return err
		}
		h.Strikes++
		if h.StrikeCode, err = appendCodes(h.StrikeCode, codes); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (l *Ledger) recent(ctx context.Context, src source, st *sql.Stmt, h *decision.History, subjectID string, now time.Time) error {
	rows, err := src.query(ctx, st, l.q.recent, subjectID, l.d.ts(now), l.d.ts(now.Add(-l.cfg.RecentWindow)),
		false, l.cfg.RecentLimit)
	if err != nil {
		return err
	}
	defer rows.Close()
	var codes []byte
	for rows.Next() {
		var (
			p         decision.PastDecision
			action    string
			decidedAt dbTime
		)
		if err := rows.Scan(&p.DecisionID, &p.Checkpoint, &action, &codes, &decidedAt, &p.Overturned); err != nil {
			return err
		}
		if p.Action, err = decision.ParseAction(action); err != nil {
			return fmt.Errorf("decision %s: %w", p.DecisionID, err)
		}
		if p.Codes, err = appendCodes(nil, codes); err != nil {
			return fmt.Errorf("decision %s: %w", p.DecisionID, err)
		}
		p.DecidedAt = decidedAt.Time
		h.Recent = append(h.Recent, p)
	}
	return rows.Err()
}

func (l *Ledger) cleared(ctx context.Context, src source, st *sql.Stmt, h *decision.History, subjectID string, at any) error {
	rows, err := src.query(ctx, st, l.q.cleared, subjectID, at, at)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			c        decision.Cleared
			evidence []byte
			until    dbTime
		)
		if err := rows.Scan(&c.Code, &c.Rule, &evidence, &until, &c.AppealID, &c.DecisionID); err != nil {
			return err
		}
		if err := json.Unmarshal(evidence, &c.Evidence); err != nil {
			return fmt.Errorf("cleared %s of decision %s: evidence: %w", c.Code, c.DecisionID, err)
		}
		if c.Evidence == nil {
			c.Evidence = []map[string]any{}
		}
		c.Until = until.Time
		h.Cleared = append(h.Cleared, c)
	}
	return rows.Err()
}

// appendCodes appends the codes of a stored JSON array of reason codes.
func appendCodes(dst []string, b []byte) ([]string, error) {
	if len(b) == 0 || string(b) == "[]" {
		return dst, nil
	}
	var codes []string
	if err := json.Unmarshal(b, &codes); err != nil {
		return dst, fmt.Errorf("reason codes %q: %w", b, err)
	}
	return append(dst, codes...), nil
}
