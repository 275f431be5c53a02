package decision

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
)

// ManualCheckpoint is the checkpoint of a reviewer's action: not a step of
// the account's journey, and never a configured checkpoint.
const ManualCheckpoint = "manual"

// maxNoteBytes bounds a reviewer's note.
const maxNoteBytes = 4096

// SetCatalog gives the engine the reason catalog that manual actions take
// their texts from. Without one, manual actions are ErrUnavailable.
func (e *Engine) SetCatalog(c Catalog) { e.catalog = c }

// Standing returns the subject's standing now, or ErrNotFound.
func (e *Engine) Standing(ctx context.Context, subjectID string) (*Standing, error) {
	if !idPattern.MatchString(subjectID) {
		return nil, ValidationError{{Field: "subject_id", Reason: IDRule}}
	}
	return e.ledger.Standing(ctx, subjectID, e.cfg.Now())
}

// Enforce records a reviewer's action on an account as a decision of its
// own: source manual, the reviewer and note, the catalog's texts for the
// reason code. Suspend and Restrict count a strike and are appealable like
// any restrictive decision; Lift ends the named holds (or the suspension)
// in force, Reinstate the suspension and every hold. The action is checked
// against the subject's standing as the ledger holds it at commit, under
// the subject's lock: an action that does not apply is ErrPrecondition, an
// unknown subject ErrNotFound. The decision reaches the observers like any
// other.
func (e *Engine) Enforce(ctx context.Context, a ManualAction) (*Record, error) {
	if err := e.validateManual(&a); err != nil {
		return nil, err
	}
	if e.catalog == nil {
		return nil, fmt.Errorf("%w: no reason catalog is active", ErrUnavailable)
	}
	reason, ok := e.catalog.Reason(a.ReasonCode)
	if !ok {
		return nil, ValidationError{{Field: "reason_code", Reason: fmt.Sprintf("%q is not in the reason catalog", a.ReasonCode)}}
	}
	if a.RequestID == "" {
		a.RequestID = "manual-" + uuid.Must(uuid.NewV7()).String()
	}
	if prev, err := e.ledger.ByRequestID(ctx, a.RequestID); err == nil {
		if prev.SubjectID != a.SubjectID || prev.Checkpoint != ManualCheckpoint {
			return nil, ErrConflict
		}
		cp := *prev
		cp.Replayed = true
		return &cp, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: look up request %q: %v", ErrUnavailable, a.RequestID, err)
	}
	now := e.cfg.Now()
	st, err := e.ledger.Standing(ctx, a.SubjectID, now)
	if err != nil {
		return nil, err
	}
	rec := &Record{
		DecisionID: uuid.Must(uuid.NewV7()).String(),
		RequestID:  a.RequestID,
		SubjectID:  a.SubjectID,
		Checkpoint: ManualCheckpoint,
		DecidedAt:  now,
		Source:     SourceManual,
		Input:      map[string]any{},
	}
	var appeals []string
	for _, ap := range st.OpenAppeals {
		appeals = append(appeals, ap.AppealID)
	}
	build := func(_ context.Context, h History) error {
		return e.manualVerdict(rec, &a, reason, h, appeals)
	}
	h := History{Holds: st.Holds, Version: st.Version}
	if st.Suspension != nil {
		h.Suspended, h.SuspensionSource, h.SuspendedBy = true, st.Suspension.Source, st.Suspension.DecisionID
	}
	if err := build(ctx, h); err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, e.cfg.LedgerTimeout)
	defer cancel()
	stored, replayed, err := e.ledger.Commit(cctx, rec, &Basis{Version: st.Version, Redo: build})
	if err != nil {
		if errors.Is(err, ErrPrecondition) || errors.As(err, new(ValidationError)) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: record manual %s of %q: %v", ErrUnavailable, a.Kind, a.SubjectID, err)
	}
	if replayed {
		return stored, nil
	}
	e.log.Info("manual action", "decision_id", stored.DecisionID, "subject_id", stored.SubjectID,
		"kind", string(a.Kind), "reason_code", a.ReasonCode, "reviewer", a.Reviewer)
	e.observe(ctx, stored)
	return stored, nil
}

func (e *Engine) validateManual(a *ManualAction) error {
	var v ValidationError
	if a.SubjectID == "" {
		v = append(v, FieldError{"subject_id", "is required"})
	} else if !idPattern.MatchString(a.SubjectID) {
		v = append(v, FieldError{"subject_id", IDRule})
	}
	if a.RequestID != "" && !idPattern.MatchString(a.RequestID) {
		v = append(v, FieldError{"request_id", IDRule})
	}
	switch a.Kind {
	case ManualSuspend, ManualRestrict, ManualLift, ManualReinstate:
	default:
		v = append(v, FieldError{"kind", fmt.Sprintf("%q is not suspend, restrict, lift or reinstate", a.Kind)})
	}
	if a.ReasonCode == "" {
		v = append(v, FieldError{"reason_code", "is required"})
	}
	if a.Note == "" {
		v = append(v, FieldError{"note", "is required: say what the reviewer found"})
	} else if len(a.Note) > maxNoteBytes {
		v = append(v, FieldError{"note", fmt.Sprintf("is longer than %d bytes", maxNoteBytes)})
	}
	if a.Reviewer == "" {
		v = append(v, FieldError{"reviewer", "is required: the human who decided"})
	} else if len(a.Reviewer) > 256 {
		v = append(v, FieldError{"reviewer", "is longer than 256 bytes"})
	}
	if a.Duration < 0 {
		v = append(v, FieldError{"duration", "must not be negative"})
	}
	switch a.Kind {
	case ManualRestrict:
		if len(a.Capabilities) == 0 {
			v = append(v, FieldError{"capabilities", "name at least one capability to restrict"})
		}
	case ManualLift:
		if len(a.Capabilities) == 0 && !a.Suspension {
			v = append(v, FieldError{"capabilities", "name the held capabilities to lift, or lift the suspension"})
		}
	}
	if e.catalog != nil && len(a.Capabilities) > 0 {
		known := e.catalog.Capabilities()
		for _, c := range a.Capabilities {
			if !slices.Contains(known, c) {
				v = append(v, FieldError{"capabilities", fmt.Sprintf("%q is not a capability (want one of %v)", c, known)})
			}
		}
	}
	if len(v) > 0 {
		return v
	}
	return nil
}

// manualVerdict sets rec's verdict and manual record for action a on the
// history h, or says why the action does not apply.
func (e *Engine) manualVerdict(rec *Record, a *ManualAction, reason Reason, h History, appeals []string) error {
	m := &Manual{
		Kind: a.Kind, ReasonCode: a.ReasonCode, Note: a.Note, Reviewer: a.Reviewer, Caller: a.Caller,
		Capabilities: slices.Clone(a.Capabilities), Suspension: a.Suspension, Duration: a.Duration,
		AppealIDs: appeals, CaseID: a.CaseID,
	}
	var v Verdict
	switch a.Kind {
	case ManualSuspend:
		if h.Suspended {
			return fmt.Errorf("%w: %q is already suspended", ErrPrecondition, a.SubjectID)
		}
		v = Verdict{Action: Suspend, Duration: a.Duration, Strike: true}
		caps := []string{}
		if e.catalog != nil {
			caps = e.catalog.Capabilities()
		}
		for _, c := range caps {
			v.Restrictions = append(v.Restrictions, Restriction{Capability: c})
		}
	case ManualRestrict:
		v = Verdict{Action: Restrict, Duration: a.Duration, Strike: true}
		for _, c := range a.Capabilities {
			v.Restrictions = append(v.Restrictions, Restriction{Capability: c, Duration: a.Duration})
		}
	case ManualLift, ManualReinstate:
		lifted := map[string]bool{}
		for _, x := range h.Holds {
			if a.Kind == ManualReinstate || slices.Contains(a.Capabilities, x.Capability) {
				lifted[x.DecisionID] = true
			}
		}
		if h.Suspended && (a.Kind == ManualReinstate || a.Suspension) {
			lifted[h.SuspendedBy] = true
			m.LiftedSuspension = h.SuspendedBy
		}
		if a.Kind == ManualLift {
			for _, c := range a.Capabilities {
				if !slices.ContainsFunc(h.Holds, func(x Hold) bool { return x.Capability == c }) {
					return fmt.Errorf("%w: no hold on %q is in force for %q", ErrPrecondition, c, a.SubjectID)
				}
			}
			if a.Suspension && !h.Suspended {
				return fmt.Errorf("%w: %q is not suspended", ErrPrecondition, a.SubjectID)
			}
		}
		if len(lifted) == 0 {
			return fmt.Errorf("%w: %q has no hold or suspension in force", ErrPrecondition, a.SubjectID)
		}
		for id := range lifted {
			m.Lifted = append(m.Lifted, id)
		}
		slices.Sort(m.Lifted)
		v = Verdict{Action: Allow}
	}
	r := reason
	r.Action = v.Action
	r.Rule = "manual." + string(a.Kind)
	r.Evidence = []map[string]any{{"signal": "manual", "value": string(a.Kind), "reviewer": a.Reviewer}}
	if a.Kind == ManualLift || a.Kind == ManualReinstate {
		r.Appealable = false
	}
	v.Reasons = []Reason{r}
	rec.Verdict = v
	rec.Manual = m
	rec.Input = manualInput(rec, h, e.cfg.Now())
	return nil
}

// manualInput is what a manual decision records as its input: the action
// and the standing it was taken on. It is not a policy input document; a
// replay skips manual decisions.
func manualInput(rec *Record, h History, now time.Time) map[string]any {
	hist := historyDoc(&History{Holds: h.Holds, Suspended: h.Suspended, SuspensionSource: h.SuspensionSource}, now)
	return map[string]any{
		"subject":    map[string]any{"id": rec.SubjectID},
		"checkpoint": ManualCheckpoint,
		"manual":     map[string]any{"kind": string(rec.Manual.Kind), "reason_code": rec.Manual.ReasonCode, "reviewer": rec.Manual.Reviewer},
		"history":    hist,
	}
}
