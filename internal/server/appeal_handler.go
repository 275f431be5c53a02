package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
	appealv1 "github.com/gavel/gavel/proto/gavel/appeal/v1"
	"github.com/gavel/gavel/proto/gavel/appeal/v1/appealv1connect"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

// Bounds of appeal texts, in characters.
const (
	maxAppealText = 5000
	maxAppealName = 128
)

// appealHandler is the Connect edge of the appeals kept in the ledger.
type appealHandler struct {
	ledger *ledger.Ledger
	// observer hears of overturned decisions (the detector host).
	observer decision.Observer
	window   time.Duration
	claimTTL time.Duration
	// clearFor is how long an overturn clears the decision's rules on
	// their evidence; zero: the ledger's default.
	clearFor time.Duration
	log      *slog.Logger
	now      func() time.Time
}

var _ appealv1connect.AppealServiceHandler = (*appealHandler)(nil)

func (h *appealHandler) FileAppeal(ctx context.Context, req *connect.Request[appealv1.FileAppealRequest]) (*connect.Response[appealv1.FileAppealResponse], error) {
	m := req.Msg
	var verr decision.ValidationError
	checkID(&verr, "decision_id", m.GetDecisionId())
	checkText(&verr, "statement", m.GetStatement(), maxAppealText, true)
	checkText(&verr, "filed_by", m.GetFiledBy(), maxAppealName, false)
	if len(verr) > 0 {
		return nil, invalidArgument(verr)
	}
	filedBy := m.GetFiledBy()
	if filedBy == "" {
		filedBy = callerName(ctx)
	}
	a, err := h.ledger.FileAppeal(ctx, ledger.AppealFiling{
		DecisionID: m.GetDecisionId(),
		Statement:  m.GetStatement(),
		FiledBy:    filedBy,
		At:         h.now(),
		Window:     h.window,
	})
	if err != nil {
		return nil, h.fail("FileAppeal", m.GetDecisionId(), "decision", err)
	}
	return connect.NewResponse(&appealv1.FileAppealResponse{Appeal: appealToProto(a, h.now())}), nil
}

func (h *appealHandler) GetAppeal(ctx context.Context, req *connect.Request[appealv1.GetAppealRequest]) (*connect.Response[appealv1.GetAppealResponse], error) {
	id := req.Msg.GetAppealId()
	var verr decision.ValidationError
	checkID(&verr, "appeal_id", id)
	if len(verr) > 0 {
		return nil, invalidArgument(verr)
	}
	a, rec, err := h.ledger.GetAppeal(ctx, id)
	if err != nil {
		return nil, h.fail("GetAppeal", id, "appeal", err)
	}
	// Reviewers see the decision's full evidence; a read-only caller sees
	// what the account holder may be told, as GetDecision would show it.
	view := decisionv1.View_VIEW_USER
	if requireRole(ctx, roleReview, roleAdmin) == nil {
		view = decisionv1.View_VIEW_REVIEWER
	}
	d := &decisionv1.GetDecisionResponse{Decision: responseFromRecord(rec, view), View: view}
	d.Decision.Statement = statementOf(rec, h.window)
	if view == decisionv1.View_VIEW_REVIEWER {
		reviewerDetail(rec, d)
	}
	return connect.NewResponse(&appealv1.GetAppealResponse{Appeal: appealToProto(a, h.now()), Decision: d}), nil
}

var statusFromProto = map[appealv1.AppealStatus]ledger.AppealStatus{
	appealv1.AppealStatus_APPEAL_STATUS_UNSPECIFIED: ledger.AppealOpen,
	appealv1.AppealStatus_APPEAL_STATUS_OPEN:        ledger.AppealOpen,
	appealv1.AppealStatus_APPEAL_STATUS_UPHELD:      ledger.AppealUpheld,
	appealv1.AppealStatus_APPEAL_STATUS_OVERTURNED:  ledger.AppealOverturned,
}

var statusToProtoAppeal = map[ledger.AppealStatus]appealv1.AppealStatus{
	ledger.AppealOpen:       appealv1.AppealStatus_APPEAL_STATUS_OPEN,
	ledger.AppealUpheld:     appealv1.AppealStatus_APPEAL_STATUS_UPHELD,
	ledger.AppealOverturned: appealv1.AppealStatus_APPEAL_STATUS_OVERTURNED,
}

func (h *appealHandler) ListAppeals(ctx context.Context, req *connect.Request[appealv1.ListAppealsRequest]) (*connect.Response[appealv1.ListAppealsResponse], error) {
	m := req.Msg
	var verr decision.ValidationError
	status, ok := statusFromProto[m.GetStatus()]
	if m.GetAllStatuses() {
		status, ok = ledger.AppealAny, true
	}
	if !ok {
		verr = append(verr, decision.FieldError{Field: "status", Reason: "must be open, upheld or overturned"})
	}
	if n := m.GetPageSize(); n < 0 || n > 100 {
		verr = append(verr, decision.FieldError{Field: "page_size", Reason: "must be between 0 and 100"})
	}
	checkText(&verr, "checkpoint", m.GetCheckpoint(), maxAppealName, false)
	checkText(&verr, "reason_code", m.GetReasonCode(), maxAppealName, false)
	if len(verr) > 0 {
		return nil, invalidArgument(verr)
	}
	as, next, err := h.ledger.ListAppeals(ctx, ledger.AppealFilter{
		Status: status, Checkpoint: m.GetCheckpoint(), ReasonCode: m.GetReasonCode(),
		PageSize: int(m.GetPageSize()), PageToken: m.GetPageToken(),
	})
	if err != nil {
		return nil, h.fail("ListAppeals", string(status), "appeal", err)
	}
	out := &appealv1.ListAppealsResponse{NextPageToken: next}
	for _, a := range as {
		out.Appeals = append(out.Appeals, appealToProto(a, h.now()))
	}
	return connect.NewResponse(out), nil
}

func (h *appealHandler) ResolveAppeal(ctx context.Context, req *connect.Request[appealv1.ResolveAppealRequest]) (*connect.Response[appealv1.ResolveAppealResponse], error) {
	// The interceptor admits only the review role; checked again here so
	// that no wiring change lets an automated caller resolve (DSA Art. 20(6)).
	if err := requireRole(ctx, roleReview); err != nil {
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("only a caller with the review role may resolve appeals"))
	}
	m := req.Msg
	var verr decision.ValidationError
	checkID(&verr, "appeal_id", m.GetAppealId())
	var outcome ledger.AppealStatus
	switch m.GetOutcome() {
	case appealv1.Outcome_OUTCOME_UPHELD:
		outcome = ledger.AppealUpheld
	case appealv1.Outcome_OUTCOME_OVERTURNED:
		outcome = ledger.AppealOverturned
	default:
		verr = append(verr, decision.FieldError{Field: "outcome", Reason: "is required: upheld or overturned"})
	}
	checkText(&verr, "reviewer", m.GetReviewer(), maxAppealName, true)
	checkText(&verr, "note", m.GetNote(), maxAppealText, false)
	if len(verr) > 0 {
		return nil, invalidArgument(verr)
	}
	a, err := h.ledger.ResolveAppeal(ctx, ledger.AppealResolution{
		AppealID:   m.GetAppealId(),
		Outcome:    outcome,
		Reviewer:   strings.TrimSpace(m.GetReviewer()),
		ResolvedBy: callerName(ctx),
		Note:       m.GetNote(),
		At:         h.now(),
		ClearFor:   h.clearFor,
	})
	if err != nil {
		return nil, h.fail("ResolveAppeal", m.GetAppealId(), "appeal", err)
	}
	if outcome == ledger.AppealOverturned && h.observer != nil {
		// Detectors that learned from the decision unlearn it.
		if rec, err := h.ledger.Get(ctx, a.DecisionID); err == nil {
			h.observe(ctx, rec)
		} else {
			h.log.Warn("overturned decision not sent to detectors", "decision_id", a.DecisionID, "error", err)
		}
	}
	return connect.NewResponse(&appealv1.ResolveAppealResponse{Appeal: appealToProto(a, h.now())}), nil
}

func (h *appealHandler) ClaimAppeal(ctx context.Context, req *connect.Request[appealv1.ClaimAppealRequest]) (*connect.Response[appealv1.ClaimAppealResponse], error) {
	if err := requireRole(ctx, roleReview); err != nil {
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("only a caller with the review role may claim appeals"))
	}
	m := req.Msg
	var verr decision.ValidationError
	checkID(&verr, "appeal_id", m.GetAppealId())
	checkText(&verr, "reviewer", m.GetReviewer(), maxAppealName, true)
	if len(verr) > 0 {
		return nil, invalidArgument(verr)
	}
	a, err := h.ledger.ClaimAppeal(ctx, ledger.AppealClaim{
		AppealID: m.GetAppealId(), Reviewer: strings.TrimSpace(m.GetReviewer()),
		At: h.now(), For: h.claimTTL, Release: m.GetRelease(),
	})
	if err != nil {
		return nil, h.fail("ClaimAppeal", m.GetAppealId(), "appeal", err)
	}
	return connect.NewResponse(&appealv1.ClaimAppealResponse{Appeal: appealToProto(a, h.now())}), nil
}

// overturned tells the detectors of a decision an appeal overturned, for
// appeals resolved through the review queue.
func (h *appealHandler) overturned(ctx context.Context, decisionID string) {
	if h.observer == nil {
		return
	}
	if rec, err := h.ledger.Get(ctx, decisionID); err == nil {
		h.observe(ctx, rec)
	} else {
		h.log.Warn("overturned decision not sent to detectors", "decision_id", decisionID, "error", err)
	}
}

// observe tells the detectors of an overturned decision; a lifted
// suspension reaches them before the reply, so the account's next decision
// no longer counts it against linked accounts.
func (h *appealHandler) observe(ctx context.Context, rec *decision.Record) {
	so, ok := h.observer.(decision.SyncObserver)
	if !ok || rec.Verdict.Action != decision.Suspend {
		h.observer.Observe(rec)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), decision.SyncObserveTimeout)
	defer cancel()
	so.ObserveNow(ctx, rec)
}

// fail maps a ledger error to a Connect error with a safe message, logging
// unexpected ones once, here. what names the thing id refers to.
func (h *appealHandler) fail(method, id, what string, err error) error {
	switch {
	case errors.Is(err, ledger.ErrNotAppealable), errors.Is(err, ledger.ErrAppealWindowClosed),
		errors.Is(err, ledger.ErrAppealExists), errors.Is(err, ledger.ErrAlreadyResolved),
		errors.Is(err, ledger.ErrClaimed):
		// These messages name the decision or appeal and the refusal only.
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, decision.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, errors.New(what+" not found"))
	case errors.Is(err, ledger.ErrBadPageToken):
		return invalidArgument(decision.ValidationError{{Field: "page_token", Reason: "is not a token from an earlier page of the same query"}})
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("request canceled"))
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("deadline exceeded"))
	default:
		h.log.Error(method+" failed", "id", id, "error", err)
		return connect.NewError(connect.CodeUnavailable, errors.New("gavel cannot reach its ledger right now; retry"))
	}
}

func checkID(verr *decision.ValidationError, field, v string) {
	switch {
	case v == "":
		*verr = append(*verr, decision.FieldError{Field: field, Reason: "is required"})
	case len(v) > maxAppealName || !utf8.ValidString(v):
		*verr = append(*verr, decision.FieldError{Field: field, Reason: "is not an id gavel issued"})
	}
}

func checkText(verr *decision.ValidationError, field, v string, max int, required bool) {
	switch {
	case required && strings.TrimSpace(v) == "":
		*verr = append(*verr, decision.FieldError{Field: field, Reason: "is required"})
	case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
		*verr = append(*verr, decision.FieldError{Field: field, Reason: "is not valid UTF-8 text"})
	case utf8.RuneCountInString(v) > max:
		*verr = append(*verr, decision.FieldError{Field: field, Reason: fmt.Sprintf("is longer than %d characters", max)})
	}
}

// appealToProto converts an appeal; a claim that lapsed by now is left out.
func appealToProto(a *ledger.Appeal, now time.Time) *appealv1.Appeal {
	p := &appealv1.Appeal{
		AppealId:    a.AppealID,
		DecisionId:  a.DecisionID,
		SubjectId:   a.SubjectID,
		Checkpoint:  a.Checkpoint,
		ReasonCodes: a.Codes,
		Statement:   a.Statement,
		FiledBy:     a.FiledBy,
		FiledAt:     timestamppb.New(a.FiledAt),
		Status:      statusToProtoAppeal[a.Status],
		Reviewer:    a.Reviewer,
		Note:        a.Note,
		ResolvedBy:  a.ResolvedBy,
		DecidedAt:   timestamppb.New(a.DecidedAt),
	}
	if !a.ResolvedAt.IsZero() {
		p.ResolvedAt = timestamppb.New(a.ResolvedAt)
	}
	if who := a.ClaimedAt(now); who != "" && a.Status == ledger.AppealOpen {
		p.ClaimedBy, p.ClaimedUntil = who, timestamppb.New(a.ClaimedUntil)
	}
	return p
}
