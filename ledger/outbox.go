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

// The outbox: every change of standing, appeal, case or list writes its
// events with emit, inside the transaction that makes the change, so an
// event exists if and only if its change committed. Package events
// delivers them.

// emit writes evs to the outbox inside tx. The caller must already hold the
// lock of every subject it writes about — its subject_versions row
// (lockSubject, bumpSubject) for an account, the lists lock for a list —
// so that on PostgreSQL, where seq is handed out at insert time, a
// subject's events are numbered in the order their transactions commit.
// SQLite's one writer gives that order anyway.
func (l *Ledger) emit(ctx context.Context, tx *sql.Tx, evs ...events.Event) error {
	if len(evs) == 0 {
		return nil
	}
	ins := tx.StmtContext(ctx, l.put.event)
	for i, e := range evs {
		if e.Type == "" || e.Subject == "" || e.Time.IsZero() {
			return fmt.Errorf("write event %d: type, subject and time are required", i)
		}
		data := string(e.Data)
		if data == "" {
			data = "{}"
		}
		if _, err := ins.ExecContext(ctx, uuid.Must(uuid.NewV7()).String(), e.Type, e.Subject, l.d.ts(e.Time), data); err != nil {
			return fmt.Errorf("write event %d: %w", i, err)
		}
	}
	return nil
}

// EventsWritten is signalled (without blocking; one signal may stand for
// many) after a transaction that wrote events commits in this process, so
// the delivery loop need not wait for its next poll.
func (l *Ledger) EventsWritten() <-chan struct{} { return l.outboxKick }

// eventsCommitted signals EventsWritten when n events just committed.
func (l *Ledger) eventsCommitted(n int) {
	if n == 0 {
		return
	}
	select {
	case l.outboxKick <- struct{}{}:
	default:
	}
}

// mustEvent builds an event from data that always encodes.
func mustEvent(typ, subject string, at time.Time, data any) events.Event {
	e, err := events.NewEvent(typ, subject, normTime(at), data)
	if err != nil {
		panic(fmt.Sprintf("encode %s event: %v", typ, err)) // plain structs of strings and times
	}
	return e
}

// decisionEvents writes, inside Commit's transaction, the events of a
// stored decision: the restrictive decision itself, the holds and the
// suspension it placed, and the holds and suspension it lifted (lifted is
// how many holds its passing a remedy checkpoint lifted). Dry runs and
// fallbacks change no standing and write none. It returns how many it
// wrote. Commit holds the subject's lock.
func (l *Ledger) decisionEvents(ctx context.Context, tx *sql.Tx, st *decision.Record, lifted int64) (int, error) {
	if st.DryRun || st.Fallback {
		return 0, nil
	}
	v := &st.Verdict
	at := st.DecidedAt
	var evs []events.Event
	remedy := ""
	if v.Remedy != nil {
		remedy = v.Remedy.Checkpoint
	}
	if v.Action == decision.Restrict || v.Action == decision.Suspend {
		src := decision.SourcePolicy
		if st.IsManual() {
			src = decision.SourceManual
		}
		d := events.DecisionData{
			DecisionID: st.DecisionID, SubjectID: st.SubjectID, Checkpoint: st.Checkpoint,
			Action: v.Action.String(), Reasons: reasonCodes(v.Reasons), Source: src,
			Appealable: v.Appealable(), RemedyCheckpoint: remedy, DecidedAt: at,
		}
		for _, r := range v.Restrictions {
			until := r.Until
			if !r.InForce() {
				until = st.Until(r.Duration)
			}
			d.Restrictions = append(d.Restrictions, events.RestrictionData{Capability: r.Capability, Until: until})
		}
		evs = append(evs, mustEvent(events.TypeDecisionRestrictive, st.SubjectID, at, d))
	}
	byHand := st.Manual != nil && (st.Manual.Kind == decision.ManualLift || st.Manual.Kind == decision.ManualReinstate)
	if !byHand { // as enforce: a lift or reinstatement places nothing
		for _, r := range v.Restrictions {
			if r.InForce() {
				continue
			}
			evs = append(evs, mustEvent(events.TypeHoldPlaced, st.SubjectID, at, events.HoldData{
				SubjectID: st.SubjectID, Capability: r.Capability, DecisionID: st.DecisionID,
				Since: at, Until: st.Until(r.Duration), RemedyCheckpoint: remedy,
			}))
		}
	}
	if v.Action == decision.Suspend {
		var since, until dbTime
		var src string
		err := tx.QueryRowContext(ctx, l.d.rebind(`SELECT since, until, source FROM suspensions WHERE decision_id = ?`), st.DecisionID).
			Scan(&since, &until, &src)
		switch {
		case err == nil:
			evs = append(evs, mustEvent(events.TypeAccountSuspended, st.SubjectID, at, events.SuspensionData{
				SubjectID: st.SubjectID, DecisionID: st.DecisionID, Since: since.Time, Until: until.Time, Source: src,
			}))
		case !errors.Is(err, sql.ErrNoRows): // none: a suspension was already in force
			return 0, fmt.Errorf("events: read suspension: %w", err)
		}
	}
	if lifted > 0 || byHand {
		ended, err := l.endedEvents(ctx, tx, `lifted_by = ?`, []any{st.DecisionID}, st.DecisionID, at)
		if err != nil {
			return 0, err
		}
		evs = append(evs, ended...)
	}
	return len(evs), l.emit(ctx, tx, evs...)
}

// endedEvents reads, inside tx, the holds and suspensions that where
// selects (after "WHERE ") and that were lifted at at, and returns their
// events: lifted, or — for one that had already run out unnoticed —
// expired, once. by names the decision or appeal that ended them.
func (l *Ledger) endedEvents(ctx context.Context, tx *sql.Tx, where string, args []any, by string, at time.Time) ([]events.Event, error) {
	var evs []events.Event
	rows, err := tx.QueryContext(ctx, l.d.rebind(`SELECT id, subject_id, capability, decision_id, since, until,
		remedy_checkpoint, lifted_at, lifted_kind, expiry_evented FROM holds WHERE `+where+` ORDER BY id`), args...)
	if err != nil {
		return nil, fmt.Errorf("events: read lifted holds: %w", err)
	}
	var expired []int64
	for rows.Next() {
		var (
			id                  int64
			h                   events.HoldData
			since, until, ended dbTime
			kind                string
			evented             bool
		)
		if err := rows.Scan(&id, &h.SubjectID, &h.Capability, &h.DecisionID, &since, &until,
			&h.RemedyCheckpoint, &ended, &kind, &evented); err != nil {
			rows.Close()
			return nil, fmt.Errorf("events: read lifted holds: %w", err)
		}
		if !ended.Valid || !ended.Time.Equal(normTime(at)) {
			continue // ended before, by something else
		}
		h.Since, h.Until = since.Time, until.Time
		if until.Valid && !until.Time.After(ended.Time) {
			// It had run out before it was lifted: it expired.
			if evented {
				continue
			}
			h.EndedAt, h.How = until.Time, events.EndedExpired
			evs = append(evs, mustEvent(events.TypeHoldExpired, h.SubjectID, until.Time, h))
			expired = append(expired, id)
			continue
		}
		h.EndedAt, h.How, h.By = ended.Time, kind, by
		evs = append(evs, mustEvent(events.TypeHoldLifted, h.SubjectID, ended.Time, h))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events: read lifted holds: %w", err)
	}
	if err := l.markExpiryEvented(ctx, tx, "holds", "id", expired); err != nil {
		return nil, err
	}
	rows, err = tx.QueryContext(ctx, l.d.rebind(`SELECT subject_id, decision_id, since, until, source,
		lifted_at, lifted_kind, expiry_evented FROM suspensions WHERE `+where+` ORDER BY since, decision_id`), args...)
	if err != nil {
		return nil, fmt.Errorf("events: read lifted suspensions: %w", err)
	}
	var expiredS []any
	for rows.Next() {
		var (
			s                   events.SuspensionData
			since, until, ended dbTime
			kind                string
			evented             bool
		)
		if err := rows.Scan(&s.SubjectID, &s.DecisionID, &since, &until, &s.Source, &ended, &kind, &evented); err != nil {
			rows.Close()
			return nil, fmt.Errorf("events: read lifted suspensions: %w", err)
		}
		if !ended.Valid || !ended.Time.Equal(normTime(at)) {
			continue
		}
		s.Since, s.Until = since.Time, until.Time
		if until.Valid && !until.Time.After(ended.Time) {
			if evented {
				continue
			}
			s.EndedAt, s.How = until.Time, events.EndedExpired
			evs = append(evs, mustEvent(events.TypeAccountReinstated, s.SubjectID, until.Time, s))
			expiredS = append(expiredS, s.DecisionID)
			continue
		}
		s.EndedAt, s.How, s.By = ended.Time, kind, by
		evs = append(evs, mustEvent(events.TypeAccountReinstated, s.SubjectID, ended.Time, s))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events: read lifted suspensions: %w", err)
	}
	if len(expiredS) > 0 {
		if _, err := tx.ExecContext(ctx, l.d.rebind(`UPDATE suspensions SET expiry_evented = ? WHERE decision_id IN (?`+
			strings.Repeat(", ?", len(expiredS)-1)+`)`), append([]any{true}, expiredS...)...); err != nil {
			return nil, fmt.Errorf("events: mark suspensions expired: %w", err)
		}
	}
	return evs, nil
}

func (l *Ledger) markExpiryEvented(ctx context.Context, tx *sql.Tx, table, key string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	args := []any{true}
	for _, id := range ids {
		args = append(args, id)
	}
	if _, err := tx.ExecContext(ctx, l.d.rebind(`UPDATE `+table+` SET expiry_evented = ? WHERE `+key+` IN (?`+
		strings.Repeat(", ?", len(ids)-1)+`)`), args...); err != nil {
		return fmt.Errorf("events: mark %s expired: %w", table, err)
	}
	return nil
}
