package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gavel/gavel/decision"
)

// History returns the subject's enforcement state as of now: holds not
// lifted and not expired, whether a suspension is in force, unexpired
// strikes that were not overturned and their reason codes (oldest strike
// first, each strike's codes in the order they fired), the decisions of the
// last RecentWindow (newest first, at most RecentLimit, dry runs left out),
// and how many of the subject's decisions were overturned.
//
// Only state that began at or before now counts, so a replay with an
// earlier now sees the ledger as it was then (except for lifts and
// overturns, which are not versioned).
//
// It runs four indexed queries and decodes no stored record.
func (l *Ledger) History(ctx context.Context, subjectID string, now time.Time) (decision.History, error) {
	now = normTime(now)
	at := l.d.ts(now)
	var h decision.History
	if err := l.holds(ctx, &h, subjectID, at); err != nil {
		return decision.History{}, fmt.Errorf("history of %q: holds: %w", subjectID, err)
	}
	if err := l.strikes(ctx, &h, subjectID, at); err != nil {
		return decision.History{}, fmt.Errorf("history of %q: strikes: %w", subjectID, err)
	}
	if err := l.recent(ctx, &h, subjectID, now); err != nil {
		return decision.History{}, fmt.Errorf("history of %q: recent decisions: %w", subjectID, err)
	}
	if err := l.hot.standing.QueryRowContext(ctx, subjectID, at, at, subjectID).
		Scan(&h.Suspended, &h.Overturned); err != nil {
		return decision.History{}, fmt.Errorf("history of %q: suspension: %w", subjectID, err)
	}
	return h, nil
}

func (l *Ledger) holds(ctx context.Context, h *decision.History, subjectID string, at any) error {
	rows, err := l.hot.holds.QueryContext(ctx, subjectID, at, at)
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

func (l *Ledger) strikes(ctx context.Context, h *decision.History, subjectID string, at any) error {
	rows, err := l.hot.strikes.QueryContext(ctx, subjectID, at, at)
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

func (l *Ledger) recent(ctx context.Context, h *decision.History, subjectID string, now time.Time) error {
	rows, err := l.hot.recent.QueryContext(ctx, subjectID, l.d.ts(now), l.d.ts(now.Add(-l.cfg.RecentWindow)),
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
