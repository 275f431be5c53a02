package server

import (
	"encoding/json"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gavel/gavel/decision"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

// requestFromProto turns a DecideRequest into a domain request. Validation
// happens in the decision engine, which names every bad field.
func requestFromProto(m *decisionv1.DecideRequest) *decision.Request {
	r := &decision.Request{
		RequestID:  m.GetRequestId(),
		Checkpoint: m.GetCheckpoint(),
		DryRun:     m.GetDryRun(),
	}
	if s := m.GetSubject(); s != nil {
		r.Subject = decision.Subject{ID: s.GetId(), Kind: s.GetKind()}
		if s.GetCreatedAt() != nil {
			r.Subject.CreatedAt = s.GetCreatedAt().AsTime()
		}
		if p := s.GetProfile(); p != nil {
			r.Subject.Profile = decision.Profile{
				GivenName:   p.GetGivenName(),
				FamilyName:  p.GetFamilyName(),
				DisplayName: p.GetDisplayName(),
				Country:     p.GetCountry(),
				Email:       p.GetEmail(),
				Phone:       p.GetPhone(),
				DateOfBirth: p.GetDateOfBirth(),
			}
		}
	}
	if c := m.GetContext(); c != nil {
		r.Context = decision.Context{IP: c.GetIp(), DeviceID: c.GetDeviceId(), UserAgent: c.GetUserAgent(), SessionID: c.GetSessionId()}
	}
	if a := m.GetAttributes(); a != nil {
		r.Attributes = a.AsMap()
	}
	if t := m.GetOccurredAt(); t != nil {
		r.OccurredAt = t.AsTime()
	}
	if len(m.GetSignals()) > 0 {
		r.Signals = make([]decision.Signal, len(m.GetSignals()))
		for i, s := range m.GetSignals() {
			r.Signals[i] = decision.Signal{
				Name:       s.GetName(),
				Score:      s.GetScore(),
				Value:      s.GetValue(),
				Confidence: s.GetConfidence(),
			}
			if s.GetEvidence() != nil {
				r.Signals[i].Evidence = s.GetEvidence().AsMap()
			}
		}
	}
	return r
}

var actionToProto = map[decision.Action]decisionv1.Action{
	decision.Allow:     decisionv1.Action_ACTION_ALLOW,
	decision.Warn:      decisionv1.Action_ACTION_WARN,
	decision.Challenge: decisionv1.Action_ACTION_CHALLENGE,
	decision.Restrict:  decisionv1.Action_ACTION_RESTRICT,
	decision.Suspend:   decisionv1.Action_ACTION_SUSPEND,
}

var statusToProto = map[decision.DetectorStatus]decisionv1.DetectorStatus{
	decision.StatusOK:          decisionv1.DetectorStatus_DETECTOR_STATUS_OK,
	decision.StatusTimeout:     decisionv1.DetectorStatus_DETECTOR_STATUS_TIMEOUT,
	decision.StatusError:       decisionv1.DetectorStatus_DETECTOR_STATUS_ERROR,
	decision.StatusUnavailable: decisionv1.DetectorStatus_DETECTOR_STATUS_UNAVAILABLE,
}

// responseFromRecord renders a decision. The user view carries what the
// account holder may be told; the reviewer view adds explanations, grounds,
// evidence and rules.
func responseFromRecord(rec *decision.Record, view decisionv1.View) *decisionv1.DecideResponse {
	v := &rec.Verdict
	resp := &decisionv1.DecideResponse{
		DecisionId:     rec.DecisionID,
		RequestId:      rec.RequestID,
		SubjectId:      rec.SubjectID,
		Checkpoint:     rec.Checkpoint,
		Action:         actionToProto[v.Action],
		Appealable:     v.Appealable() && !rec.DryRun && !rec.Overturned,
		Strike:         v.Strike,
		BundleRevision: v.BundleRevision,
		DecidedAt:      timestamppb.New(rec.DecidedAt),
		Fallback:       rec.Fallback,
		DryRun:         rec.DryRun,
		Replayed:       rec.Replayed,
		Overturned:     rec.Overturned,
		AppealId:       rec.AppealID,
		AppealStatus:   rec.AppealStatus,
	}
	if v.Duration > 0 {
		resp.Duration = durationpb.New(v.Duration)
	}
	for _, r := range v.Restrictions {
		pr := &decisionv1.Restriction{Capability: r.Capability}
		until := rec.Until(r.Duration)
		if r.InForce() {
			until, pr.DecisionId = r.Until, r.DecisionID
		}
		if !until.IsZero() {
			pr.Until = timestamppb.New(until)
		}
		resp.Restrictions = append(resp.Restrictions, pr)
	}
	resp.Source = decision.SourcePolicy
	if rec.IsManual() {
		resp.Source = decision.SourceManual
	}
	resp.SupersededId = rec.SupersededID
	if view == decisionv1.View_VIEW_REVIEWER {
		resp.OverturnedBy = rec.OverturnedBy
		if v.Review != nil {
			resp.ReviewCodes = v.Review.Codes
		}
	}
	for _, e := range rec.Effects {
		resp.Effects = append(resp.Effects, effectToProto(e, view))
	}
	for i := range v.Reasons {
		r := &v.Reasons[i]
		pr := &decisionv1.Reason{Code: r.Code, Action: actionToProto[r.Action], Title: r.Title, Message: r.Message}
		if view == decisionv1.View_VIEW_REVIEWER {
			pr.Explanation = r.Explanation
			pr.Ground = r.Ground
			pr.Rule = r.Rule
			for _, e := range r.Evidence {
				pr.Evidence = append(pr.Evidence, toStruct(e))
			}
		}
		resp.Reasons = append(resp.Reasons, pr)
	}
	if v.Remedy != nil {
		resp.Remedy = &decisionv1.Remedy{Code: v.Remedy.Code, Checkpoint: v.Remedy.Checkpoint, Message: v.Remedy.Message}
	}
	for _, d := range rec.Detectors {
		resp.Detectors = append(resp.Detectors, &decisionv1.DetectorReport{
			Name:    d.Name,
			Version: d.Version,
			Status:  statusToProto[d.Status],
			Latency: durationpb.New(d.Latency),
			Signals: int32(len(d.Signals)),
		})
	}
	return resp
}

// reviewerDetail adds the signals, the input document, the reasons an
// earlier overturn suppressed and a reviewer's action to a reviewer view.
func reviewerDetail(rec *decision.Record, out *decisionv1.GetDecisionResponse) {
	for _, sp := range rec.Verdict.Suppressed {
		ps := &decisionv1.SuppressedReason{
			Code: sp.Code, Action: actionToProto[sp.Action], Rule: sp.Rule,
			ClearedByAppeal: sp.ClearedByAppeal, OverturnedDecision: sp.OverturnedDecision,
		}
		if !sp.Until.IsZero() {
			ps.Until = timestamppb.New(sp.Until)
		}
		for _, e := range sp.Evidence {
			ps.Evidence = append(ps.Evidence, toStruct(e))
		}
		out.Suppressed = append(out.Suppressed, ps)
	}
	if m := rec.Manual; m != nil {
		out.Manual = &decisionv1.ManualAction{
			Kind: string(m.Kind), ReasonCode: m.ReasonCode, Note: m.Note, Reviewer: m.Reviewer, Caller: m.Caller,
			Capabilities: m.Capabilities, Suspension: m.Suspension, Duration: durationOrNil(m.Duration),
			Lifted: m.Lifted, AppealIds: m.AppealIDs, CaseId: m.CaseID,
		}
	}
	for _, s := range rec.Signals {
		ps := &decisionv1.Signal{Name: s.Name, Score: s.Score, Value: s.Value, Confidence: s.Confidence}
		if s.Evidence != nil {
			ps.Evidence = toStruct(s.Evidence)
		}
		out.Signals = append(out.Signals, ps)
	}
	if rec.Input != nil {
		out.Input = toStruct(rec.Input)
	}
	out.Latency = durationpb.New(rec.Latency)
}

// toStruct converts a decoded JSON object to a Struct. Values structpb does
// not take directly (json.Number from the policy engine, typed slices and
// maps) are normalised first; anything else becomes its string form, so a
// reviewer always sees the evidence.
func toStruct(m map[string]any) *structpb.Struct {
	s, err := structpb.NewStruct(normalise(m).(map[string]any))
	if err != nil {
		return &structpb.Struct{}
	}
	return s
}

func normalise(v any) any {
	switch t := v.(type) {
	case nil, bool, string, float64:
		return t
	case json.Number:
		if f, err := t.Float64(); err == nil {
			return f
		}
		return t.String()
	case int:
		return float64(t)
	case int64:
		return float64(t)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = normalise(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = normalise(e)
		}
		return out
	case []string:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = e
		}
		return out
	default:
		return fmt.Sprint(t)
	}
}

func durationOrNil(d time.Duration) *durationpb.Duration {
	if d <= 0 {
		return nil
	}
	return durationpb.New(d)
}

// RequestFromProto converts a DecideRequest as the Decide handler does; tests
// and tools that drive the engine in-process use it.
func RequestFromProto(m *decisionv1.DecideRequest) *decision.Request { return requestFromProto(m) }
