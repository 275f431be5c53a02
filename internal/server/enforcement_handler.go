package server

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gavel/gavel/decision"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
	enforcementv1 "github.com/gavel/gavel/proto/gavel/enforcement/v1"
	"github.com/gavel/gavel/proto/gavel/enforcement/v1/enforcementv1connect"
)

// enforcementHandler is the Connect edge of an account's standing and the
// reviewers' manual actions.
type enforcementHandler struct {
	engine       *decision.Engine
	log          *slog.Logger
	appealWindow time.Duration
}

var _ enforcementv1connect.EnforcementServiceHandler = (*enforcementHandler)(nil)

const (
	maxManualNote     = 4000
	maxManualReviewer = 200
)

func (h *enforcementHandler) GetStanding(ctx context.Context, req *connect.Request[enforcementv1.GetStandingRequest]) (*connect.Response[enforcementv1.GetStandingResponse], error) {
	var verr decision.ValidationError
	checkID(&verr, "subject_id", req.Msg.GetSubjectId())
	if len(verr) > 0 {
		return nil, invalidArgument(verr)
	}
	st, err := h.engine.Standing(ctx, req.Msg.GetSubjectId())
	if err != nil {
		return nil, h.fail("GetStanding", req.Msg.GetSubjectId(), err)
	}
	return connect.NewResponse(&enforcementv1.GetStandingResponse{Standing: standingToProto(st)}), nil
}

func (h *enforcementHandler) Suspend(ctx context.Context, req *connect.Request[enforcementv1.SuspendRequest]) (*connect.Response[enforcementv1.SuspendResponse], error) {
	m := req.Msg
	rec, st, err := h.act(ctx, decision.ManualAction{
		RequestID: m.GetRequestId(), SubjectID: m.GetSubjectId(), Kind: decision.ManualSuspend,
		ReasonCode: m.GetReasonCode(), Note: m.GetNote(), Reviewer: m.GetReviewer(), Duration: m.GetDuration().AsDuration(),
	}, m.GetDuration())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&enforcementv1.SuspendResponse{Decision: rec, Standing: st}), nil
}

func (h *enforcementHandler) Restrict(ctx context.Context, req *connect.Request[enforcementv1.RestrictRequest]) (*connect.Response[enforcementv1.RestrictResponse], error) {
	m := req.Msg
	rec, st, err := h.act(ctx, decision.ManualAction{
		RequestID: m.GetRequestId(), SubjectID: m.GetSubjectId(), Kind: decision.ManualRestrict,
		ReasonCode: m.GetReasonCode(), Note: m.GetNote(), Reviewer: m.GetReviewer(),
		Capabilities: m.GetCapabilities(), Duration: m.GetDuration().AsDuration(),
	}, m.GetDuration())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&enforcementv1.RestrictResponse{Decision: rec, Standing: st}), nil
}

func (h *enforcementHandler) Lift(ctx context.Context, req *connect.Request[enforcementv1.LiftRequest]) (*connect.Response[enforcementv1.LiftResponse], error) {
	m := req.Msg
	rec, st, err := h.act(ctx, decision.ManualAction{
		RequestID: m.GetRequestId(), SubjectID: m.GetSubjectId(), Kind: decision.ManualLift,
		ReasonCode: m.GetReasonCode(), Note: m.GetNote(), Reviewer: m.GetReviewer(),
		Capabilities: m.GetCapabilities(), Suspension: m.GetSuspension(),
	}, nil)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&enforcementv1.LiftResponse{Decision: rec, Standing: st}), nil
}

func (h *enforcementHandler) Reinstate(ctx context.Context, req *connect.Request[enforcementv1.ReinstateRequest]) (*connect.Response[enforcementv1.ReinstateResponse], error) {
	m := req.Msg
	rec, st, err := h.act(ctx, decision.ManualAction{
		RequestID: m.GetRequestId(), SubjectID: m.GetSubjectId(), Kind: decision.ManualReinstate,
		ReasonCode: m.GetReasonCode(), Note: m.GetNote(), Reviewer: m.GetReviewer(),
	}, nil)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&enforcementv1.ReinstateResponse{Decision: rec, Standing: st}), nil
}

// act records a manual action and returns it in the reviewer view with the
// standing after it.
func (h *enforcementHandler) act(ctx context.Context, a decision.ManualAction, d *durationpb.Duration) (*decisionv1.DecideResponse, *enforcementv1.Standing, error) {
	// The interceptor admits only review and admin; checked again here so
	// that no wiring change lets an automated caller act by hand.
	if err := requireRole(ctx, roleReview, roleAdmin); err != nil {
		return nil, nil, connect.NewError(connect.CodePermissionDenied, errors.New("only a caller with the review or admin role may act on an account by hand"))
	}
	var verr decision.ValidationError
	checkText(&verr, "note", a.Note, maxManualNote, true)
	checkText(&verr, "reviewer", a.Reviewer, maxManualReviewer, true)
	if d != nil {
		if err := d.CheckValid(); err != nil || d.AsDuration() < 0 {
			verr = append(verr, decision.FieldError{Field: "duration", Reason: "must be a positive duration, or absent for until lifted"})
		}
	}
	if len(verr) > 0 {
		return nil, nil, invalidArgument(verr)
	}
	a.Reviewer = strings.TrimSpace(a.Reviewer)
	a.Caller = callerName(ctx)
	rec, err := h.engine.Enforce(ctx, a)
	if err != nil {
		return nil, nil, h.fail("Enforce", a.SubjectID, err)
	}
	// Read back: the reply shows the decision and the standing as they now are.
	if got, err := h.engine.Get(ctx, rec.DecisionID); err == nil {
		got.Replayed = rec.Replayed
		rec = got
	}
	out := responseFromRecord(rec, decisionv1.View_VIEW_REVIEWER)
	out.Statement = statementOf(rec, h.appealWindow)
	st, err := h.engine.Standing(ctx, a.SubjectID)
	if err != nil {
		return nil, nil, h.fail("Enforce", a.SubjectID, err)
	}
	return out, standingToProto(st), nil
}

// fail maps a domain error to a Connect error with a safe message, logging
// unexpected ones once, here.
func (h *enforcementHandler) fail(method, subject string, err error) error {
	var verr decision.ValidationError
	switch {
	case errors.As(err, &verr):
		return invalidArgument(verr)
	case errors.Is(err, decision.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, errors.New("no decision about subject "+subject+" is recorded"))
	case errors.Is(err, decision.ErrPrecondition):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, decision.ErrConflict):
		return connect.NewError(connect.CodeAlreadyExists, decision.ErrConflict)
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("request canceled"))
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("deadline exceeded"))
	default:
		h.log.Error(method+" failed", "subject_id", subject, "error", err)
		return connect.NewError(connect.CodeUnavailable, errors.New("gavel cannot reach its ledger right now; retry with the same request_id"))
	}
}

func standingToProto(st *decision.Standing) *enforcementv1.Standing {
	out := &enforcementv1.Standing{SubjectId: st.SubjectID}
	ts := func(t time.Time) *timestamppb.Timestamp {
		if t.IsZero() {
			return nil
		}
		return timestamppb.New(t)
	}
	for _, x := range st.Holds {
		out.Holds = append(out.Holds, &enforcementv1.Hold{
			Capability: x.Capability, Since: ts(x.Since), Until: ts(x.Until), DecisionId: x.DecisionID, Remedy: x.Remedy,
		})
	}
	if s := st.Suspension; s != nil {
		out.Suspension = &enforcementv1.Suspension{DecisionId: s.DecisionID, Since: ts(s.Since), Until: ts(s.Until), Source: s.Source}
	}
	for _, s := range st.Strikes {
		out.Strikes = append(out.Strikes, &enforcementv1.Strike{DecisionId: s.DecisionID, Codes: s.Codes, At: ts(s.At), ExpiresAt: ts(s.ExpiresAt)})
	}
	for _, a := range st.OpenAppeals {
		out.OpenAppeals = append(out.OpenAppeals, &enforcementv1.OpenAppeal{AppealId: a.AppealID, DecisionId: a.DecisionID, FiledAt: ts(a.FiledAt)})
	}
	for _, c := range st.OpenCases {
		out.OpenCases = append(out.OpenCases, &enforcementv1.OpenCase{CaseId: c.CaseID, OpenedAt: ts(c.OpenedAt), DueAt: ts(c.DueAt)})
	}
	for _, c := range st.Cleared {
		out.Cleared = append(out.Cleared, &enforcementv1.ClearedRule{Code: c.Code, Rule: c.Rule, AppealId: c.AppealID, DecisionId: c.DecisionID, Until: ts(c.Until)})
	}
	for _, r := range st.Recent {
		out.Recent = append(out.Recent, responseFromRecord(r, decisionv1.View_VIEW_USER))
	}
	return out
}
