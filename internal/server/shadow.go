package server

import (
	"context"
	"errors"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
	adminv1 "github.com/gavel/gavel/proto/gavel/admin/v1"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

// shadowReader is what the edge reads of shadow verdicts.
type shadowReader interface {
	ShadowVerdict(ctx context.Context, decisionID string) (decision.ShadowVerdict, error)
	ShadowAgreement(ctx context.Context, revision string) (ledger.ShadowAgreement, error)
}

// shadowDetail adds a decision's shadow verdict, if any, to the reviewer view.
func (h *decisionHandler) shadowDetail(ctx context.Context, decisionID string, out *decisionv1.GetDecisionResponse) error {
	if h.shadows == nil {
		return nil
	}
	sv, err := h.shadows.ShadowVerdict(ctx, decisionID)
	if errors.Is(err, decision.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	// The shadow's reasons in full: the reviewer view shows everything.
	v := responseFromRecord(&decision.Record{Verdict: sv.Verdict}, decisionv1.View_VIEW_REVIEWER)
	out.Shadow = &decisionv1.ShadowVerdict{
		Reasons:        v.GetReasons(),
		BundleRevision: sv.Verdict.BundleRevision,
		Error:          sv.Error,
	}
	if sv.Error == "" {
		out.Shadow.Action = v.GetAction()
	}
	if !sv.EvaluatedAt.IsZero() {
		out.Shadow.EvaluatedAt = timestamppb.New(sv.EvaluatedAt)
	}
	return nil
}

// shadowReport compares the shadow bundle's current revision with the
// decisions it shadowed, from the ledger; nil when no shadow is configured.
func (s *Server) shadowReport(ctx context.Context) (*adminv1.ShadowReport, error) {
	if s.shadow == nil {
		return nil, nil
	}
	rev := ""
	if st := s.shadow.Status(); len(st) > 0 {
		rev = st[0].Revision
	}
	r := &adminv1.ShadowReport{Revision: rev, Dropped: s.engine.ShadowStats().Dropped}
	if rev == "" {
		return r, nil // no shadow bundle active yet
	}
	a, err := s.ledger.ShadowAgreement(ctx, rev)
	if err != nil {
		return nil, err
	}
	r.Evaluated, r.Agreed, r.Errors, r.AgreementRate = a.Evaluated, a.Agreed, a.Errors, a.Rate()
	if !a.Since.IsZero() {
		r.Since = timestamppb.New(a.Since)
	}
	for _, t := range a.Transitions {
		if t.From != t.To {
			r.Transitions = append(r.Transitions, &adminv1.Transition{From: t.From.String(), To: t.To.String(), Count: t.Count})
		}
	}
	return r, nil
}
