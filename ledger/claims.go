package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// AppealClaim asks to claim an open appeal for a reviewer until a time, or
// to release the reviewer's claim.
type AppealClaim struct {
	AppealID string
	Reviewer string
	At       time.Time
	// For is how long the claim lasts from At.
	For time.Duration
	// Release gives the reviewer's claim up instead.
	Release bool
}

// ClaimAppeal claims an open appeal for c.Reviewer until c.At+c.For, in one
// statement: it succeeds when the appeal is unclaimed, its claim lapsed, or
// the same reviewer holds it (which extends it). Another reviewer's live
// claim is ErrClaimed, a resolved appeal ErrAlreadyResolved, an unknown one
// decision.ErrNotFound. Release drops the reviewer's own claim.
func (l *Ledger) ClaimAppeal(ctx context.Context, c AppealClaim) (*Appeal, error) {
	if c.AppealID == "" || c.Reviewer == "" {
		return nil, errors.New("claim appeal: appeal id and reviewer are required")
	}
	at := l.d.ts(c.At)
	var (
		q    string
		args []any
	)
	if c.Release {
		q = `UPDATE appeals SET claimed_by = '', claimed_until = NULL
			WHERE appeal_id = ? AND status = 'open' AND claimed_by = ? RETURNING appeal_id`
		args = []any{c.AppealID, c.Reviewer}
	} else {
		q = `UPDATE appeals SET claimed_by = ?, claimed_until = ?
			WHERE appeal_id = ? AND status = 'open'
			  AND (claimed_by = '' OR claimed_by = ? OR claimed_until IS NULL OR claimed_until <= ?)
			RETURNING appeal_id`
		args = []any{c.Reviewer, l.d.ts(c.At.Add(c.For)), c.AppealID, c.Reviewer, at}
	}
	var id string
	err := l.w.QueryRowContext(ctx, l.d.rebind(q), args...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		a, _, gerr := l.GetAppeal(ctx, c.AppealID)
		switch {
		case gerr != nil:
			return nil, fmt.Errorf("claim appeal %s: %w", c.AppealID, gerr)
		case a.Status != AppealOpen:
			return nil, fmt.Errorf("%w: appeal %s is %s", ErrAlreadyResolved, c.AppealID, a.Status)
		case c.Release:
			return a, nil // not this reviewer's claim: nothing to release
		default:
			return nil, fmt.Errorf("%w: appeal %s is claimed by %s until %s", ErrClaimed, c.AppealID,
				a.ClaimedBy, a.ClaimedUntil.UTC().Format(time.RFC3339))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("claim appeal %s: %w", c.AppealID, err)
	}
	a, _, err := l.GetAppeal(ctx, c.AppealID)
	if err != nil {
		return nil, fmt.Errorf("claim appeal %s: read back: %w", c.AppealID, err)
	}
	return a, nil
}
