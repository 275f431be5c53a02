package server

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

// searcher finds decisions across subjects (the ledger).
type searcher interface {
	SearchDecisions(ctx context.Context, f ledger.SearchFilter, pageSize int, pageToken string) ([]*decision.Record, string, error)
}

const maxSearchPage = 1000

var appealFilters = map[string]ledger.AppealStatus{
	"": "", "open": ledger.AppealOpen, "upheld": ledger.AppealUpheld, "overturned": ledger.AppealOverturned,
	"any": ledger.AppealAny, "none": ledger.AppealNone,
}

func (h *decisionHandler) SearchDecisions(ctx context.Context, req *connect.Request[decisionv1.SearchDecisionsRequest]) (*connect.Response[decisionv1.SearchDecisionsResponse], error) {
	m := req.Msg
	var (
		verr decision.ValidationError
		f    ledger.SearchFilter
	)
	bad := func(field, format string, args ...any) {
		verr = append(verr, decision.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if m.GetSince() != nil {
		if m.GetSince().CheckValid() != nil {
			bad("since", "is not a valid time")
		}
		f.Since = m.GetSince().AsTime()
	}
	if m.GetUntil() != nil {
		if m.GetUntil().CheckValid() != nil {
			bad("until", "is not a valid time")
		}
		f.Until = m.GetUntil().AsTime()
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		bad("until", "must be after since")
	}
	if m.GetAction() != decisionv1.Action_ACTION_UNSPECIFIED {
		a, ok := actionFromProto(m.GetAction())
		if !ok {
			bad("action", "%v is not an action", m.GetAction())
		}
		f.Action = a
	}
	for _, t := range []struct{ field, v string }{
		{"checkpoint", m.GetCheckpoint()}, {"reason_code", m.GetReasonCode()},
		{"subject_id", m.GetSubjectId()}, {"bundle_revision", m.GetBundleRevision()},
	} {
		checkText(&verr, t.field, t.v, maxAppealName, false)
	}
	f.Checkpoint, f.ReasonCode, f.SubjectID, f.BundleRevision = m.GetCheckpoint(), m.GetReasonCode(), m.GetSubjectId(), m.GetBundleRevision()
	if m.Fallback != nil {
		fb := m.GetFallback()
		f.Fallback = &fb
	}
	appeal, ok := appealFilters[m.GetAppealStatus()]
	if !ok {
		bad("appeal_status", "must be open, upheld, overturned, any or none")
	}
	f.Appeal = appeal
	f.ShadowDisagrees = m.GetShadowDisagrees()
	switch m.GetSource() {
	case "":
	case "automated", decision.SourcePolicy:
		f.Source = decision.SourcePolicy
	case decision.SourceManual:
		f.Source = decision.SourceManual
	default:
		bad("source", "must be automated or manual")
	}
	if n := m.GetPageSize(); n < 0 || n > maxSearchPage {
		bad("page_size", "must be between 0 and %d", maxSearchPage)
	}
	if len(verr) > 0 {
		return nil, invalidArgument(verr)
	}
	recs, next, err := h.search.SearchDecisions(ctx, f, int(m.GetPageSize()), m.GetPageToken())
	if err != nil {
		if errors.Is(err, ledger.ErrBadFilter) {
			return nil, invalidArgument(decision.ValidationError{{Field: "filter", Reason: err.Error()}})
		}
		return nil, h.fail(ctx, "SearchDecisions", "", err)
	}
	out := &decisionv1.SearchDecisionsResponse{NextPageToken: next}
	for _, rec := range recs {
		out.Decisions = append(out.Decisions, responseFromRecord(rec, decisionv1.View_VIEW_USER))
	}
	return connect.NewResponse(out), nil
}

func actionFromProto(a decisionv1.Action) (decision.Action, bool) {
	for d, p := range actionToProto {
		if p == a {
			return d, true
		}
	}
	return decision.ActionUnspecified, false
}
