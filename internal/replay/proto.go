package replay

import (
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gavel/gavel/decision"
	replayv1 "github.com/gavel/gavel/proto/gavel/replay/v1"
)

// ToProto is the report as the replay service sends it. The window comes
// from the job's filter, which the report only names as text.
func (r *Report) ToProto(since, until time.Time, checkpoint string) *replayv1.ReplayReport {
	p := &replayv1.ReplayReport{
		CandidateRevisions: r.CandidateRevisions, Since: timestamp(since), Until: timestamp(until),
		Checkpoint: checkpoint, Selected: r.Selected, Replayed: r.Replayed,
		SkippedNoInput: r.Skipped.NoInput, SkippedNoProfile: r.Skipped.NoProfile, SkippedManual: r.Skipped.Manual,
		Errors: r.Errors, FirstError: r.FirstError, Changed: r.Changed, ReasonActionsChanged: r.ReasonActionsChanged,
		EscalationsTotal: r.EscalationsTotal, LessSevereTotal: r.LessSevereTotal,
		Appeals: &replayv1.AppealImpact{
			Overturned: r.Appeals.Overturned, OverturnedAvoided: r.Appeals.OverturnedAvoided, OverturnedToAllow: r.Appeals.OverturnedToAllow,
			Upheld: r.Appeals.Upheld, UpheldLetThrough: r.Appeals.UpheldLetThrough, UpheldToAllow: r.Appeals.UpheldToAllow,
		},
		Elapsed: durationpb.New(r.Elapsed),
	}
	for _, rc := range r.ActiveRevisions {
		p.ActiveRevisions = append(p.ActiveRevisions, &replayv1.RevisionCount{Revision: rc.Revision, Decisions: rc.Decisions})
	}
	for _, c := range r.Matrix {
		p.Matrix = append(p.Matrix, &replayv1.Cell{From: c.From.String(), To: c.To.String(), Count: c.Count})
	}
	for _, d := range r.Reasons {
		p.Reasons = append(p.Reasons, &replayv1.ReasonDelta{Code: d.Code, Before: d.Before, After: d.After, Delta: d.Delta})
	}
	for _, c := range r.ReasonActions {
		p.ReasonActions = append(p.ReasonActions, &replayv1.ReasonActionCount{Code: c.Code, From: c.From.String(), To: c.To.String(), Count: c.Count})
	}
	p.Escalations = escalationsToProto(r.Escalations)
	p.LessSevere = escalationsToProto(r.LessSevere)
	return p
}

func escalationsToProto(list []Escalation) []*replayv1.Escalation {
	var out []*replayv1.Escalation
	for _, e := range list {
		pe := &replayv1.Escalation{
			DecisionId: e.DecisionID, SubjectId: e.SubjectID, Checkpoint: e.Checkpoint, DecidedAt: timestamp(e.DecidedAt),
			From: e.From.String(), To: e.To.String(), Before: e.Before, After: e.After, Outcome: e.Outcome,
		}
		for _, c := range e.Reasons {
			pe.ReasonChanges = append(pe.ReasonChanges, &replayv1.ReasonChange{Code: c.Code, From: actionName(c.From), To: actionName(c.To)})
		}
		out = append(out, pe)
	}
	return out
}

// FromProto is a report the replay service sent, named name.
func FromProto(name string, p *replayv1.ReplayReport) *Report {
	r := &Report{
		Candidate: name, CandidateRevisions: p.GetCandidateRevisions(), Checkpoint: p.GetCheckpoint(),
		Selected: p.GetSelected(), Replayed: p.GetReplayed(), Errors: p.GetErrors(), FirstError: p.GetFirstError(),
		Changed: p.GetChanged(), ReasonActionsChanged: p.GetReasonActionsChanged(),
		EscalationsTotal: p.GetEscalationsTotal(), LessSevereTotal: p.GetLessSevereTotal(), Elapsed: p.GetElapsed().AsDuration(),
		Skipped: Skips{NoInput: p.GetSkippedNoInput(), NoProfile: p.GetSkippedNoProfile(), Manual: p.GetSkippedManual()},
		Appeals: AppealImpact{
			Overturned: p.GetAppeals().GetOverturned(), OverturnedAvoided: p.GetAppeals().GetOverturnedAvoided(),
			OverturnedToAllow: p.GetAppeals().GetOverturnedToAllow(), Upheld: p.GetAppeals().GetUpheld(),
			UpheldLetThrough: p.GetAppeals().GetUpheldLetThrough(), UpheldToAllow: p.GetAppeals().GetUpheldToAllow(),
		},
	}
	if p.GetSince() != nil {
		r.Since = p.GetSince().AsTime().UTC().Format(time.RFC3339)
	}
	if p.GetUntil() != nil {
		r.Until = p.GetUntil().AsTime().UTC().Format(time.RFC3339)
	}
	for _, rc := range p.GetActiveRevisions() {
		r.ActiveRevisions = append(r.ActiveRevisions, RevisionCount{Revision: rc.GetRevision(), Decisions: rc.GetDecisions()})
	}
	for _, c := range p.GetMatrix() {
		r.Matrix = append(r.Matrix, Cell{From: parseAction(c.GetFrom()), To: parseAction(c.GetTo()), Count: c.GetCount()})
	}
	for _, d := range p.GetReasons() {
		r.Reasons = append(r.Reasons, ReasonDelta{Code: d.GetCode(), Before: d.GetBefore(), After: d.GetAfter(), Delta: d.GetDelta()})
	}
	for _, c := range p.GetReasonActions() {
		r.ReasonActions = append(r.ReasonActions, ReasonActionCount{Code: c.GetCode(), From: parseAction(c.GetFrom()), To: parseAction(c.GetTo()), Count: c.GetCount()})
	}
	r.Escalations = escalationsFromProto(p.GetEscalations())
	r.LessSevere = escalationsFromProto(p.GetLessSevere())
	return r
}

func escalationsFromProto(list []*replayv1.Escalation) []Escalation {
	var out []Escalation
	for _, e := range list {
		re := Escalation{
			DecisionID: e.GetDecisionId(), SubjectID: e.GetSubjectId(), Checkpoint: e.GetCheckpoint(), DecidedAt: e.GetDecidedAt().AsTime(),
			From: parseAction(e.GetFrom()), To: parseAction(e.GetTo()), Before: e.GetBefore(), After: e.GetAfter(), Outcome: e.GetOutcome(),
		}
		for _, c := range e.GetReasonChanges() {
			re.Reasons = append(re.Reasons, ReasonChange{Code: c.GetCode(), From: parseAction(c.GetFrom()), To: parseAction(c.GetTo())})
		}
		out = append(out, re)
	}
	return out
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// actionName is the action's name, or "" for none (a reason that did not
// fire on that side).
func actionName(a decision.Action) string {
	if a == decision.ActionUnspecified {
		return ""
	}
	return a.String()
}

func parseAction(s string) decision.Action {
	a, _ := decision.ParseAction(s)
	return a
}
