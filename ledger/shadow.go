package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gavel/gavel/decision"
)

var _ decision.ShadowSink = (*Ledger)(nil)

// Statements of the shadow verdicts (migration 0003), with ? placeholders.
const (
	// A decision is shadowed once; a second verdict for it (a retried job)
	// keeps the first.
	insertShadow = `INSERT INTO shadow_verdicts
		(decision_id, revision, action, codes, error, evaluated_at, verdict)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`
	shadowByDecision = `SELECT verdict, error, evaluated_at FROM shadow_verdicts WHERE decision_id = ?`
	shadowSpan       = `SELECT count(*), min(evaluated_at) FROM shadow_verdicts WHERE revision = ?`
	shadowPairs      = `SELECT d.action, s.action, count(*)
		FROM shadow_verdicts s JOIN decisions d ON d.decision_id = s.decision_id
		WHERE s.revision = ?
		GROUP BY d.action, s.action`
)

// RecordShadow stores what a shadow policy would have decided about a
// stored decision. A verdict whose evaluation failed is stored with its
// error and no action. Recording a decision's shadow twice keeps the first.
func (l *Ledger) RecordShadow(ctx context.Context, decisionID string, sv decision.ShadowVerdict) error {
	if decisionID == "" {
		return errors.New("record shadow verdict: no decision id")
	}
	action := ""
	if sv.Error == "" {
		if !sv.Verdict.Action.Valid() {
			return fmt.Errorf("record shadow verdict of %s: action %v is not enforceable", decisionID, sv.Verdict.Action)
		}
		action = sv.Verdict.Action.String()
	}
	codes, err := json.Marshal(reasonCodes(sv.Verdict.Reasons))
	if err != nil {
		return fmt.Errorf("record shadow verdict of %s: encode reason codes: %w", decisionID, err)
	}
	var body []byte
	if action == "" {
		// The shadow could not decide: keep what it got to, the revision.
		body, err = json.Marshal(map[string]string{"bundle_revision": sv.Verdict.BundleRevision})
	} else {
		body, err = json.Marshal(sv.Verdict)
	}
	if err != nil {
		return fmt.Errorf("record shadow verdict of %s: encode verdict: %w", decisionID, err)
	}
	at := sv.EvaluatedAt
	if at.IsZero() {
		at = time.Now()
	}
	if _, err := l.w.ExecContext(ctx, l.d.rebind(insertShadow), decisionID, sv.Verdict.BundleRevision, action,
		string(codes), sv.Error, l.d.ts(at), string(body)); err != nil {
		return fmt.Errorf("record shadow verdict of %s: %w", decisionID, err)
	}
	return nil
}

// ShadowVerdict returns the shadow verdict stored for a decision, or
// decision.ErrNotFound when none was.
func (l *Ledger) ShadowVerdict(ctx context.Context, decisionID string) (decision.ShadowVerdict, error) {
	var (
		sv   decision.ShadowVerdict
		body []byte
		at   dbTime
	)
	err := l.r.QueryRowContext(ctx, l.d.rebind(shadowByDecision), decisionID).Scan(&body, &sv.Error, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return sv, fmt.Errorf("shadow verdict of %s: %w", decisionID, decision.ErrNotFound)
	}
	if err != nil {
		return sv, fmt.Errorf("shadow verdict of %s: %w", decisionID, err)
	}
	if err := json.Unmarshal(body, &sv.Verdict); err != nil {
		return sv, fmt.Errorf("shadow verdict of %s: decode: %w", decisionID, err)
	}
	sv.EvaluatedAt = at.Time
	return sv, nil
}

// ShadowAgreement is how a shadow bundle's verdicts compare with the
// decisions they shadowed, since its revision was first recorded.
type ShadowAgreement struct {
	Revision string
	// Since is when the revision's first shadow verdict was evaluated.
	Since time.Time
	// Evaluated counts shadow verdicts of the revision, Errors those where
	// the shadow could not decide, Agreed those with the decision's action.
	Evaluated, Errors, Agreed int64
	// Transitions counts each (decision action, shadow action) pair,
	// agreeing pairs included, most frequent first.
	Transitions []Transition
}

// Transition is a count of decisions whose action From a shadow or a
// candidate policy would have made To.
type Transition struct {
	From, To decision.Action
	Count    int64
}

// Rate is the share of decided shadow verdicts that agreed, 0 when none.
func (a ShadowAgreement) Rate() float64 {
	if n := a.Evaluated - a.Errors; n > 0 {
		return float64(a.Agreed) / float64(n)
	}
	return 0
}

// ShadowAgreement compares the shadow verdicts of revision with the
// decisions they shadowed.
func (l *Ledger) ShadowAgreement(ctx context.Context, revision string) (ShadowAgreement, error) {
	a := ShadowAgreement{Revision: revision}
	var since dbTime
	if err := l.r.QueryRowContext(ctx, l.d.rebind(shadowSpan), revision).Scan(&a.Evaluated, &since); err != nil {
		return a, fmt.Errorf("shadow agreement of %q: %w", revision, err)
	}
	a.Since = since.Time
	rows, err := l.r.QueryContext(ctx, l.d.rebind(shadowPairs), revision)
	if err != nil {
		return a, fmt.Errorf("shadow agreement of %q: %w", revision, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			from, to string
			n        int64
		)
		if err := rows.Scan(&from, &to, &n); err != nil {
			return a, fmt.Errorf("shadow agreement of %q: %w", revision, err)
		}
		if to == "" {
			a.Errors += n
			continue
		}
		fa, err1 := decision.ParseAction(from)
		ta, err2 := decision.ParseAction(to)
		if err := errors.Join(err1, err2); err != nil {
			return a, fmt.Errorf("shadow agreement of %q: %w", revision, err)
		}
		if fa == ta {
			a.Agreed += n
		}
		a.Transitions = append(a.Transitions, Transition{From: fa, To: ta, Count: n})
	}
	if err := rows.Err(); err != nil {
		return a, fmt.Errorf("shadow agreement of %q: %w", revision, err)
	}
	sortTransitions(a.Transitions)
	return a, nil
}

// sortTransitions orders by count, most first, then by actions.
func sortTransitions(ts []Transition) {
	slices.SortFunc(ts, func(x, y Transition) int {
		switch {
		case x.Count != y.Count:
			if x.Count > y.Count {
				return -1
			}
			return 1
		case x.From != y.From:
			return int(x.From) - int(y.From)
		default:
			return int(x.To) - int(y.To)
		}
	})
}
