package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
	reviewv1 "github.com/gavel/gavel/proto/gavel/review/v1"
	"github.com/gavel/gavel/proto/gavel/review/v1/reviewv1connect"
	"github.com/gavel/gavel/review"
)

// reviewHandler is the Connect edge of the review queue.
type reviewHandler struct {
	svc          *review.Service
	log          *slog.Logger
	appealWindow time.Duration
}

var _ reviewv1connect.ReviewServiceHandler = (*reviewHandler)(nil)

var kindFromProto = map[reviewv1.Kind]string{
	reviewv1.Kind_KIND_UNSPECIFIED: "",
	reviewv1.Kind_KIND_CASE:        ledger.KindCase,
	reviewv1.Kind_KIND_APPEAL:      ledger.KindAppeal,
}

var kindToProto = map[string]reviewv1.Kind{
	ledger.KindCase:   reviewv1.Kind_KIND_CASE,
	ledger.KindAppeal: reviewv1.Kind_KIND_APPEAL,
}

var resolutionFromProto = map[reviewv1.Resolution]string{
	reviewv1.Resolution_RESOLUTION_UPHOLD:   review.Uphold,
	reviewv1.Resolution_RESOLUTION_LIFT:     review.Lift,
	reviewv1.Resolution_RESOLUTION_SUSPEND:  review.Suspend,
	reviewv1.Resolution_RESOLUTION_OVERTURN: review.Overturn,
}

var resolutionToProto = map[string]reviewv1.Resolution{
	ledger.ResolveUphold:            reviewv1.Resolution_RESOLUTION_UPHOLD,
	ledger.ResolveLift:              reviewv1.Resolution_RESOLUTION_LIFT,
	ledger.ResolveSuspend:           reviewv1.Resolution_RESOLUTION_SUSPEND,
	string(ledger.AppealUpheld):     reviewv1.Resolution_RESOLUTION_UPHOLD,
	string(ledger.AppealOverturned): reviewv1.Resolution_RESOLUTION_OVERTURN,
}

func (h *reviewHandler) ListQueue(ctx context.Context, req *connect.Request[reviewv1.ListQueueRequest]) (*connect.Response[reviewv1.ListQueueResponse], error) {
	m := req.Msg
	kind, ok := kindFromProto[m.GetKind()]
	if !ok {
		return nil, invalidArgument(decision.ValidationError{{Field: "kind", Reason: "must be case or appeal, or unspecified for both"}})
	}
	items, next, now, err := h.svc.Queue(ctx, review.Filter{
		Kind: kind, ReasonCode: m.GetReasonCode(), SubjectID: m.GetSubjectId(), Assignee: m.GetAssignee(),
		Unassigned: m.GetUnassigned(), Overdue: m.GetOverdue(), PageSize: int(m.GetPageSize()), PageToken: m.GetPageToken(),
	})
	if err != nil {
		return nil, h.fail("ListQueue", "", err)
	}
	out := &reviewv1.ListQueueResponse{NextPageToken: next, Now: timestamppb.New(now)}
	for _, it := range items {
		p := &reviewv1.Item{
			Kind: kindToProto[it.Kind], Id: it.ID, SubjectId: it.SubjectID, DecisionId: it.DecisionID,
			Checkpoint: it.Checkpoint, Action: actionNamed(it.Action), ReasonCodes: it.Codes,
			OpenedAt: timestamppb.New(it.At), DueAt: timestamppb.New(it.Due), Age: durationpb.New(now.Sub(it.At).Truncate(time.Second)),
			Overdue: it.Overdue(now), Status: ledger.CaseOpen,
		}
		if who := it.ClaimedAt(now); who != "" {
			p.ClaimedBy, p.ClaimedUntil = who, timestamppb.New(it.ClaimedUntil)
		}
		if it.Kind == ledger.KindCase {
			p.DecisionIds = []string{it.DecisionID}
		}
		out.Items = append(out.Items, p)
	}
	return connect.NewResponse(out), nil
}

func (h *reviewHandler) GetItem(ctx context.Context, req *connect.Request[reviewv1.GetItemRequest]) (*connect.Response[reviewv1.GetItemResponse], error) {
	it, err := h.svc.Get(ctx, req.Msg.GetId())
	if err != nil {
		return nil, h.fail("GetItem", req.Msg.GetId(), err)
	}
	out := &reviewv1.GetItemResponse{Item: itemToProto(it, time.Now())}
	for _, rec := range it.Decisions {
		d := &decisionv1.GetDecisionResponse{Decision: responseFromRecord(rec, decisionv1.View_VIEW_REVIEWER), View: decisionv1.View_VIEW_REVIEWER}
		d.Decision.Statement = statementOf(rec, h.appealWindow)
		reviewerDetail(rec, d)
		out.Decisions = append(out.Decisions, d)
	}
	for _, n := range it.Notes {
		out.Notes = append(out.Notes, noteToProto(&n))
	}
	return connect.NewResponse(out), nil
}

func (h *reviewHandler) Claim(ctx context.Context, req *connect.Request[reviewv1.ClaimRequest]) (*connect.Response[reviewv1.ClaimResponse], error) {
	m := req.Msg
	if !ledger.IsCaseID(m.GetId()) {
		if err := requireRole(ctx, roleReview); err != nil {
			return nil, connect.NewError(connect.CodePermissionDenied, errors.New("only a caller with the review role may claim appeals"))
		}
	}
	it, err := h.svc.Claim(ctx, m.GetId(), m.GetReviewer(), m.GetRelease())
	if err != nil {
		return nil, h.fail("Claim", m.GetId(), err)
	}
	return connect.NewResponse(&reviewv1.ClaimResponse{Item: itemToProto(it, time.Now())}), nil
}

func (h *reviewHandler) AddNote(ctx context.Context, req *connect.Request[reviewv1.AddNoteRequest]) (*connect.Response[reviewv1.AddNoteResponse], error) {
	m := req.Msg
	n, err := h.svc.AddNote(ctx, m.GetId(), m.GetAuthor(), m.GetBody())
	if err != nil {
		return nil, h.fail("AddNote", m.GetId(), err)
	}
	return connect.NewResponse(&reviewv1.AddNoteResponse{Note: noteToProto(n)}), nil
}

func (h *reviewHandler) Resolve(ctx context.Context, req *connect.Request[reviewv1.ResolveRequest]) (*connect.Response[reviewv1.ResolveResponse], error) {
	m := req.Msg
	// Checked again here so that no wiring change lets an automated caller
	// resolve: an appeal needs the review role (DSA Art. 20(6)).
	if ledger.IsCaseID(m.GetId()) {
		if err := requireRole(ctx, roleReview, roleAdmin); err != nil {
			return nil, connect.NewError(connect.CodePermissionDenied, errors.New("only a caller with the review or admin role may resolve cases"))
		}
	} else if err := requireRole(ctx, roleReview); err != nil {
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("only a caller with the review role may resolve appeals"))
	}
	how, ok := resolutionFromProto[m.GetResolution()]
	if !ok && m.GetResolution() != reviewv1.Resolution_RESOLUTION_UNSPECIFIED {
		return nil, invalidArgument(decision.ValidationError{{Field: "resolution", Reason: "is not a known resolution"}})
	}
	var d time.Duration
	if m.GetDuration() != nil {
		if err := m.GetDuration().CheckValid(); err != nil || m.GetDuration().AsDuration() <= 0 {
			return nil, invalidArgument(decision.ValidationError{{Field: "duration", Reason: "must be a positive duration, or absent for until lifted"}})
		}
		d = m.GetDuration().AsDuration()
	}
	it, rec, err := h.svc.Resolve(ctx, review.Resolution{
		ID: m.GetId(), How: how, Reviewer: m.GetReviewer(), Caller: callerName(ctx), Note: m.GetNote(),
		ReasonCode: m.GetReasonCode(), Capabilities: m.GetCapabilities(), Duration: d, RequestID: m.GetRequestId(),
	})
	if err != nil {
		return nil, h.fail("Resolve", m.GetId(), err)
	}
	out := &reviewv1.ResolveResponse{Item: itemToProto(it, time.Now())}
	if rec != nil {
		out.Decision = responseFromRecord(rec, decisionv1.View_VIEW_REVIEWER)
		out.Decision.Statement = statementOf(rec, h.appealWindow)
	}
	return connect.NewResponse(out), nil
}

// fail maps a domain error to a Connect error with a safe message, logging
// unexpected ones once, here.
func (h *reviewHandler) fail(method, id string, err error) error {
	var verr decision.ValidationError
	switch {
	case errors.As(err, &verr):
		return invalidArgument(verr)
	case errors.Is(err, ledger.ErrCaseResolved), errors.Is(err, ledger.ErrCaseClaimed),
		errors.Is(err, ledger.ErrAlreadyResolved), errors.Is(err, ledger.ErrClaimed),
		errors.Is(err, decision.ErrPrecondition):
		// These messages name the item and the refusal only.
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, decision.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, errors.New("no case or appeal "+id))
	case errors.Is(err, decision.ErrConflict):
		return connect.NewError(connect.CodeAlreadyExists, decision.ErrConflict)
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("request canceled"))
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("deadline exceeded"))
	default:
		h.log.Error(method+" failed", "id", id, "error", err)
		return connect.NewError(connect.CodeUnavailable, errors.New("gavel cannot reach its ledger right now; retry"))
	}
}

func itemToProto(it *review.Item, now time.Time) *reviewv1.Item {
	ts := func(t time.Time) *timestamppb.Timestamp {
		if t.IsZero() {
			return nil
		}
		return timestamppb.New(t)
	}
	var p *reviewv1.Item
	var claimedBy string
	var claimedUntil time.Time
	if c := it.Case; c != nil {
		p = &reviewv1.Item{
			Kind: reviewv1.Kind_KIND_CASE, Id: c.CaseID, SubjectId: c.SubjectID, DecisionId: c.DecisionID,
			Checkpoint: c.Checkpoint, Action: actionNamed(c.Action), ReasonCodes: c.Codes,
			OpenedAt: ts(c.OpenedAt), Status: c.Status, Resolution: resolutionToProto[c.Resolution],
			ResolvedAt: ts(c.ResolvedAt), Reviewer: c.Reviewer, Note: c.Note, ActionDecisionId: c.ActionDecisionID,
			DecisionIds: c.Decisions,
		}
		claimedBy, claimedUntil = c.ClaimedAt(now), c.ClaimedUntil
	} else {
		a := it.Appeal
		p = &reviewv1.Item{
			Kind: reviewv1.Kind_KIND_APPEAL, Id: a.AppealID, SubjectId: a.SubjectID, DecisionId: a.DecisionID,
			Checkpoint: a.Checkpoint, ReasonCodes: a.Codes, OpenedAt: ts(a.FiledAt), Status: string(a.Status),
			ResolvedAt: ts(a.ResolvedAt), Reviewer: a.Reviewer, Note: a.Note, Statement: a.Statement,
			DecisionIds: []string{a.DecisionID},
		}
		if a.Status != ledger.AppealOpen {
			p.Resolution = resolutionToProto[string(a.Status)]
		}
		if len(it.Decisions) > 0 {
			p.Action = actionToProto[it.Decisions[0].Verdict.Action]
		}
		claimedBy, claimedUntil = a.ClaimedAt(now), a.ClaimedUntil
	}
	p.DueAt = ts(it.Due)
	if it.Open() {
		p.Age = durationpb.New(now.Sub(p.GetOpenedAt().AsTime()).Truncate(time.Second))
		p.Overdue = !now.Before(it.Due)
		if claimedBy != "" {
			p.ClaimedBy, p.ClaimedUntil = claimedBy, ts(claimedUntil)
		}
	}
	return p
}

func noteToProto(n *ledger.Note) *reviewv1.Note {
	return &reviewv1.Note{NoteId: n.NoteID, Author: n.Author, At: timestamppb.New(n.At), Body: n.Body}
}

// actionNamed converts an action's name ("restrict") to its enum.
func actionNamed(name string) decisionv1.Action {
	a, err := decision.ParseAction(name)
	if err != nil {
		return decisionv1.Action_ACTION_UNSPECIFIED
	}
	return actionToProto[a]
}
