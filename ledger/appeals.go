package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/events"
)

// Appeal errors, each a refusal the caller can act on.
var (
	// ErrNotAppealable: the decision took nothing away on appealable
	// grounds, was a dry run or a fallback, or is already overturned.
	ErrNotAppealable = errors.New("decision is not appealable")
	// ErrAppealWindowClosed: the appeal window after the decision is over.
	ErrAppealWindowClosed = errors.New("appeal window is closed")
	// ErrAppealExists: the decision already has an open appeal.
	ErrAppealExists = errors.New("decision already has an open appeal")
	// ErrAlreadyResolved: the appeal was resolved before.
	ErrAlreadyResolved = errors.New("appeal already resolved")
	// ErrClaimed: another reviewer holds a live claim on the appeal.
	ErrClaimed = errors.New("appeal is claimed by another reviewer")
)

// AppealStatus is where an appeal stands: open, then its outcome.
type AppealStatus string

const (
	AppealOpen       AppealStatus = "open"
	AppealUpheld     AppealStatus = "upheld"
	AppealOverturned AppealStatus = "overturned"
)

// Appeal is an appeal of one decision, with what the queue shows of the
// decision (its checkpoint, reason codes and time).
type Appeal struct {
	AppealID   string
	DecisionID string
	SubjectID  string
	Checkpoint string
	Codes      []string
	DecidedAt  time.Time
	Statement  string
	FiledBy    string
	FiledAt    time.Time
	Status     AppealStatus
	// Set once resolved: when, by which human reviewer, through which
	// authenticated caller, and the reviewer's note.
	ResolvedAt time.Time
	Reviewer   string
	ResolvedBy string
	Note       string
	// ClaimedBy is the reviewer working the appeal while ClaimedUntil is
	// ahead; a lapsed claim is no claim.
	ClaimedBy    string
	ClaimedUntil time.Time
}

// ClaimedAt reports who holds a live claim on the appeal at t, or "".
func (a *Appeal) ClaimedAt(t time.Time) string {
	if a.ClaimedBy == "" || !t.Before(a.ClaimedUntil) {
		return ""
	}
	return a.ClaimedBy
}

// AppealFiling asks to appeal a decision.
type AppealFiling struct {
	DecisionID string
	Statement  string
	FiledBy    string
	At         time.Time
	// Window is how long after the decision an appeal may be filed.
	Window time.Duration
}

// AppealResolution resolves an open appeal.
type AppealResolution struct {
	AppealID   string
	Outcome    AppealStatus // AppealUpheld or AppealOverturned
	Reviewer   string
	ResolvedBy string
	Note       string
	At         time.Time
	// ClearFor is how long overturning clears the decision's rules on
	// their evidence for the subject; zero: the ledger's ClearFor.
	ClearFor time.Duration
}

// AppealFilter selects appeals for the review queue.
type AppealFilter struct {
	Status     AppealStatus // default AppealOpen; AppealAny: every appeal
	Checkpoint string
	ReasonCode string
	PageSize   int
	PageToken  string
}

const appealColumns = `a.appeal_id, a.decision_id, a.subject_id, a.statement, a.filed_by, a.filed_at,
	a.status, a.resolved_at, a.reviewer, a.resolved_by, a.note, d.checkpoint, d.codes, d.decided_at,
	a.claimed_by, a.claimed_until`

const appealFrom = ` FROM appeals a JOIN decisions d ON d.decision_id = a.decision_id`

type rowScanner interface{ Scan(dest ...any) error }

func scanAppeal(row rowScanner) (*Appeal, error) {
	var (
		a                          Appeal
		status                     string
		filed, resolved, decidedAt dbTime
		claimedUntil               dbTime
		codes                      []byte
	)
	if err := row.Scan(&a.AppealID, &a.DecisionID, &a.SubjectID, &a.Statement, &a.FiledBy, &filed,
		&status, &resolved, &a.Reviewer, &a.ResolvedBy, &a.Note, &a.Checkpoint, &codes, &decidedAt,
		&a.ClaimedBy, &claimedUntil); err != nil {
		return nil, err
	}
	a.Status = AppealStatus(status)
	a.FiledAt, a.ResolvedAt, a.DecidedAt = filed.Time, resolved.Time, decidedAt.Time
	a.ClaimedUntil = claimedUntil.Time
	var err error
	if a.Codes, err = appendCodes(nil, codes); err != nil {
		return nil, err
	}
	return &a, nil
}

// FileAppeal opens an appeal of a decision, in one transaction: the
// decision must exist (decision.ErrNotFound), be appealable — it took
// something away on grounds the catalog marks appealable, was neither a dry
// run nor a fallback, and is not overturned — (ErrNotAppealable), be at
// most f.Window old at f.At (ErrAppealWindowClosed), and have no open
// appeal (ErrAppealExists). A decision whose appeal was upheld may be
// appealed again within the window.
func (l *Ledger) FileAppeal(ctx context.Context, f AppealFiling) (*Appeal, error) {
	if f.DecisionID == "" || f.Statement == "" {
		return nil, errors.New("file appeal: decision id and statement are required")
	}
	tx, err := l.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("file appeal of %s: begin: %w", f.DecisionID, err)
	}
	defer tx.Rollback()
	var (
		body       []byte
		overturned dbTime
	)
	err = tx.QueryRowContext(ctx, l.d.rebind(`SELECT record, overturned_at FROM decisions WHERE decision_id = ?`), f.DecisionID).
		Scan(&body, &overturned)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("file appeal of %s: %w", f.DecisionID, decision.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("file appeal of %s: %w", f.DecisionID, err)
	}
	rec, err := decodeRecord(body)
	if err != nil {
		return nil, fmt.Errorf("file appeal of %s: %w", f.DecisionID, err)
	}
	switch {
	case rec.DryRun:
		return nil, fmt.Errorf("%w: it was a dry run", ErrNotAppealable)
	case rec.Fallback:
		return nil, fmt.Errorf("%w: the policy could not decide and the failure action was applied", ErrNotAppealable)
	case overturned.Valid:
		return nil, fmt.Errorf("%w: it was already overturned", ErrNotAppealable)
	case !rec.Verdict.Appealable():
		return nil, fmt.Errorf("%w: it took nothing away on appealable grounds", ErrNotAppealable)
	}
	at := normTime(f.At)
	if deadline := rec.DecidedAt.Add(f.Window); at.After(deadline) {
		return nil, fmt.Errorf("%w: appeals of decision %s closed at %s", ErrAppealWindowClosed, f.DecisionID, deadline.Format(time.RFC3339))
	}
	// The subject's lock first, as every writer of its events takes it.
	if _, err := l.lockSubject(ctx, tx, rec.SubjectID); err != nil {
		return nil, fmt.Errorf("file appeal of %s: lock subject: %w", f.DecisionID, err)
	}
	id := uuid.Must(uuid.NewV7()).String()
	// DO NOTHING without a target: the one-open-appeal index refuses a
	// second open appeal, also against a concurrent filing.
	res, err := tx.ExecContext(ctx, l.d.rebind(`INSERT INTO appeals
		(appeal_id, decision_id, subject_id, statement, filed_by, filed_at, status)
		VALUES (?, ?, ?, ?, ?, ?, 'open') ON CONFLICT DO NOTHING`),
		id, f.DecisionID, rec.SubjectID, f.Statement, f.FiledBy, l.d.ts(at))
	if err != nil {
		return nil, fmt.Errorf("file appeal of %s: %w", f.DecisionID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, fmt.Errorf("file appeal of %s: %w", f.DecisionID, err)
	} else if n == 0 {
		return nil, fmt.Errorf("%w: decision %s", ErrAppealExists, f.DecisionID)
	}
	if _, err := tx.ExecContext(ctx, l.d.rebind(`UPDATE reason_hits SET appealed_at = ? WHERE decision_id = ? AND appealed_at IS NULL`),
		l.d.ts(at), f.DecisionID); err != nil {
		return nil, fmt.Errorf("file appeal of %s: mark reason hits appealed: %w", f.DecisionID, err)
	}
	a, err := scanAppeal(tx.QueryRowContext(ctx, l.d.rebind(`SELECT `+appealColumns+appealFrom+` WHERE a.appeal_id = ?`), id))
	if err != nil {
		return nil, fmt.Errorf("file appeal of %s: read back: %w", f.DecisionID, err)
	}
	if err := l.emit(ctx, tx, appealEvent(events.TypeAppealFiled, a)); err != nil {
		return nil, fmt.Errorf("file appeal of %s: %w", f.DecisionID, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("file appeal of %s: %w", f.DecisionID, err)
	}
	l.eventsCommitted(1)
	l.log.Info("appeal filed", "appeal_id", id, "decision_id", f.DecisionID, "subject_id", rec.SubjectID)
	return a, nil
}

// GetAppeal returns an appeal and the decision it appeals, read by one
// statement, or decision.ErrNotFound.
func (l *Ledger) GetAppeal(ctx context.Context, appealID string) (*Appeal, *decision.Record, error) {
	row := l.r.QueryRowContext(ctx, l.d.rebind(`SELECT `+appealColumns+`, d.record, d.overturned_at`+appealFrom+` WHERE a.appeal_id = ?`), appealID)
	var (
		a          Appeal
		status     string
		filed      dbTime
		resolved   dbTime
		decidedAt  dbTime
		overturned dbTime
		claimed    dbTime
		codes      []byte
		body       []byte
	)
	err := row.Scan(&a.AppealID, &a.DecisionID, &a.SubjectID, &a.Statement, &a.FiledBy, &filed,
		&status, &resolved, &a.Reviewer, &a.ResolvedBy, &a.Note, &a.Checkpoint, &codes, &decidedAt,
		&a.ClaimedBy, &claimed, &body, &overturned)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, fmt.Errorf("appeal %s: %w", appealID, decision.ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("appeal %s: %w", appealID, err)
	}
	a.Status = AppealStatus(status)
	a.FiledAt, a.ResolvedAt, a.DecidedAt = filed.Time, resolved.Time, decidedAt.Time
	a.ClaimedUntil = claimed.Time
	if a.Codes, err = appendCodes(nil, codes); err != nil {
		return nil, nil, fmt.Errorf("appeal %s: %w", appealID, err)
	}
	rec, err := decodeRecord(body)
	if err != nil {
		return nil, nil, fmt.Errorf("appeal %s: decision %s: %w", appealID, a.DecisionID, err)
	}
	// The record is read with the appeal; an older open or resolved appeal
	// of the same decision does not change what this one says.
	rec.Overturned = overturned.Valid
	rec.AppealID, rec.AppealStatus = a.AppealID, string(a.Status)
	if err := l.effects(ctx, rec, time.Now()); err != nil {
		return nil, nil, fmt.Errorf("appeal %s: decision %s: %w", appealID, a.DecisionID, err)
	}
	return &a, rec, nil
}

// ListAppeals returns appeals with the filter's status (open by default),
// oldest filed first, optionally only of decisions at a checkpoint or in
// which a reason code fired, pageSize at most (DefaultPageSize when not
// positive, MaxPageSize at most), after the page token.
func (l *Ledger) ListAppeals(ctx context.Context, f AppealFilter) ([]*Appeal, string, error) {
	if f.Status == "" {
		f.Status = AppealOpen
	}
	switch f.Status {
	case AppealOpen, AppealUpheld, AppealOverturned, AppealAny:
	default:
		return nil, "", fmt.Errorf("list appeals: unknown status %q", f.Status)
	}
	size := f.PageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	size = min(size, MaxPageSize)
	key := "appeals\x00" + string(f.Status) + "\x00" + f.Checkpoint + "\x00" + f.ReasonCode
	var b strings.Builder
	var args []any
	if f.Status == AppealAny {
		b.WriteString(`SELECT ` + appealColumns + appealFrom + ` WHERE 1 = 1`)
	} else {
		b.WriteString(`SELECT ` + appealColumns + appealFrom + ` WHERE a.status = ?`)
		args = append(args, string(f.Status))
	}
	if f.Checkpoint != "" {
		b.WriteString(` AND d.checkpoint = ?`)
		args = append(args, f.Checkpoint)
	}
	if f.ReasonCode != "" {
		b.WriteString(` AND EXISTS (SELECT 1 FROM reason_hits h WHERE h.decision_id = a.decision_id AND h.code = ?)`)
		args = append(args, f.ReasonCode)
	}
	if f.PageToken != "" {
		c, err := decodeCursor(f.PageToken, key)
		if err != nil {
			return nil, "", fmt.Errorf("list appeals: %w", err)
		}
		b.WriteString(` AND (a.filed_at, a.appeal_id) > (?, ?)`)
		args = append(args, l.d.ts(c.At), c.ID)
	}
	b.WriteString(` ORDER BY a.filed_at, a.appeal_id LIMIT ?`)
	args = append(args, size+1)
	rows, err := l.r.QueryContext(ctx, l.d.rebind(b.String()), args...)
	if err != nil {
		return nil, "", fmt.Errorf("list appeals: %w", err)
	}
	defer rows.Close()
	var out []*Appeal
	for rows.Next() {
		a, err := scanAppeal(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list appeals: %w", err)
		}
		if len(out) == size {
			last := out[len(out)-1]
			return out, encodeCursor(key, cursor{At: last.FiledAt, ID: last.AppealID}), nil
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list appeals: %w", err)
	}
	return out, "", nil
}

// ResolveAppeal resolves an open appeal in one transaction. Overturning
// also overturns the decision (see Overturn): its holds and suspension are
// lifted, its strike no longer counts, and each reason code that fired in
// it is marked a false positive. An unknown appeal is decision.ErrNotFound;
// one resolved before is ErrAlreadyResolved and changes nothing.
func (l *Ledger) ResolveAppeal(ctx context.Context, r AppealResolution) (*Appeal, error) {
	if r.Outcome != AppealUpheld && r.Outcome != AppealOverturned {
		return nil, fmt.Errorf("resolve appeal %s: outcome %q is neither upheld nor overturned", r.AppealID, r.Outcome)
	}
	if r.Reviewer == "" {
		return nil, fmt.Errorf("resolve appeal %s: a reviewer is required", r.AppealID)
	}
	tx, err := l.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("resolve appeal %s: begin: %w", r.AppealID, err)
	}
	defer tx.Rollback()
	at := l.d.ts(r.At)
	// The subject's lock first, as every writer of its events takes it.
	var subject string
	if err := tx.QueryRowContext(ctx, l.d.rebind(`SELECT subject_id FROM appeals WHERE appeal_id = ?`), r.AppealID).Scan(&subject); err == nil {
		if _, err := l.lockSubject(ctx, tx, subject); err != nil {
			return nil, fmt.Errorf("resolve appeal %s: lock subject: %w", r.AppealID, err)
		}
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("resolve appeal %s: %w", r.AppealID, err)
	}
	var decisionID string
	err = tx.QueryRowContext(ctx, l.d.rebind(`UPDATE appeals
		SET status = ?, resolved_at = ?, reviewer = ?, resolved_by = ?, note = ?
		WHERE appeal_id = ? AND status = 'open' RETURNING decision_id`),
		string(r.Outcome), at, r.Reviewer, r.ResolvedBy, r.Note, r.AppealID).Scan(&decisionID)
	if errors.Is(err, sql.ErrNoRows) {
		var status string
		err := tx.QueryRowContext(ctx, l.d.rebind(`SELECT status FROM appeals WHERE appeal_id = ?`), r.AppealID).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("resolve appeal %s: %w", r.AppealID, decision.ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("resolve appeal %s: %w", r.AppealID, err)
		}
		return nil, fmt.Errorf("%w: appeal %s is %s", ErrAlreadyResolved, r.AppealID, status)
	}
	if err != nil {
		return nil, fmt.Errorf("resolve appeal %s: %w", r.AppealID, err)
	}
	if r.Outcome == AppealOverturned {
		reason := fmt.Sprintf("appeal %s, reviewer %s", r.AppealID, r.Reviewer)
		clearFor := r.ClearFor
		if clearFor <= 0 {
			clearFor = l.cfg.ClearFor
		}
		if err := l.overturn(ctx, tx, decisionID, reason, r.AppealID, r.At, clearFor); err != nil {
			return nil, fmt.Errorf("resolve appeal %s: %w", r.AppealID, err)
		}
	}
	a, err := scanAppeal(tx.QueryRowContext(ctx, l.d.rebind(`SELECT `+appealColumns+appealFrom+` WHERE a.appeal_id = ?`), r.AppealID))
	if err != nil {
		return nil, fmt.Errorf("resolve appeal %s: read back: %w", r.AppealID, err)
	}
	if err := l.emit(ctx, tx, appealEvent(events.TypeAppealResolved, a)); err != nil {
		return nil, fmt.Errorf("resolve appeal %s: %w", r.AppealID, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("resolve appeal %s: %w", r.AppealID, err)
	}
	l.eventsCommitted(1)
	l.log.Info("appeal resolved", "appeal_id", r.AppealID, "decision_id", decisionID,
		"outcome", string(r.Outcome), "reviewer", r.Reviewer)
	return a, nil
}

// overturn marks a decision overturned inside tx: the decision, its strike,
// its holds and suspension (lifted with reason), and its reason hits (false
// positives); and it clears the rules that fired in it, on their evidence,
// for the subject until at+clearFor. by names the appeal. It reports
// decision.ErrNotFound for an unknown decision and changes nothing for one
// already overturned.
func (l *Ledger) overturn(ctx context.Context, tx *sql.Tx, decisionID, reason, by string, at time.Time, clearFor time.Duration) error {
	t := l.d.ts(at)
	// The subject's lock first, as every writer of its events takes it.
	var subjectID string
	if err := tx.QueryRowContext(ctx, l.d.rebind(`SELECT subject_id FROM decisions WHERE decision_id = ?`), decisionID).Scan(&subjectID); err == nil {
		if _, err := l.lockSubject(ctx, tx, subjectID); err != nil {
			return fmt.Errorf("overturn decision %s: lock subject: %w", decisionID, err)
		}
	} else if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("overturn decision %s: %w", decisionID, err)
	}
	res, err := tx.ExecContext(ctx, l.q.overturnDecision, t, by, decisionID)
	if err != nil {
		return fmt.Errorf("overturn decision %s: %w", decisionID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("overturn decision %s: %w", decisionID, err)
	} else if n == 0 {
		var one []byte
		err := tx.QueryRowContext(ctx, l.q.recordByID, decisionID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("overturn decision %s: %w", decisionID, decision.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("overturn decision %s: %w", decisionID, err)
		}
		return nil // already overturned
	}
	lifted := "overturned on appeal"
	if reason != "" {
		lifted += ": " + reason
	}
	for _, step := range []struct {
		what string
		q    string
		args []any
	}{
		{"strike", l.q.overturnStrike, []any{t, by, decisionID}},
		{"holds", l.q.liftHoldsOf, []any{t, lifted, by, decisionID}},
		{"suspension", l.q.liftSuspensionOf, []any{t, lifted, by, decisionID}},
		{"reason hits", l.d.rebind(`UPDATE reason_hits SET overturned_at = ? WHERE decision_id = ? AND overturned_at IS NULL`), []any{t, decisionID}},
	} {
		if _, err := tx.ExecContext(ctx, step.q, step.args...); err != nil {
			return fmt.Errorf("overturn decision %s: %s: %w", decisionID, step.what, err)
		}
	}
	subject, err := l.clearRules(ctx, tx, decisionID, by, at, clearFor)
	if err != nil {
		return fmt.Errorf("overturn decision %s: %w", decisionID, err)
	}
	if err := l.bumpSubject(ctx, tx, subject, at); err != nil {
		return err
	}
	// What the overturn ended: its holds and suspension, lifted.
	evs, err := l.endedEvents(ctx, tx, `decision_id = ? AND lifted_kind = 'overturned'`, []any{decisionID}, by, at)
	if err != nil {
		return fmt.Errorf("overturn decision %s: %w", decisionID, err)
	}
	if err := l.emit(ctx, tx, evs...); err != nil {
		return fmt.Errorf("overturn decision %s: %w", decisionID, err)
	}
	return nil
}

// appealEvent is an appeal's filed or resolved event.
func appealEvent(typ string, a *Appeal) events.Event {
	d := events.AppealData{AppealID: a.AppealID, DecisionID: a.DecisionID, SubjectID: a.SubjectID, FiledAt: a.FiledAt}
	at := a.FiledAt
	if a.Status != AppealOpen {
		d.Outcome, d.ResolvedAt = string(a.Status), a.ResolvedAt
		at = a.ResolvedAt
	}
	return mustEvent(typ, a.SubjectID, at, d)
}

// annotate fills in what became of decisions read from the ledger: whether
// each was overturned and its latest appeal.
func (l *Ledger) annotate(ctx context.Context, recs ...*decision.Record) error {
	if len(recs) == 0 {
		return nil
	}
	byID := make(map[string]*decision.Record, len(recs))
	args := make([]any, 0, len(recs))
	for _, r := range recs {
		byID[r.DecisionID] = r
		args = append(args, r.DecisionID)
	}
	q := `SELECT d.decision_id, d.overturned_at, a.appeal_id, a.status, a.filed_at
		FROM decisions d LEFT JOIN appeals a ON a.decision_id = d.decision_id
		WHERE d.decision_id IN (?` + strings.Repeat(", ?", len(args)-1) + `)`
	rows, err := l.r.QueryContext(ctx, l.d.rebind(q), args...)
	if err != nil {
		return fmt.Errorf("appeals of decisions: %w", err)
	}
	defer rows.Close()
	latest := map[string]time.Time{}
	for rows.Next() {
		var (
			id               string
			overturned, at   dbTime
			appealID, status sql.NullString
		)
		if err := rows.Scan(&id, &overturned, &appealID, &status, &at); err != nil {
			return fmt.Errorf("appeals of decisions: %w", err)
		}
		r := byID[id]
		if r == nil {
			continue
		}
		r.Overturned = overturned.Valid
		if appealID.Valid && (r.AppealID == "" || at.Time.After(latest[id])) {
			r.AppealID, r.AppealStatus = appealID.String, status.String
			latest[id] = at.Time
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("appeals of decisions: %w", err)
	}
	return nil
}

// RuleStat is one reason code's track record.
type RuleStat struct {
	Code string
	// Fired counts the decisions the code fired in, dry runs left out;
	// Appealed those appealed (any status); Overturned those overturned.
	Fired, Appealed, Overturned int64
}

// RuleStats returns every reason code's track record over the decisions
// made at or after since (all when zero), by code.
func (l *Ledger) RuleStats(ctx context.Context, since time.Time) ([]RuleStat, error) {
	return l.RuleStatsBetween(ctx, since, time.Time{})
}

// RuleStatsBetween returns every reason code's track record over the
// decisions made in [since, until) (unbounded where zero), by code.
func (l *Ledger) RuleStatsBetween(ctx context.Context, since, until time.Time) ([]RuleStat, error) {
	lo, hi := Filter{Since: since, Until: until}.bounds()
	// reason_hits_time covers this: no decision is read.
	rows, err := l.r.QueryContext(ctx, l.d.rebind(`SELECT code, count(*),
		sum(CASE WHEN appealed_at IS NOT NULL THEN 1 ELSE 0 END),
		sum(CASE WHEN overturned_at IS NOT NULL THEN 1 ELSE 0 END)
		FROM reason_hits
		WHERE decided_at >= ? AND decided_at < ? AND dry_run = ?
		GROUP BY code ORDER BY code`), l.d.ts(lo), l.d.ts(hi), false)
	if err != nil {
		return nil, fmt.Errorf("rule stats: %w", err)
	}
	defer rows.Close()
	var out []RuleStat
	for rows.Next() {
		var s RuleStat
		if err := rows.Scan(&s.Code, &s.Fired, &s.Appealed, &s.Overturned); err != nil {
			return nil, fmt.Errorf("rule stats: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rule stats: %w", err)
	}
	return out, nil
}

// RuleDay is one reason code's track record on one UTC day.
type RuleDay struct {
	Code string
	// Day is the UTC date, YYYY-MM-DD.
	Day                         string
	Fired, Appealed, Overturned int64
}

// RuleDaily is RuleStatsBetween per UTC day: each reason code's track
// record per day over the decisions made in [since, until), dry runs left
// out, by code then day; days without a hit are absent. Summed over the
// days it is RuleStatsBetween, from the same one scan.
func (l *Ledger) RuleDaily(ctx context.Context, since, until time.Time) ([]RuleDay, error) {
	lo, hi := Filter{Since: since, Until: until}.bounds()
	day := "substr(decided_at, 1, 10)"
	if l.d.name == Postgres {
		day = "to_char(decided_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
	}
	rows, err := l.r.QueryContext(ctx, l.d.rebind(`SELECT code, `+day+` AS day, count(*),
		sum(CASE WHEN appealed_at IS NOT NULL THEN 1 ELSE 0 END),
		sum(CASE WHEN overturned_at IS NOT NULL THEN 1 ELSE 0 END)
		FROM reason_hits
		WHERE decided_at >= ? AND decided_at < ? AND dry_run = ?
		GROUP BY code, day ORDER BY code, day`), l.d.ts(lo), l.d.ts(hi), false)
	if err != nil {
		return nil, fmt.Errorf("rule stats per day: %w", err)
	}
	defer rows.Close()
	var out []RuleDay
	for rows.Next() {
		var d RuleDay
		if err := rows.Scan(&d.Code, &d.Day, &d.Fired, &d.Appealed, &d.Overturned); err != nil {
			return nil, fmt.Errorf("rule stats per day: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rule stats per day: %w", err)
	}
	return out, nil
}

// Restrictive returns decisions that took something away — a restrict or
// a suspend, or any decision that counted a strike — made in [since,
// until), dry runs and fallbacks left out, oldest first, pageSize at most
// (DefaultPageSize when not positive, MaxPageSize at most), after the page
// token. They are what statements of reasons are due for.
func (l *Ledger) Restrictive(ctx context.Context, since, until time.Time, pageSize int, pageToken string) ([]*decision.Record, string, error) {
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	pageSize = min(pageSize, MaxPageSize)
	key := "restrictive\x00" + normTime(since).Format(time.RFC3339Nano) + "\x00" + normTime(until).Format(time.RFC3339Nano)
	q := `SELECT d.record, d.decided_at, d.decision_id FROM decisions d
		WHERE d.decided_at >= ? AND d.decided_at < ? AND d.dry_run = ? AND d.fallback = ?
		  AND (d.action IN ('restrict', 'suspend') OR EXISTS (SELECT 1 FROM strikes s WHERE s.decision_id = d.decision_id))`
	args := []any{l.d.ts(since), l.d.ts(until), false, false}
	if pageToken != "" {
		c, err := decodeCursor(pageToken, key)
		if err != nil {
			return nil, "", fmt.Errorf("restrictive decisions: %w", err)
		}
		q += ` AND (d.decided_at, d.decision_id) > (?, ?)`
		args = append(args, l.d.ts(c.At), c.ID)
	}
	q += ` ORDER BY d.decided_at, d.decision_id LIMIT ?`
	args = append(args, pageSize+1)
	rows, err := l.r.QueryContext(ctx, l.d.rebind(q), args...)
	if err != nil {
		return nil, "", fmt.Errorf("restrictive decisions: %w", err)
	}
	defer rows.Close()
	var (
		recs []*decision.Record
		last cursor
		body []byte
	)
	for rows.Next() {
		var (
			at dbTime
			id string
		)
		if err := rows.Scan(&body, &at, &id); err != nil {
			return nil, "", fmt.Errorf("restrictive decisions: %w", err)
		}
		if len(recs) == pageSize {
			return recs, encodeCursor(key, last), nil
		}
		rec, err := decodeRecord(body)
		if err != nil {
			return nil, "", fmt.Errorf("restrictive decisions: decision %s: %w", id, err)
		}
		recs = append(recs, rec)
		last = cursor{At: at.Time, ID: id}
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("restrictive decisions: %w", err)
	}
	return recs, "", nil
}
