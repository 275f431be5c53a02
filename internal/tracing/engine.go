package tracing

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gavel/gavel/decision"
)

// The decision engine knows no tracing: it is traced through what it
// depends on. Each wrapper makes one span per call, a child of the
// request's span.

// Ledger traces the ledger calls on a decision's path (request-id lookup,
// history, commit).
func Ledger(l decision.Ledger, tr trace.Tracer) decision.Ledger { return tracedLedger{l, tr} }

type tracedLedger struct {
	decision.Ledger
	tr trace.Tracer
}

func (l tracedLedger) History(ctx context.Context, subjectID string, now time.Time) (decision.History, error) {
	ctx, span := l.tr.Start(ctx, "ledger.history", trace.WithAttributes(attribute.String("gavel.subject_id", subjectID)))
	defer span.End()
	h, err := l.Ledger.History(ctx, subjectID, now)
	if err == nil {
		span.SetAttributes(attribute.Int("gavel.history.strikes", h.Strikes), attribute.Int("gavel.history.holds", len(h.Holds)))
	}
	return h, end(span, err)
}

func (l tracedLedger) ByRequestID(ctx context.Context, requestID string) (*decision.Record, error) {
	ctx, span := l.tr.Start(ctx, "ledger.lookup_request")
	defer span.End()
	rec, err := l.Ledger.ByRequestID(ctx, requestID)
	if err == decision.ErrNotFound {
		return rec, err // the usual case: a new request
	}
	return rec, end(span, err)
}

func (l tracedLedger) Commit(ctx context.Context, rec *decision.Record, basis *decision.Basis) (*decision.Record, bool, error) {
	ctx, span := l.tr.Start(ctx, "ledger.commit", trace.WithAttributes(attribute.String("gavel.decision_id", rec.DecisionID)))
	defer span.End()
	stored, replayed, err := l.Ledger.Commit(ctx, rec, basis)
	span.SetAttributes(attribute.Bool("gavel.replayed", replayed))
	return stored, replayed, end(span, err)
}

// Signals traces the detector fan-out; the detector host adds one span
// per detector beneath it.
func Signals(s decision.SignalSource, tr trace.Tracer) decision.SignalSource {
	return tracedSignals{s, tr}
}

type tracedSignals struct {
	decision.SignalSource
	tr trace.Tracer
}

func (s tracedSignals) Collect(ctx context.Context, req *decision.Request, now time.Time) []decision.DetectorResult {
	ctx, span := s.tr.Start(ctx, "detectors", trace.WithAttributes(attribute.String("gavel.checkpoint", req.Checkpoint)))
	defer span.End()
	res := s.SignalSource.Collect(ctx, req, now)
	span.SetAttributes(attribute.Int("gavel.detectors", len(res)))
	return res
}

// Policy traces policy evaluation, with the bundle revision evaluated.
func Policy(p decision.Evaluator, tr trace.Tracer) decision.Evaluator { return tracedPolicy{p, tr} }

type tracedPolicy struct {
	decision.Evaluator
	tr trace.Tracer
}

func (p tracedPolicy) Evaluate(ctx context.Context, input map[string]any) (decision.Verdict, error) {
	ctx, span := p.tr.Start(ctx, "policy.evaluate")
	defer span.End()
	v, err := p.Evaluator.Evaluate(ctx, input)
	span.SetAttributes(attribute.String("gavel.bundle_revision", v.BundleRevision))
	if err == nil {
		span.SetAttributes(attribute.String("gavel.action", v.Action.String()))
	}
	return v, end(span, err)
}

func end(span trace.Span, err error) error {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}
