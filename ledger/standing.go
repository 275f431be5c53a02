package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gavel/gavel/decision"
)

// lockSubject takes the lock on the subject's version row inside tx and
// returns the version. On PostgreSQL the row lock (an upsert's, see
// queries.go) holds every other transaction of the subject, on any
// replica, until tx ends; on SQLite the single writer connection already
// does.
func (l *Ledger) lockSubject(ctx context.Context, tx *sql.Tx, subjectID string) (int64, error) {
	v, _, err := l.lockSubjectAsOf(ctx, tx, subjectID, time.Time{})
	return v, err
}

// lockSubjectAsOf is lockSubject that also reports whether a commit
// changed the subject's standing as of a time after asOf: one that a
// history read as of asOf leaves out, whatever the version says.
func (l *Ledger) lockSubjectAsOf(ctx context.Context, tx *sql.Tx, subjectID string, asOf time.Time) (version int64, changedAfter bool, err error) {
	err = tx.StmtContext(ctx, l.put.versionLock).QueryRowContext(ctx, subjectID, l.d.ts(asOf)).Scan(&version, &changedAfter)
	return version, changedAfter, err
}

// bumpSubject records inside tx that the subject's standing changed, as
// of at.
func (l *Ledger) bumpSubject(ctx context.Context, tx *sql.Tx, subjectID string, at time.Time) error {
	if _, err := tx.StmtContext(ctx, l.put.versionBump).ExecContext(ctx, subjectID, l.d.ts(at)); err != nil {
		return fmt.Errorf("bump standing version of %q: %w", subjectID, err)
	}
	return nil
}

// Redone reports how many decisions were made again at commit because the
// subject's standing changed after their history was read.
func (l *Ledger) Redone() int64 { return l.redone.Load() }

// liftByHand ends, for a reviewer's lift or reinstatement, the holds and the
// suspension it names that are in force.
func (l *Ledger) liftByHand(ctx context.Context, tx *sql.Tx, st *decision.Record) error {
	m := st.Manual
	at := l.d.ts(st.DecidedAt)
	reason := fmt.Sprintf("%s by %s (%s): %s", m.Kind, m.Reviewer, m.ReasonCode, m.Note)
	holds := `UPDATE holds SET lifted_at = ?, lifted_reason = ?, lifted_kind = 'lifted', lifted_by = ?, lifted_reviewer = ?
		WHERE subject_id = ? AND lifted_at IS NULL AND since <= ? AND (until IS NULL OR until > ?)`
	args := []any{at, reason, st.DecisionID, m.Reviewer, st.SubjectID, at, at}
	if m.Kind == decision.ManualLift {
		if len(m.Capabilities) == 0 {
			holds = ""
		} else {
			holds += ` AND capability IN (?` + strings.Repeat(", ?", len(m.Capabilities)-1) + `)`
			for _, c := range m.Capabilities {
				args = append(args, c)
			}
		}
	}
	if holds != "" {
		if _, err := tx.ExecContext(ctx, l.d.rebind(holds), args...); err != nil {
			return fmt.Errorf("lift holds: %w", err)
		}
	}
	if m.Kind == decision.ManualReinstate || m.Suspension {
		if _, err := tx.ExecContext(ctx, l.d.rebind(`UPDATE suspensions
			SET lifted_at = ?, lifted_reason = ?, lifted_kind = 'lifted', lifted_by = ?, lifted_reviewer = ?
			WHERE subject_id = ? AND lifted_at IS NULL AND since <= ? AND (until IS NULL OR until > ?)`),
			at, reason, st.DecisionID, m.Reviewer, st.SubjectID, at, at); err != nil {
			return fmt.Errorf("lift suspension: %w", err)
		}
	}
	return nil
}

// clearRules records, for an overturned decision, that each reason that
// fired in it is cleared for its subject on its evidence until
// at+clearFor, and returns the subject. Reasons about gavel's own state
// (a fallback, a hold re-asserted) are not rules of conduct and are not
// cleared.
func (l *Ledger) clearRules(ctx context.Context, tx *sql.Tx, decisionID, appealID string, at time.Time, clearFor time.Duration) (string, error) {
	var body []byte
	if err := tx.QueryRowContext(ctx, l.q.recordByID, decisionID).Scan(&body); err != nil {
		return "", fmt.Errorf("clear rules: read decision: %w", err)
	}
	rec, err := decodeRecord(body)
	if err != nil {
		return "", fmt.Errorf("clear rules: %w", err)
	}
	if rec.IsManual() {
		return rec.SubjectID, nil // a reviewer's action is no rule to clear
	}
	seen := map[string]bool{}
	for _, r := range rec.Verdict.Reasons {
		switch r.Code {
		case "", decision.ReasonPolicyUnavailable, decision.ReasonLedgerUnavailable, "HOLD_ACTIVE", "ACCOUNT_SUSPENDED", "REPEAT_VIOLATION":
			continue
		}
		ev := r.Evidence
		if ev == nil {
			ev = []map[string]any{}
		}
		evJSON, err := json.Marshal(ev)
		if err != nil {
			return "", fmt.Errorf("clear rule %s: evidence: %w", r.Code, err)
		}
		if key := r.Code + "\x00" + string(evJSON); seen[key] {
			continue
		} else {
			seen[key] = true
		}
		if _, err := tx.ExecContext(ctx, l.d.rebind(`INSERT INTO cleared_rules
			(subject_id, code, rule, evidence, since, until, appeal_id, decision_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			rec.SubjectID, r.Code, r.Rule, string(evJSON), l.d.ts(at), l.d.ts(at.Add(clearFor)), appealID, decisionID); err != nil {
			return "", fmt.Errorf("clear rule %s: %w", r.Code, err)
		}
	}
	return rec.SubjectID, nil
}

// Standing returns the subject's standing now: holds and suspension in
// force, unexpired strikes, open appeals, rules cleared by overturns, and
// its last decisions. A subject the ledger has no decision about is
// decision.ErrNotFound.
func (l *Ledger) Standing(ctx context.Context, subjectID string, now time.Time) (*decision.Standing, error) {
	now = normTime(now)
	at := l.d.ts(now)
	recent, _, err := l.List(ctx, subjectID, 10, "")
	if err != nil {
		return nil, fmt.Errorf("standing of %q: %w", subjectID, err)
	}
	if len(recent) == 0 {
		return nil, fmt.Errorf("standing of %q: %w", subjectID, decision.ErrNotFound)
	}
	h, err := l.History(ctx, subjectID, now)
	if err != nil {
		return nil, fmt.Errorf("standing of %q: %w", subjectID, err)
	}
	s := &decision.Standing{SubjectID: subjectID, Holds: h.Holds, Cleared: h.Cleared, Recent: recent, Version: h.Version}
	if h.Suspended {
		var since, until dbTime
		s.Suspension = &decision.Suspension{DecisionID: h.SuspendedBy, Source: h.SuspensionSource}
		if err := l.r.QueryRowContext(ctx, l.d.rebind(`SELECT since, until FROM suspensions WHERE decision_id = ?`), h.SuspendedBy).
			Scan(&since, &until); err != nil {
			return nil, fmt.Errorf("standing of %q: suspension: %w", subjectID, err)
		}
		s.Suspension.Since, s.Suspension.Until = since.Time, until.Time
	}
	rows, err := l.r.QueryContext(ctx, l.d.rebind(`SELECT decision_id, codes, at, expires_at FROM strikes
		WHERE subject_id = ? AND overturned_at IS NULL AND at <= ? AND expires_at > ? ORDER BY at, decision_id`), subjectID, at, at)
	if err != nil {
		return nil, fmt.Errorf("standing of %q: strikes: %w", subjectID, err)
	}
	for rows.Next() {
		var (
			x        decision.Strike
			codes    []byte
			t, until dbTime
		)
		if err := rows.Scan(&x.DecisionID, &codes, &t, &until); err != nil {
			rows.Close()
			return nil, fmt.Errorf("standing of %q: strikes: %w", subjectID, err)
		}
		if x.Codes, err = appendCodes(nil, codes); err != nil {
			rows.Close()
			return nil, fmt.Errorf("standing of %q: strikes: %w", subjectID, err)
		}
		x.At, x.ExpiresAt = t.Time, until.Time
		s.Strikes = append(s.Strikes, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("standing of %q: strikes: %w", subjectID, err)
	}
	rows, err = l.r.QueryContext(ctx, l.d.rebind(`SELECT appeal_id, decision_id, filed_at FROM appeals
		WHERE subject_id = ? AND status = 'open' ORDER BY filed_at, appeal_id`), subjectID)
	if err != nil {
		return nil, fmt.Errorf("standing of %q: appeals: %w", subjectID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			a     decision.OpenAppeal
			filed dbTime
		)
		if err := rows.Scan(&a.AppealID, &a.DecisionID, &filed); err != nil {
			return nil, fmt.Errorf("standing of %q: appeals: %w", subjectID, err)
		}
		a.FiledAt = filed.Time
		s.OpenAppeals = append(s.OpenAppeals, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("standing of %q: appeals: %w", subjectID, err)
	}
	rows.Close()
	if err := l.openCases(ctx, s); err != nil {
		return nil, fmt.Errorf("standing of %q: %w", subjectID, err)
	}
	return s, nil
}

// effects fills in rec's holds, suspension and strike and what became of
// each as of now.
func (l *Ledger) effects(ctx context.Context, rec *decision.Record, now time.Time) error {
	rec.Effects = rec.Effects[:0]
	rows, err := l.r.QueryContext(ctx, l.d.rebind(`SELECT capability, since, until, lifted_at, lifted_kind, lifted_by, lifted_reviewer
		FROM holds WHERE decision_id = ? ORDER BY capability, id`), rec.DecisionID)
	if err != nil {
		return fmt.Errorf("effects: holds: %w", err)
	}
	for rows.Next() {
		var (
			e                    decision.Effect
			since, until, lifted dbTime
			kind                 string
		)
		if err := rows.Scan(&e.Capability, &since, &until, &lifted, &kind, &e.By, &e.Reviewer); err != nil {
			rows.Close()
			return fmt.Errorf("effects: holds: %w", err)
		}
		e.Kind, e.Since, e.Until = decision.EffectHold, since.Time, until.Time
		e.State, e.StateAt = effectState(lifted, kind, until, now)
		rec.Effects = append(rec.Effects, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("effects: holds: %w", err)
	}
	var (
		e                    decision.Effect
		since, until, lifted dbTime
		kind                 string
	)
	err = l.r.QueryRowContext(ctx, l.d.rebind(`SELECT since, until, lifted_at, lifted_kind, lifted_by, lifted_reviewer
		FROM suspensions WHERE decision_id = ?`), rec.DecisionID).Scan(&since, &until, &lifted, &kind, &e.By, &e.Reviewer)
	switch {
	case err == nil:
		e.Kind, e.Since, e.Until = decision.EffectSuspension, since.Time, until.Time
		e.State, e.StateAt = effectState(lifted, kind, until, now)
		rec.Effects = append(rec.Effects, e)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("effects: suspension: %w", err)
	}
	var (
		s               decision.Effect
		at, expires, ov dbTime
	)
	err = l.r.QueryRowContext(ctx, l.d.rebind(`SELECT at, expires_at, overturned_at, overturned_by FROM strikes WHERE decision_id = ?`),
		rec.DecisionID).Scan(&at, &expires, &ov, &s.By)
	switch {
	case err == nil:
		kind := ""
		if ov.Valid {
			kind = decision.StateOverturned
		}
		s.Kind, s.Since, s.Until = decision.EffectStrike, at.Time, expires.Time
		s.State, s.StateAt = effectState(ov, kind, expires, now)
		rec.Effects = append(rec.Effects, s)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("effects: strike: %w", err)
	}
	return l.r.QueryRowContext(ctx, l.d.rebind(`SELECT overturned_by FROM decisions WHERE decision_id = ?`), rec.DecisionID).
		Scan(&rec.OverturnedBy)
}

// effectState is the state of an effect that ended at ended (NULL: not
// ended) in the way kind says, or ran until until.
func effectState(ended dbTime, kind string, until dbTime, now time.Time) (string, time.Time) {
	if ended.Valid {
		switch kind {
		case decision.StateRemedied, decision.StateLifted, decision.StateOverturned:
			return kind, ended.Time
		}
		return decision.StateLifted, ended.Time // lifted before its kind was recorded
	}
	if until.Valid && !until.Time.After(now) {
		return decision.StateExpired, until.Time
	}
	return decision.StateInForce, time.Time{}
}

// Supersede records that a fallback decided while the ledger was away, for
// a request id the ledger had already decided, resolves to the ledger's
// decision: Get of the fallback's id returns the ledger's decision with
// SupersededID set.
func (l *Ledger) Supersede(ctx context.Context, fallbackID, requestID, byDecisionID string, at time.Time) error {
	if _, err := l.w.ExecContext(ctx, l.d.rebind(`INSERT INTO superseded (decision_id, request_id, by_decision_id, at)
		VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`), fallbackID, requestID, byDecisionID, l.d.ts(at)); err != nil {
		return fmt.Errorf("supersede decision %s by %s: %w", fallbackID, byDecisionID, err)
	}
	return nil
}
