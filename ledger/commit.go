package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gavel/gavel/decision"
)

// Commit stores a decision and its enforcement effects in one transaction:
// the record, the reason codes that fired, and, unless the decision is a dry
// run or a fallback, its holds, suspension and strike, and the lifting of
// holds whose remedy checkpoint the decision passed.
//
// If the request id is already stored, Commit stores nothing and returns the
// stored record with replayed true; concurrent retries of one request id
// store one decision between them and all get it back.
//
// On SQLite, decisions committing at the same moment share one transaction
// (groupcommit.go); each still commits, or fails, as if alone, and Commit
// returns only after the transaction holding its decision committed.
//
// The stored record is rec with DecidedAt in UTC truncated to microseconds
// and, when Config.StoreInput is false, without input.subject.profile.
func (l *Ledger) Commit(ctx context.Context, rec *decision.Record, basis *decision.Basis) (*decision.Record, bool, error) {
	if err := checkRecord(rec); err != nil {
		return nil, false, fmt.Errorf("commit decision: %w", err)
	}
	// The record is encoded here, on the caller's goroutine, before the
	// subject's lock and outside the transaction: on SQLite one writer runs
	// every transaction, and encoding a decision's record (its JSON, then
	// zstd) was two fifths of that writer's own work per decision.
	enc, err := l.encode(rec)
	if err != nil {
		return nil, false, err
	}
	if basis != nil && !rec.DryRun {
		unlock, err := l.subjects.lock(ctx, rec.SubjectID)
		if err != nil {
			return nil, false, fmt.Errorf("commit decision %s: wait for subject %q: %w", rec.DecisionID, rec.SubjectID, err)
		}
		defer unlock()
	}
	var s stored
	if l.group != nil {
		s, err = l.group.commit(ctx, rec, basis, enc)
	} else {
		s, err = l.commitAlone(ctx, rec, basis, enc)
	}
	if err != nil {
		return nil, false, err
	}
	l.committed(s)
	return s.rec, s.replayed, nil
}

// stored is what store did with one decision.
type stored struct {
	rec      *decision.Record // as stored, or the one stored before for its request id
	replayed bool             // rec was stored before: store wrote nothing
	emitted  int              // outbox events written
	lifted   int64            // holds lifted by its passing a remedy checkpoint
}

// commitAlone commits one decision in a transaction of its own.
func (l *Ledger) commitAlone(ctx context.Context, rec *decision.Record, basis *decision.Basis, enc *encoded) (stored, error) {
	tx, err := l.w.BeginTx(ctx, nil)
	if err != nil {
		return stored{}, fmt.Errorf("commit decision %s: begin: %w", rec.DecisionID, err)
	}
	defer tx.Rollback()
	s, err := l.store(ctx, tx, rec, basis, enc)
	if err != nil || s.replayed {
		return s, err // a replay wrote nothing worth keeping: rolled back
	}
	if err := tx.Commit(); err != nil {
		return stored{}, fmt.Errorf("commit decision %s: %w", s.rec.DecisionID, err)
	}
	return s, nil
}

// committed does what follows a decision's commit.
func (l *Ledger) committed(s stored) {
	if s.replayed {
		return
	}
	l.eventsCommitted(s.emitted)
	if s.lifted > 0 {
		l.log.Info("holds lifted by remedy", "subject_id", s.rec.SubjectID, "decision_id", s.rec.DecisionID,
			"checkpoint", s.rec.Checkpoint, "holds", s.lifted)
	}
}

// store writes one decision and everything that goes with it inside tx:
// the record, its reason codes, its effects on the subject's standing, its
// outbox events and review case. The caller holds the subject's lock (when
// basis is not nil) and commits tx, or rolls it back on an error or a
// replay. enc is rec encoded (encode); a decision made again here is
// encoded again.
func (l *Ledger) store(ctx context.Context, tx *sql.Tx, rec *decision.Record, basis *decision.Basis, enc *encoded) (stored, error) {
	if basis != nil && !rec.DryRun {
		// The subject's decisions commit one at a time: under the lock on
		// its version row, a decision made on an older standing is made
		// again on the standing now, before anything is stored.
		// So is one that a later-dated decision overtook: its history,
		// read as of its own time, left out what the version counts.
		version, changedAfter, err := l.lockSubjectAsOf(ctx, tx, rec.SubjectID, rec.DecidedAt)
		if err != nil {
			return stored{}, fmt.Errorf("commit decision %s: lock subject %q: %w", rec.DecisionID, rec.SubjectID, err)
		}
		if version != basis.Version || changedAfter {
			// A retry of a request already decided is answered with that
			// decision, not decided again.
			if prev, err := l.scanRecord(tx.QueryRowContext(ctx, l.q.recordByRequestID, rec.RequestID)); err == nil {
				prev.Replayed = true
				return stored{rec: prev, replayed: true}, nil
			} else if !errors.Is(err, decision.ErrNotFound) {
				return stored{}, fmt.Errorf("commit decision %s: look up request %q: %w", rec.DecisionID, rec.RequestID, err)
			}
			// Made again now, on everything committed before it: a
			// decision that committed first may carry a later time.
			if at := time.Now(); at.After(rec.DecidedAt) {
				rec.DecidedAt = at
			}
			h, err := l.history(ctx, source{tx: tx}, rec.SubjectID, rec.DecidedAt)
			if err != nil {
				return stored{}, fmt.Errorf("commit decision %s: %w", rec.DecisionID, err)
			}
			if err := basis.Redo(ctx, h); err != nil {
				return stored{}, fmt.Errorf("commit decision %s: %w", rec.DecisionID, err)
			}
			if err := checkRecord(rec); err != nil {
				return stored{}, fmt.Errorf("commit decision: %w", err)
			}
			l.redone.Add(1)
			if enc, err = l.encode(rec); err != nil {
				return stored{}, err
			}
		}
	}
	st, record, codes, codesJSON := enc.st, enc.record, enc.codes, enc.codesJSON
	source := decision.SourcePolicy
	if st.IsManual() {
		source = decision.SourceManual
	}
	res, err := tx.StmtContext(ctx, l.put.decision).ExecContext(ctx,
		st.DecisionID, st.RequestID, st.SubjectID, st.Checkpoint, l.d.ts(st.DecidedAt),
		st.Verdict.Action.String(), codesJSON, st.Fallback, st.DryRun,
		st.Verdict.BundleRevision, int64(st.Latency), record, source)
	if err != nil {
		return stored{}, fmt.Errorf("commit decision %s: insert: %w", st.DecisionID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return stored{}, fmt.Errorf("commit decision %s: insert: %w", st.DecisionID, err)
	}
	if n == 0 {
		prev, err := l.scanRecord(tx.QueryRowContext(ctx, l.q.recordByRequestID, st.RequestID))
		if errors.Is(err, decision.ErrNotFound) {
			return stored{}, fmt.Errorf("commit decision %s: decision id already stored for another request", st.DecisionID)
		}
		if err != nil {
			return stored{}, fmt.Errorf("commit decision %s: read back request %q: %w", st.DecisionID, st.RequestID, err)
		}
		prev.Replayed = true
		l.log.Debug("request already decided", "request_id", st.RequestID, "decision_id", prev.DecisionID)
		return stored{rec: prev, replayed: true}, nil
	}

	for _, c := range codes {
		if _, err := tx.StmtContext(ctx, l.put.reasonHit).ExecContext(ctx, st.DecisionID, c, l.d.ts(st.DecidedAt), st.DryRun); err != nil {
			return stored{}, fmt.Errorf("commit decision %s: record reason %q: %w", st.DecisionID, c, err)
		}
	}
	lifted := int64(0)
	if !st.DryRun && !st.Fallback {
		if lifted, err = l.enforce(ctx, tx, st, codesJSON); err != nil {
			return stored{}, fmt.Errorf("commit decision %s: %w", st.DecisionID, err)
		}
	}
	if !st.DryRun {
		if err := l.bumpSubject(ctx, tx, st.SubjectID, st.DecidedAt); err != nil {
			return stored{}, fmt.Errorf("commit decision %s: %w", st.DecisionID, err)
		}
	}
	// Its events, in the same transaction, under the subject's lock.
	emitted, err := l.decisionEvents(ctx, tx, st, lifted)
	if err != nil {
		return stored{}, fmt.Errorf("commit decision %s: %w", st.DecisionID, err)
	}
	// The review queue: a case opened or resolved, with its event.
	reviewed, err := l.review(ctx, tx, st)
	if err != nil {
		return stored{}, fmt.Errorf("commit decision %s: %w", st.DecisionID, err)
	}
	return stored{rec: st, emitted: emitted + reviewed, lifted: lifted}, nil
}

// enforce writes the decision's effects on the subject's standing and
// returns how many holds its passing a remedy checkpoint lifted.
func (l *Ledger) enforce(ctx context.Context, tx *sql.Tx, st *decision.Record, codesJSON string) (int64, error) {
	at := l.d.ts(st.DecidedAt)
	v := &st.Verdict
	if m := st.Manual; m != nil && (m.Kind == decision.ManualLift || m.Kind == decision.ManualReinstate) {
		return 0, l.liftByHand(ctx, tx, st)
	}
	var lifted int64
	if v.Action == decision.Allow && !st.IsManual() {
		reason := fmt.Sprintf("remedy passed at %s by decision %s", st.Checkpoint, st.DecisionID)
		res, err := tx.StmtContext(ctx, l.put.lift).ExecContext(ctx, at, reason, st.DecisionID, st.SubjectID, st.Checkpoint, at, at)
		if err != nil {
			return 0, fmt.Errorf("lift remedied holds: %w", err)
		}
		if lifted, err = res.RowsAffected(); err != nil {
			return 0, fmt.Errorf("lift remedied holds: %w", err)
		}
	}
	var remedy, remedyAt string
	if v.Remedy != nil {
		remedy, remedyAt = v.Remedy.Code, v.Remedy.Checkpoint
	}
	for _, r := range v.Restrictions {
		if r.InForce() {
			continue // a hold already in force, re-asserted: not a new one
		}
		if _, err := tx.StmtContext(ctx, l.put.hold).ExecContext(ctx, st.SubjectID, r.Capability, at,
			l.d.nullTS(st.Until(r.Duration)), st.DecisionID, remedy, remedyAt); err != nil {
			return 0, fmt.Errorf("hold %q: %w", r.Capability, err)
		}
	}
	if v.Action == decision.Suspend {
		// A suspension is a state, not a count: while one is in force, a
		// later suspend (the policy re-asserting it, or another offence)
		// adds no second one, so overturning the decision that suspended
		// the account lifts it. The later decision's strike still counts.
		var suspended bool
		if err := tx.QueryRowContext(ctx, l.d.rebind(`SELECT EXISTS (SELECT 1 FROM suspensions
			WHERE subject_id = ? AND lifted_at IS NULL AND since <= ? AND (until IS NULL OR until > ?))`),
			st.SubjectID, at, at).Scan(&suspended); err != nil {
			return 0, fmt.Errorf("suspend: read standing: %w", err)
		}
		if !suspended {
			src := decision.SourcePolicy
			if st.IsManual() {
				src = decision.SourceManual
			}
			if _, err := tx.StmtContext(ctx, l.put.suspension).ExecContext(ctx, st.DecisionID, st.SubjectID, at,
				l.d.nullTS(st.Until(v.Duration)), src); err != nil {
				return 0, fmt.Errorf("suspend: %w", err)
			}
		}
	}
	if v.Strike {
		if _, err := tx.StmtContext(ctx, l.put.strike).ExecContext(ctx, st.DecisionID, st.SubjectID, codesJSON, at,
			l.d.ts(st.DecidedAt.Add(l.cfg.StrikeTTL))); err != nil {
			return 0, fmt.Errorf("strike: %w", err)
		}
	}
	return lifted, nil
}

func checkRecord(rec *decision.Record) error {
	var errs []error
	if rec == nil {
		return errors.New("nil record")
	}
	if rec.DecisionID == "" {
		errs = append(errs, errors.New("no decision id"))
	}
	if rec.RequestID == "" {
		errs = append(errs, errors.New("no request id"))
	}
	if rec.SubjectID == "" {
		errs = append(errs, errors.New("no subject id"))
	}
	if rec.Checkpoint == "" {
		errs = append(errs, errors.New("no checkpoint"))
	}
	if rec.DecidedAt.IsZero() {
		errs = append(errs, errors.New("no decision time"))
	}
	if !rec.Verdict.Action.Valid() {
		errs = append(errs, fmt.Errorf("action %v is not enforceable", rec.Verdict.Action))
	}
	for i, r := range rec.Verdict.Restrictions {
		if r.Capability == "" {
			errs = append(errs, fmt.Errorf("restriction %d has no capability", i))
		}
		if r.Duration < 0 {
			errs = append(errs, fmt.Errorf("restriction %q has a negative duration", r.Capability))
		}
	}
	return errors.Join(errs...)
}

// encoded is a decision as store writes it: the record as stored, the value
// of decisions.record, and the distinct reason codes that fired.
type encoded struct {
	st        *decision.Record
	record    any
	codes     []string
	codesJSON string
}

// encode returns rec as store writes it. The record it returns is a copy of
// rec that shares rec's slices and maps: a decision made again at commit
// (Basis.Redo may change them) is encoded again, and this one dropped.
func (l *Ledger) encode(rec *decision.Record) (*encoded, error) {
	st := l.storable(rec)
	record, err := l.encodeRecord(st)
	if err != nil {
		return nil, fmt.Errorf("commit decision %s: encode record: %w", st.DecisionID, err)
	}
	codes := reasonCodes(st.Verdict.Reasons)
	codesJSON, err := json.Marshal(codes)
	if err != nil {
		return nil, fmt.Errorf("commit decision %s: encode reason codes: %w", st.DecisionID, err)
	}
	return &encoded{st: st, record: record, codes: codes, codesJSON: string(codesJSON)}, nil
}

// storable returns the record as the ledger stores it.
func (l *Ledger) storable(rec *decision.Record) *decision.Record {
	st := *rec
	st.DecidedAt = normTime(rec.DecidedAt)
	st.Replayed = false
	if !l.cfg.StoreInput {
		st.Input = withoutProfile(rec.Input)
	}
	return &st
}

// withoutProfile returns input without subject.profile, leaving input
// itself untouched.
func withoutProfile(input map[string]any) map[string]any {
	subject, ok := input["subject"].(map[string]any)
	if !ok {
		return input
	}
	if _, ok := subject["profile"]; !ok {
		return input
	}
	in := make(map[string]any, len(input))
	for k, v := range input {
		in[k] = v
	}
	s := make(map[string]any, len(subject))
	for k, v := range subject {
		if k != "profile" {
			s[k] = v
		}
	}
	in["subject"] = s
	return in
}

// reasonCodes returns the distinct reason codes in the order they fired.
func reasonCodes(reasons []decision.Reason) []string {
	codes := make([]string, 0, len(reasons))
outer:
	for _, r := range reasons {
		if r.Code == "" {
			continue
		}
		for _, c := range codes {
			if c == r.Code {
				continue outer
			}
		}
		codes = append(codes, r.Code)
	}
	return codes
}

// Overturn records that an appeal overturned a decision: the decision is
// marked, its strike no longer counts, its holds and suspension are lifted
// with the given reason, and each reason code that fired in it is marked a
// false positive. Overturning twice changes nothing; an unknown decision is
// decision.ErrNotFound. ResolveAppeal does the same as part of resolving.
func (l *Ledger) Overturn(ctx context.Context, decisionID, reason string, at time.Time) error {
	tx, err := l.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("overturn decision %s: begin: %w", decisionID, err)
	}
	defer tx.Rollback()
	if err := l.overturn(ctx, tx, decisionID, reason, "", at, l.cfg.ClearFor); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("overturn decision %s: %w", decisionID, err)
	}
	l.eventsCommitted(1)
	return nil
}
