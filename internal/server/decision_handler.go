package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"connectrpc.com/connect"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/internal/config"
	"github.com/gavel/gavel/internal/workers"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
	"github.com/gavel/gavel/proto/gavel/decision/v1/decisionv1connect"
)

// decisionHandler is the Connect edge of the decision engine.
type decisionHandler struct {
	engine  *decision.Engine
	shadows shadowReader
	search  searcher
	log     *slog.Logger
	metrics *metrics
	// appealWindow dates the appeal deadline in statements of reasons.
	appealWindow time.Duration
	// deciders run Decide's engine call: off the connections' goroutines,
	// so that only as many deep stacks are kept as decisions in flight.
	deciders *workers.Pool
}

var _ decisionv1connect.DecisionServiceHandler = (*decisionHandler)(nil)

func (h *decisionHandler) Decide(ctx context.Context, req *connect.Request[decisionv1.DecideRequest]) (*connect.Response[decisionv1.DecideResponse], error) {
	var (
		rec *decision.Record
		err error
	)
	start := time.Now()
	h.deciders.Run(func() { rec, err = h.engine.Decide(ctx, requestFromProto(req.Msg)) })
	if err != nil {
		return nil, h.fail(ctx, "Decide", req.Msg.GetRequestId(), err)
	}
	// The record's latency ends before the commit (it is stored with the
	// record); the metric's ends with the decision recorded.
	h.metrics.observe(rec, time.Since(start))
	if !rec.Replayed {
		h.log.DebugContext(ctx, "decided",
			"decision_id", rec.DecisionID, "request_id", rec.RequestID, "checkpoint", rec.Checkpoint,
			"action", rec.Verdict.Action.String(), "fallback", rec.Fallback,
			"bundle_revision", rec.Verdict.BundleRevision, "latency", rec.Latency)
	}
	resp := responseFromRecord(rec, decisionv1.View_VIEW_USER)
	resp.Statement = statementOf(rec, h.appealWindow)
	return connect.NewResponse(resp), nil
}

func (h *decisionHandler) GetDecision(ctx context.Context, req *connect.Request[decisionv1.GetDecisionRequest]) (*connect.Response[decisionv1.GetDecisionResponse], error) {
	id := req.Msg.GetDecisionId()
	if id == "" {
		return nil, invalidArgument(decision.ValidationError{{Field: "decision_id", Reason: "is required"}})
	}
	view := req.Msg.GetView()
	if view == decisionv1.View_VIEW_UNSPECIFIED {
		view = decisionv1.View_VIEW_USER
	}
	if view == decisionv1.View_VIEW_REVIEWER {
		if err := requireRole(ctx, roleReview, roleAdmin); err != nil {
			return nil, err
		}
	}
	rec, err := h.engine.Get(ctx, id)
	if err != nil {
		return nil, h.fail(ctx, "GetDecision", id, err)
	}
	out := &decisionv1.GetDecisionResponse{Decision: responseFromRecord(rec, view), View: view}
	out.Decision.Statement = statementOf(rec, h.appealWindow)
	if view == decisionv1.View_VIEW_REVIEWER {
		reviewerDetail(rec, out)
		if err := h.shadowDetail(ctx, id, out); err != nil {
			return nil, h.fail(ctx, "GetDecision", id, err)
		}
	}
	return connect.NewResponse(out), nil
}

func (h *decisionHandler) ListDecisions(ctx context.Context, req *connect.Request[decisionv1.ListDecisionsRequest]) (*connect.Response[decisionv1.ListDecisionsResponse], error) {
	if req.Msg.GetSubjectId() == "" {
		return nil, invalidArgument(decision.ValidationError{{Field: "subject_id", Reason: "is required"}})
	}
	if n := req.Msg.GetPageSize(); n < 0 || n > 100 {
		return nil, invalidArgument(decision.ValidationError{{Field: "page_size", Reason: "must be between 0 and 100"}})
	}
	recs, next, err := h.engine.List(ctx, req.Msg.GetSubjectId(), int(req.Msg.GetPageSize()), req.Msg.GetPageToken())
	if err != nil {
		return nil, h.fail(ctx, "ListDecisions", req.Msg.GetSubjectId(), err)
	}
	out := &decisionv1.ListDecisionsResponse{NextPageToken: next}
	for _, rec := range recs {
		out.Decisions = append(out.Decisions, responseFromRecord(rec, decisionv1.View_VIEW_USER))
	}
	return connect.NewResponse(out), nil
}

// fail maps a domain error to a Connect error with a safe message, logging
// the detail once, here.
func (h *decisionHandler) fail(ctx context.Context, method, id string, err error) error {
	var verr decision.ValidationError
	switch {
	case errors.As(err, &verr):
		return invalidArgument(verr)
	case errors.Is(err, decision.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, errors.New("decision not found"))
	case errors.Is(err, decision.ErrConflict):
		return connect.NewError(connect.CodeAlreadyExists, decision.ErrConflict)
	case errors.Is(err, errBadPageToken):
		return invalidArgument(decision.ValidationError{{Field: "page_token", Reason: "is not a token from an earlier page"}})
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("request canceled"))
	case errors.Is(err, context.DeadlineExceeded):
		h.log.WarnContext(ctx, method+" ran out of time", "id", id, "error", err)
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("deadline exceeded before a decision was recorded"))
	case errors.Is(err, decision.ErrUnavailable):
		h.log.ErrorContext(ctx, method+" could not decide", "id", id, "error", err)
		return connect.NewError(connect.CodeUnavailable, errors.New("gavel cannot record decisions right now; retry with the same request_id"))
	default:
		h.log.ErrorContext(ctx, method+" failed", "id", id, "error", err)
		return connect.NewError(connect.CodeInternal, errors.New("internal error"))
	}
}

// newDeciders returns the pool Decide's calls run on. Decisions in flight
// are at most server.max_in_flight, so as many workers may wait idle; with
// no cap, the idle are bounded by its default.
func newDeciders(maxInFlight int) *workers.Pool {
	if maxInFlight <= 0 {
		maxInFlight = config.DefaultMaxInFlight
	}
	return workers.New(maxInFlight)
}
