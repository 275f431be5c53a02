package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/events"
)

// Review queue refusals, each one the caller can act on.
var (
	// ErrCaseResolved: the case was resolved before.
	ErrCaseResolved = errors.New("case already resolved")
	// ErrCaseClaimed: another reviewer holds a live claim on the case.
	ErrCaseClaimed = errors.New("case is claimed by another reviewer")
)

// DefaultReviewSLA is how long a case is given when the policy that opened
// it named no SLA.
const DefaultReviewSLA = 24 * time.Hour

// Item kinds in the review queue.
const (
	KindCase   = "case"
	KindAppeal = "appeal"
)

// Case statuses and resolutions.
const (
	CaseOpen     = "open"
	CaseResolved = "resolved"

	ResolveUphold  = "uphold"
	ResolveLift    = "lift"
	ResolveSuspend = "suspend"
)

// caseIDPrefix marks case ids apart from appeal ids (bare UUIDs).
const caseIDPrefix = "case-"

// IsCaseID reports whether id has the form of a case id.
func IsCaseID(id string) bool { return strings.HasPrefix(id, caseIDPrefix) }

// Case is a decision, or several of one subject's, the policy sent to a
// human. Checkpoint and Action are those of the decision that opened it.
type Case struct {
	CaseID     string
	SubjectID  string
	DecisionID string
	Checkpoint string
	Action     string
	// Codes are the reason codes that sent its decisions to review.
	Codes []string
	// Decisions are every decision of the case, oldest first.
	Decisions    []string
	OpenedAt     time.Time
	DueAt        time.Time
	Status       string
	ClaimedBy    string
	ClaimedUntil time.Time
	// Set once resolved.
	Resolution       string
	ResolvedAt       time.Time
	Reviewer         string
	ResolvedBy       string
	Note             string
	ActionDecisionID string
}

// ClaimedAt reports who holds a live claim on the case at t, or "".
func (c *Case) ClaimedAt(t time.Time) string {
	if c.ClaimedBy == "" || !t.Before(c.ClaimedUntil) {
		return ""
	}
	return c.ClaimedBy
}

// review writes what a decision does to the review queue, inside its
// transaction and after the subject's lock is taken: a decision the policy
// marks for review opens a case (or joins the subject's open one); a
// manual decision taken to resolve a case resolves it. Each case opened or
// resolved writes its event. Dry runs and fallbacks do neither. It returns
// how many events it wrote.
func (l *Ledger) review(ctx context.Context, tx *sql.Tx, st *decision.Record) (int, error) {
	if st.DryRun || st.Fallback {
		return 0, nil
	}
	if m := st.Manual; m != nil {
		if m.CaseID == "" {
			return 0, nil
		}
		if err := l.resolveCaseByAction(ctx, tx, st); err != nil {
			return 0, err
		}
		return 1, l.caseEvent(ctx, tx, events.TypeCaseResolved, m.CaseID, st.DecidedAt)
	}
	if st.Verdict.Review == nil {
		return 0, nil
	}
	id, opened, err := l.openCase(ctx, tx, st)
	if err != nil || !opened {
		return 0, err
	}
	l.log.Info("case opened", "case_id", id, "subject_id", st.SubjectID, "decision_id", st.DecisionID)
	return 1, l.caseEvent(ctx, tx, events.TypeCaseOpened, id, st.DecidedAt)
}

// caseEvent writes a case's event inside tx, as the case stands in it.
func (l *Ledger) caseEvent(ctx context.Context, tx *sql.Tx, typ, caseID string, at time.Time) error {
	d := events.CaseData{CaseID: caseID, At: normTime(at)}
	if err := tx.QueryRowContext(ctx, l.d.rebind(`SELECT subject_id, decision_id, resolution, action_decision_id
		FROM review_cases WHERE case_id = ?`), caseID).Scan(&d.SubjectID, &d.DecisionID, &d.Resolution, &d.ResolvedBy); err != nil {
		return fmt.Errorf("case %s: event: %w", caseID, err)
	}
	rows, err := tx.QueryContext(ctx, l.d.rebind(`SELECT code FROM review_case_reasons WHERE case_id = ? ORDER BY code`), caseID)
	if err != nil {
		return fmt.Errorf("case %s: event: %w", caseID, err)
	}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return fmt.Errorf("case %s: event: %w", caseID, err)
		}
		d.Reasons = append(d.Reasons, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("case %s: event: %w", caseID, err)
	}
	return l.emit(ctx, tx, mustEvent(typ, d.SubjectID, at, d))
}

// openCase opens a case for a decision the policy marked for review, or
// adds the decision to the subject's open case (whose due time moves
// earlier if this decision's is). It runs inside the decision's
// transaction and returns the case id and whether it is new.
func (l *Ledger) openCase(ctx context.Context, tx *sql.Tx, st *decision.Record) (string, bool, error) {
	r := st.Verdict.Review
	sla := r.SLA
	if sla <= 0 {
		sla = DefaultReviewSLA
	}
	id := caseIDPrefix + uuid.Must(uuid.NewV7()).String()
	at := l.d.ts(st.DecidedAt)
	var caseID string
	err := tx.QueryRowContext(ctx, l.d.rebind(`INSERT INTO review_cases
		(case_id, subject_id, decision_id, opened_at, due_at, status) VALUES (?, ?, ?, ?, ?, 'open')
		ON CONFLICT (subject_id) WHERE status = 'open' DO UPDATE SET due_at =
			CASE WHEN excluded.due_at < review_cases.due_at THEN excluded.due_at ELSE review_cases.due_at END
		RETURNING case_id`),
		id, st.SubjectID, st.DecisionID, at, l.d.ts(st.DecidedAt.Add(sla))).Scan(&caseID)
	if err != nil {
		return "", false, fmt.Errorf("open case: %w", err)
	}
	if _, err := tx.ExecContext(ctx, l.d.rebind(`INSERT INTO review_case_decisions (case_id, decision_id, added_at)
		VALUES (?, ?, ?) ON CONFLICT DO NOTHING`), caseID, st.DecisionID, at); err != nil {
		return "", false, fmt.Errorf("case %s: add decision: %w", caseID, err)
	}
	for _, c := range r.Codes {
		if _, err := tx.ExecContext(ctx, l.d.rebind(`INSERT INTO review_case_reasons (case_id, code)
			VALUES (?, ?) ON CONFLICT DO NOTHING`), caseID, c); err != nil {
			return "", false, fmt.Errorf("case %s: add reason %q: %w", caseID, c, err)
		}
	}
	return caseID, caseID == id, nil
}

// CaseResolution resolves an open case by upholding its decisions: nothing
// changes on the account. A lift or a suspension is a manual decision that
// names the case (decision.ManualAction.CaseID); its commit resolves the
// case.
type CaseResolution struct {
	CaseID     string
	Reviewer   string
	ResolvedBy string
	Note       string
	At         time.Time
}

// ResolveCase upholds an open case. An unknown case is
// decision.ErrNotFound, one resolved before ErrCaseResolved, one another
// reviewer holds a live claim on ErrCaseClaimed.
func (l *Ledger) ResolveCase(ctx context.Context, r CaseResolution) (*Case, error) {
	if r.CaseID == "" || r.Reviewer == "" {
		return nil, errors.New("resolve case: case id and reviewer are required")
	}
	tx, err := l.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("resolve case %s: begin: %w", r.CaseID, err)
	}
	defer tx.Rollback()
	// The subject's lock first, as every writer of its events takes it.
	var subject string
	if err := tx.QueryRowContext(ctx, l.d.rebind(`SELECT subject_id FROM review_cases WHERE case_id = ?`), r.CaseID).Scan(&subject); err == nil {
		if _, err := l.lockSubject(ctx, tx, subject); err != nil {
			return nil, fmt.Errorf("resolve case %s: lock subject: %w", r.CaseID, err)
		}
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("resolve case %s: %w", r.CaseID, err)
	}
	if err := l.closeCase(ctx, tx, r.CaseID, "", ResolveUphold, r.Reviewer, r.ResolvedBy, r.Note, "", r.At); err != nil {
		return nil, err
	}
	if err := l.caseEvent(ctx, tx, events.TypeCaseResolved, r.CaseID, r.At); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("resolve case %s: %w", r.CaseID, err)
	}
	l.eventsCommitted(1)
	l.log.Info("case resolved", "case_id", r.CaseID, "resolution", ResolveUphold, "reviewer", r.Reviewer)
	return l.GetCase(ctx, r.CaseID)
}

// resolveCaseByAction resolves the case a manual decision names, inside
// the decision's transaction: the case must be open, the subject's, and
// not claimed by another reviewer, or the decision is not stored
// (decision.ErrPrecondition).
func (l *Ledger) resolveCaseByAction(ctx context.Context, tx *sql.Tx, st *decision.Record) error {
	m := st.Manual
	var how string
	switch m.Kind {
	case decision.ManualLift:
		how = ResolveLift
	case decision.ManualSuspend:
		how = ResolveSuspend
	default:
		return fmt.Errorf("%w: a %s does not resolve a case (lift or suspend do)", decision.ErrPrecondition, m.Kind)
	}
	err := l.closeCase(ctx, tx, m.CaseID, st.SubjectID, how, m.Reviewer, m.Caller, m.Note, st.DecisionID, st.DecidedAt)
	switch {
	case errors.Is(err, decision.ErrNotFound):
		return fmt.Errorf("%w: case %s is not a case of %q", decision.ErrPrecondition, m.CaseID, st.SubjectID)
	case errors.Is(err, ErrCaseResolved), errors.Is(err, ErrCaseClaimed):
		return fmt.Errorf("%w: %w", decision.ErrPrecondition, err)
	}
	return err
}

// closeCase marks an open case resolved, or says why it cannot be. subject,
// when not empty, must be the case's.
func (l *Ledger) closeCase(ctx context.Context, tx *sql.Tx, caseID, subject, how, reviewer, caller, note, actionID string, at time.Time) error {
	t := l.d.ts(at)
	q := `UPDATE review_cases SET status = 'resolved', resolution = ?, resolved_at = ?, reviewer = ?,
			resolved_by = ?, note = ?, action_decision_id = ?, claimed_by = '', claimed_until = NULL
		WHERE case_id = ? AND status = 'open'
		  AND (claimed_by = '' OR claimed_by = ? OR claimed_until IS NULL OR claimed_until <= ?)`
	args := []any{how, t, reviewer, caller, note, actionID, caseID, reviewer, t}
	if subject != "" {
		q += ` AND subject_id = ?`
		args = append(args, subject)
	}
	res, err := tx.ExecContext(ctx, l.d.rebind(q), args...)
	if err != nil {
		return fmt.Errorf("resolve case %s: %w", caseID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("resolve case %s: %w", caseID, err)
	} else if n == 1 {
		return nil
	}
	var (
		status, owner, claimedBy, resolution string
		claimedUntil                         dbTime
	)
	err = tx.QueryRowContext(ctx, l.d.rebind(`SELECT status, subject_id, claimed_by, claimed_until, resolution
		FROM review_cases WHERE case_id = ?`), caseID).Scan(&status, &owner, &claimedBy, &claimedUntil, &resolution)
	switch {
	case errors.Is(err, sql.ErrNoRows) || (err == nil && subject != "" && owner != subject):
		return fmt.Errorf("resolve case %s: %w", caseID, decision.ErrNotFound)
	case err != nil:
		return fmt.Errorf("resolve case %s: %w", caseID, err)
	case status != CaseOpen:
		return fmt.Errorf("%w: case %s was resolved (%s)", ErrCaseResolved, caseID, resolution)
	default:
		return fmt.Errorf("%w: case %s is claimed by %s until %s", ErrCaseClaimed, caseID,
			claimedBy, claimedUntil.Time.UTC().Format(time.RFC3339))
	}
}

// CaseClaim asks to claim an open case for a reviewer for a while, or to
// release the reviewer's claim.
type CaseClaim struct {
	CaseID   string
	Reviewer string
	At       time.Time
	For      time.Duration
	Release  bool
}

// ClaimCase claims an open case for c.Reviewer until c.At+c.For: it
// succeeds when the case is unclaimed, its claim lapsed, or the same
// reviewer holds it (which extends it). Another reviewer's live claim is
// ErrCaseClaimed, a resolved case ErrCaseResolved, an unknown one
// decision.ErrNotFound. Release drops the reviewer's own claim.
func (l *Ledger) ClaimCase(ctx context.Context, c CaseClaim) (*Case, error) {
	if c.CaseID == "" || c.Reviewer == "" {
		return nil, errors.New("claim case: case id and reviewer are required")
	}
	var (
		q    string
		args []any
	)
	if c.Release {
		q = `UPDATE review_cases SET claimed_by = '', claimed_until = NULL
			WHERE case_id = ? AND status = 'open' AND claimed_by = ? RETURNING case_id`
		args = []any{c.CaseID, c.Reviewer}
	} else {
		q = `UPDATE review_cases SET claimed_by = ?, claimed_until = ?
			WHERE case_id = ? AND status = 'open'
			  AND (claimed_by = '' OR claimed_by = ? OR claimed_until IS NULL OR claimed_until <= ?)
			RETURNING case_id`
		args = []any{c.Reviewer, l.d.ts(c.At.Add(c.For)), c.CaseID, c.Reviewer, l.d.ts(c.At)}
	}
	var id string
	err := l.w.QueryRowContext(ctx, l.d.rebind(q), args...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		cs, gerr := l.GetCase(ctx, c.CaseID)
		switch {
		case gerr != nil:
			return nil, fmt.Errorf("claim case %s: %w", c.CaseID, gerr)
		case cs.Status != CaseOpen:
			return nil, fmt.Errorf("%w: case %s was resolved (%s)", ErrCaseResolved, c.CaseID, cs.Resolution)
		case c.Release:
			return cs, nil // not this reviewer's claim: nothing to release
		default:
			return nil, fmt.Errorf("%w: case %s is claimed by %s until %s", ErrCaseClaimed, c.CaseID,
				cs.ClaimedBy, cs.ClaimedUntil.UTC().Format(time.RFC3339))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("claim case %s: %w", c.CaseID, err)
	}
	return l.GetCase(ctx, c.CaseID)
}

const caseColumns = `c.case_id, c.subject_id, c.decision_id, d.checkpoint, d.action, c.opened_at, c.due_at,
	c.status, c.claimed_by, c.claimed_until, c.resolution, c.resolved_at, c.reviewer, c.resolved_by, c.note,
	c.action_decision_id`

// GetCase returns a case with its decisions and reason codes, or
// decision.ErrNotFound.
func (l *Ledger) GetCase(ctx context.Context, caseID string) (*Case, error) {
	var (
		c                                     Case
		opened, due, claimedUntil, resolvedAt dbTime
	)
	err := l.r.QueryRowContext(ctx, l.d.rebind(`SELECT `+caseColumns+`
		FROM review_cases c JOIN decisions d ON d.decision_id = c.decision_id WHERE c.case_id = ?`), caseID).Scan(
		&c.CaseID, &c.SubjectID, &c.DecisionID, &c.Checkpoint, &c.Action, &opened, &due,
		&c.Status, &c.ClaimedBy, &claimedUntil, &c.Resolution, &resolvedAt, &c.Reviewer, &c.ResolvedBy, &c.Note,
		&c.ActionDecisionID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("case %s: %w", caseID, decision.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("case %s: %w", caseID, err)
	}
	c.OpenedAt, c.DueAt, c.ClaimedUntil, c.ResolvedAt = opened.Time, due.Time, claimedUntil.Time, resolvedAt.Time
	rows, err := l.r.QueryContext(ctx, l.d.rebind(`SELECT decision_id FROM review_case_decisions
		WHERE case_id = ? ORDER BY added_at, decision_id`), caseID)
	if err != nil {
		return nil, fmt.Errorf("case %s: decisions: %w", caseID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("case %s: decisions: %w", caseID, err)
		}
		c.Decisions = append(c.Decisions, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("case %s: decisions: %w", caseID, err)
	}
	codes, err := l.caseCodes(ctx, []string{caseID})
	if err != nil {
		return nil, err
	}
	c.Codes = codes[caseID]
	return &c, nil
}

// caseCodes returns the review reason codes of each case, sorted.
func (l *Ledger) caseCodes(ctx context.Context, ids []string) (map[string][]string, error) {
	out := make(map[string][]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := l.r.QueryContext(ctx, l.d.rebind(`SELECT case_id, code FROM review_case_reasons
		WHERE case_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`) ORDER BY case_id, code`), args...)
	if err != nil {
		return nil, fmt.Errorf("case reasons: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, code string
		if err := rows.Scan(&id, &code); err != nil {
			return nil, fmt.Errorf("case reasons: %w", err)
		}
		out[id] = append(out[id], code)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("case reasons: %w", err)
	}
	return out, nil
}

// QueueItem is one open case or appeal in the review queue. At is when it
// was opened (a case) or filed (an appeal); Due when it should be resolved.
type QueueItem struct {
	Kind       string
	ID         string
	SubjectID  string
	DecisionID string
	Checkpoint string
	Action     string
	// Codes: the review codes of a case; the reason codes of an appealed
	// decision.
	Codes        []string
	At           time.Time
	Due          time.Time
	ClaimedBy    string
	ClaimedUntil time.Time
}

// Overdue reports whether the item is past due at now.
func (q *QueueItem) Overdue(now time.Time) bool { return !now.Before(q.Due) }

// ClaimedAt reports who holds a live claim on the item at t, or "".
func (q *QueueItem) ClaimedAt(t time.Time) string {
	if q.ClaimedBy == "" || !t.Before(q.ClaimedUntil) {
		return ""
	}
	return q.ClaimedBy
}

// QueueFilter selects open items of the review queue.
type QueueFilter struct {
	// Kind is KindCase, KindAppeal, or "" for both.
	Kind       string
	ReasonCode string
	SubjectID  string
	// Assignee: only items this reviewer holds a live claim on.
	Assignee string
	// Unassigned: only items no one holds a live claim on.
	Unassigned bool
	// Overdue: only items past due at Now.
	Overdue bool
	// Now is the time claims and due times are judged at.
	Now time.Time
	// AppealSLA is how long after filing an appeal is due.
	AppealSLA time.Duration
	PageSize  int
	PageToken string
}

// Queue returns the open cases and appeals the filter selects, oldest
// first (opened or filed), at most PageSize (DefaultPageSize when not
// positive, MaxPageSize at most), after the page token.
func (l *Ledger) Queue(ctx context.Context, f QueueFilter) ([]*QueueItem, string, error) {
	switch f.Kind {
	case "", KindCase, KindAppeal:
	default:
		return nil, "", fmt.Errorf("review queue: unknown kind %q", f.Kind)
	}
	if f.AppealSLA <= 0 {
		return nil, "", errors.New("review queue: an appeal SLA is required")
	}
	size := f.PageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	size = min(size, MaxPageSize)
	key := fmt.Sprintf("queue\x00%s\x00%s\x00%s\x00%s\x00%t\x00%t", f.Kind, f.ReasonCode, f.SubjectID, f.Assignee, f.Unassigned, f.Overdue)
	var after *cursor
	if f.PageToken != "" {
		c, err := decodeCursor(f.PageToken, key)
		if err != nil {
			return nil, "", fmt.Errorf("review queue: %w", err)
		}
		after = &c
	}
	now := l.d.ts(f.Now)
	var (
		parts []string
		args  []any
	)
	// branch adds one kind's SELECT: at, id, claim columns and the filters
	// common to both kinds.
	branch := func(sel, at, id, claimedBy, claimedUntil, reasonExists string, overdue string, overdueArg any) {
		var b strings.Builder
		b.WriteString(sel)
		if f.ReasonCode != "" {
			b.WriteString(` AND EXISTS (` + reasonExists + `)`)
			args = append(args, f.ReasonCode)
		}
		if f.SubjectID != "" {
			b.WriteString(` AND d.subject_id = ?`)
			args = append(args, f.SubjectID)
		}
		if f.Assignee != "" {
			b.WriteString(` AND ` + claimedBy + ` = ? AND ` + claimedUntil + ` > ?`)
			args = append(args, f.Assignee, now)
		}
		if f.Unassigned {
			b.WriteString(` AND (` + claimedBy + ` = '' OR ` + claimedUntil + ` IS NULL OR ` + claimedUntil + ` <= ?)`)
			args = append(args, now)
		}
		if f.Overdue {
			b.WriteString(` AND ` + overdue + ` <= ?`)
			args = append(args, overdueArg)
		}
		if after != nil {
			b.WriteString(` AND (` + at + `, ` + id + `) > (?, ?)`)
			args = append(args, l.d.ts(after.At), after.ID)
		}
		parts = append(parts, b.String())
	}
	if f.Kind != KindAppeal {
		branch(`SELECT 'case' AS kind, c.case_id AS id, c.subject_id, c.decision_id, d.checkpoint, d.action,
				d.codes, c.opened_at AS at, c.due_at AS due, c.claimed_by, c.claimed_until
			FROM review_cases c JOIN decisions d ON d.decision_id = c.decision_id WHERE c.status = 'open'`,
			"c.opened_at", "c.case_id", "c.claimed_by", "c.claimed_until",
			`SELECT 1 FROM review_case_reasons r WHERE r.case_id = c.case_id AND r.code = ?`,
			"c.due_at", now)
	}
	if f.Kind != KindCase {
		branch(`SELECT 'appeal' AS kind, a.appeal_id AS id, a.subject_id, a.decision_id, d.checkpoint, d.action,
				d.codes, a.filed_at AS at, a.filed_at AS due, a.claimed_by, a.claimed_until
			FROM appeals a JOIN decisions d ON d.decision_id = a.decision_id WHERE a.status = 'open'`,
			"a.filed_at", "a.appeal_id", "a.claimed_by", "a.claimed_until",
			`SELECT 1 FROM reason_hits h WHERE h.decision_id = a.decision_id AND h.code = ?`,
			"a.filed_at", l.d.ts(f.Now.Add(-f.AppealSLA)))
	}
	q := `SELECT kind, id, subject_id, decision_id, checkpoint, action, codes, at, due, claimed_by, claimed_until FROM (` +
		strings.Join(parts, "\nUNION ALL\n") + `) q ORDER BY at, id LIMIT ?`
	args = append(args, size+1)
	rows, err := l.r.QueryContext(ctx, l.d.rebind(q), args...)
	if err != nil {
		return nil, "", fmt.Errorf("review queue: %w", err)
	}
	defer rows.Close()
	var (
		out   []*QueueItem
		next  string
		cases []string
	)
	for rows.Next() {
		var (
			it                   QueueItem
			at, due, claimedTill dbTime
			codes                []byte
		)
		if err := rows.Scan(&it.Kind, &it.ID, &it.SubjectID, &it.DecisionID, &it.Checkpoint, &it.Action, &codes,
			&at, &due, &it.ClaimedBy, &claimedTill); err != nil {
			return nil, "", fmt.Errorf("review queue: %w", err)
		}
		if len(out) == size {
			last := out[len(out)-1]
			next = encodeCursor(key, cursor{At: last.At, ID: last.ID})
			break
		}
		it.At, it.Due, it.ClaimedUntil = at.Time, due.Time, claimedTill.Time
		if it.Kind == KindAppeal {
			it.Due = it.At.Add(f.AppealSLA)
			if it.Codes, err = appendCodes(nil, codes); err != nil {
				return nil, "", fmt.Errorf("review queue: appeal %s: %w", it.ID, err)
			}
		} else {
			cases = append(cases, it.ID)
		}
		out = append(out, &it)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("review queue: %w", err)
	}
	rows.Close()
	codes, err := l.caseCodes(ctx, cases)
	if err != nil {
		return nil, "", fmt.Errorf("review queue: %w", err)
	}
	for _, it := range out {
		if it.Kind == KindCase {
			it.Codes = codes[it.ID]
		}
	}
	return out, next, nil
}

// Note is a reviewer's note on a case or an appeal.
type Note struct {
	NoteID string
	Kind   string
	ItemID string
	Author string
	At     time.Time
	Body   string
}

// AddNote adds a reviewer's note to a case or an appeal, open or resolved.
// An unknown item is decision.ErrNotFound.
func (l *Ledger) AddNote(ctx context.Context, n Note) (*Note, error) {
	if !slices.Contains([]string{KindCase, KindAppeal}, n.Kind) || n.ItemID == "" || n.Author == "" || n.Body == "" {
		return nil, errors.New("add note: kind, item id, author and body are required")
	}
	n.NoteID = uuid.Must(uuid.NewV7()).String()
	n.At = normTime(n.At)
	exists := `SELECT 1 FROM review_cases WHERE case_id = ?`
	if n.Kind == KindAppeal {
		exists = `SELECT 1 FROM appeals WHERE appeal_id = ?`
	}
	res, err := l.w.ExecContext(ctx, l.d.rebind(`INSERT INTO review_notes (note_id, kind, item_id, author, at, body)
		SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (`+exists+`)`),
		n.NoteID, n.Kind, n.ItemID, n.Author, l.d.ts(n.At), n.Body, n.ItemID)
	if err != nil {
		return nil, fmt.Errorf("add note to %s %s: %w", n.Kind, n.ItemID, err)
	}
	if k, err := res.RowsAffected(); err != nil {
		return nil, fmt.Errorf("add note to %s %s: %w", n.Kind, n.ItemID, err)
	} else if k == 0 {
		return nil, fmt.Errorf("%s %s: %w", n.Kind, n.ItemID, decision.ErrNotFound)
	}
	return &n, nil
}

// Notes returns the notes on a case or an appeal, oldest first.
func (l *Ledger) Notes(ctx context.Context, itemID string) ([]Note, error) {
	rows, err := l.r.QueryContext(ctx, l.d.rebind(`SELECT note_id, kind, item_id, author, at, body
		FROM review_notes WHERE item_id = ? ORDER BY at, note_id`), itemID)
	if err != nil {
		return nil, fmt.Errorf("notes of %s: %w", itemID, err)
	}
	defer rows.Close()
	var out []Note
	for rows.Next() {
		var (
			n  Note
			at dbTime
		)
		if err := rows.Scan(&n.NoteID, &n.Kind, &n.ItemID, &n.Author, &at, &n.Body); err != nil {
			return nil, fmt.Errorf("notes of %s: %w", itemID, err)
		}
		n.At = at.Time
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("notes of %s: %w", itemID, err)
	}
	return out, nil
}

// openCases fills in the subject's open review case (one at most).
func (l *Ledger) openCases(ctx context.Context, s *decision.Standing) error {
	rows, err := l.r.QueryContext(ctx, l.d.rebind(`SELECT case_id, opened_at, due_at FROM review_cases
		WHERE subject_id = ? AND status = 'open' ORDER BY opened_at, case_id`), s.SubjectID)
	if err != nil {
		return fmt.Errorf("cases: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			c           decision.OpenCase
			opened, due dbTime
		)
		if err := rows.Scan(&c.CaseID, &opened, &due); err != nil {
			return fmt.Errorf("cases: %w", err)
		}
		c.OpenedAt, c.DueAt = opened.Time, due.Time
		s.OpenCases = append(s.OpenCases, c)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cases: %w", err)
	}
	return nil
}
