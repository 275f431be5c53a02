package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/lists"
	listsv1 "github.com/gavel/gavel/proto/gavel/lists/v1"
	"github.com/gavel/gavel/proto/gavel/lists/v1/listsv1connect"
)

// listsHandler is the Connect edge of the runtime lists.
type listsHandler struct {
	svc *lists.Service
	log *slog.Logger
}

var _ listsv1connect.ListServiceHandler = (*listsHandler)(nil)

var purposeFromProto = map[listsv1.Purpose]lists.Purpose{
	listsv1.Purpose_PURPOSE_BLOCK: lists.Block,
	listsv1.Purpose_PURPOSE_ALLOW: lists.Allow,
}

func (h *listsHandler) CreateList(ctx context.Context, req *connect.Request[listsv1.CreateListRequest]) (*connect.Response[listsv1.CreateListResponse], error) {
	m := req.Msg
	p, ok := purposeFromProto[m.GetPurpose()]
	if !ok {
		p = lists.Purpose(fmt.Sprint(m.GetPurpose()))
	}
	l, err := h.svc.Create(ctx, lists.Spec{
		Name: m.GetName(), Kind: lists.Kind(m.GetKind()), Purpose: p, Action: m.GetAction(),
		Exempts: m.GetExempts(), Description: m.GetDescription(),
	}, callerName(ctx))
	if err != nil {
		return nil, h.fail("CreateList", m.GetName(), err)
	}
	return connect.NewResponse(&listsv1.CreateListResponse{List: listToProto(l)}), nil
}

func (h *listsHandler) GetList(ctx context.Context, req *connect.Request[listsv1.GetListRequest]) (*connect.Response[listsv1.GetListResponse], error) {
	l, err := h.svc.Get(ctx, req.Msg.GetName())
	if err != nil {
		return nil, h.fail("GetList", req.Msg.GetName(), err)
	}
	return connect.NewResponse(&listsv1.GetListResponse{List: listToProto(l)}), nil
}

func (h *listsHandler) ListLists(ctx context.Context, _ *connect.Request[listsv1.ListListsRequest]) (*connect.Response[listsv1.ListListsResponse], error) {
	ls, err := h.svc.Lists(ctx)
	if err != nil {
		return nil, h.fail("ListLists", "", err)
	}
	out := &listsv1.ListListsResponse{}
	for _, l := range ls {
		out.Lists = append(out.Lists, listToProto(l))
	}
	return connect.NewResponse(out), nil
}

func (h *listsHandler) AddEntries(ctx context.Context, req *connect.Request[listsv1.AddEntriesRequest]) (*connect.Response[listsv1.AddEntriesResponse], error) {
	m := req.Msg
	var expires time.Time
	if m.GetExpiresAt() != nil {
		if err := m.GetExpiresAt().CheckValid(); err != nil {
			return nil, invalidArgument(decision.ValidationError{{Field: "expires_at", Reason: "is not a valid time"}})
		}
		expires = m.GetExpiresAt().AsTime()
	}
	n, err := h.svc.Add(ctx, m.GetList(), m.GetValues(), m.GetNote(), expires, callerName(ctx))
	if err != nil {
		return nil, h.fail("AddEntries", m.GetList(), err)
	}
	return connect.NewResponse(&listsv1.AddEntriesResponse{Added: int32(n)}), nil
}

func (h *listsHandler) RemoveEntries(ctx context.Context, req *connect.Request[listsv1.RemoveEntriesRequest]) (*connect.Response[listsv1.RemoveEntriesResponse], error) {
	n, err := h.svc.Remove(ctx, req.Msg.GetList(), req.Msg.GetValues(), callerName(ctx))
	if err != nil {
		return nil, h.fail("RemoveEntries", req.Msg.GetList(), err)
	}
	return connect.NewResponse(&listsv1.RemoveEntriesResponse{Removed: int32(n)}), nil
}

func (h *listsHandler) ListEntries(ctx context.Context, req *connect.Request[listsv1.ListEntriesRequest]) (*connect.Response[listsv1.ListEntriesResponse], error) {
	m := req.Msg
	if n := m.GetPageSize(); n < 0 || n > lists.MaxEntriesPage {
		return nil, invalidArgument(decision.ValidationError{{Field: "page_size", Reason: fmt.Sprintf("must be between 0 and %d", lists.MaxEntriesPage)}})
	}
	l, es, next, err := h.svc.Entries(ctx, m.GetList(), int(m.GetPageSize()), m.GetPageToken())
	if err != nil {
		return nil, h.fail("ListEntries", m.GetList(), err)
	}
	out := &listsv1.ListEntriesResponse{List: listToProto(l), NextPageToken: next}
	for _, e := range es {
		pe := &listsv1.Entry{Value: e.Key, Note: e.Note, AddedBy: e.AddedBy, AddedAt: timestamppb.New(e.AddedAt)}
		if !e.ExpiresAt.IsZero() {
			pe.ExpiresAt = timestamppb.New(e.ExpiresAt)
		}
		out.Entries = append(out.Entries, pe)
	}
	return connect.NewResponse(out), nil
}

func (h *listsHandler) ImportEntries(ctx context.Context, stream *connect.ClientStream[listsv1.ImportEntriesRequest]) (*connect.Response[listsv1.ImportEntriesResponse], error) {
	var (
		name, source string
		skipBad      bool
		rows         []lists.Row
		first        = true
	)
	for stream.Receive() {
		m := stream.Msg()
		if first {
			name, skipBad, source, first = m.GetList(), m.GetSkipBadRows(), m.GetSource(), false
		}
		if len(rows)+len(m.GetRows()) > lists.MaxImportRows {
			return nil, invalidArgument(decision.ValidationError{{Field: "rows", Reason: fmt.Sprintf("at most %d rows per import", lists.MaxImportRows)}})
		}
		for _, r := range m.GetRows() {
			row := lists.Row{Line: int(r.GetLine()), Value: r.GetValue(), Note: r.GetNote()}
			if r.GetExpiresAt() != nil {
				if r.GetExpiresAt().CheckValid() != nil {
					return nil, invalidArgument(decision.ValidationError{{Field: fmt.Sprintf("line %d", r.GetLine()), Reason: "expires_at is not a valid time"}})
				}
				row.ExpiresAt = r.GetExpiresAt().AsTime()
			}
			rows = append(rows, row)
		}
	}
	if err := stream.Err(); err != nil {
		return nil, err
	}
	if first {
		return nil, invalidArgument(decision.ValidationError{{Field: "list", Reason: "is required"}})
	}
	if source == "" {
		source = "an import"
	}
	res, err := h.svc.Import(ctx, name, rows, skipBad, source, callerName(ctx))
	if err != nil {
		return nil, h.fail("ImportEntries", name, err)
	}
	out := &listsv1.ImportEntriesResponse{Imported: int32(res.Imported)}
	for _, f := range res.Skipped {
		out.Skipped = append(out.Skipped, f.Error())
	}
	return connect.NewResponse(out), nil
}

func (h *listsHandler) ListChanges(ctx context.Context, req *connect.Request[listsv1.ListChangesRequest]) (*connect.Response[listsv1.ListChangesResponse], error) {
	m := req.Msg
	if n := m.GetPageSize(); n < 0 || n > lists.MaxEntriesPage {
		return nil, invalidArgument(decision.ValidationError{{Field: "page_size", Reason: fmt.Sprintf("must be between 0 and %d", lists.MaxEntriesPage)}})
	}
	_, cs, err := h.svc.History(ctx, m.GetList(), m.GetBeforeSeq(), int(m.GetPageSize()))
	if err != nil {
		return nil, h.fail("ListChanges", m.GetList(), err)
	}
	out := &listsv1.ListChangesResponse{}
	for _, c := range cs {
		pc := &listsv1.Change{Seq: c.Seq, At: timestamppb.New(c.At), Actor: c.Actor, List: c.ListName,
			Op: string(c.Op), Value: c.Key, Note: c.Note, Detail: c.Detail}
		if !c.ExpiresAt.IsZero() {
			pc.ExpiresAt = timestamppb.New(c.ExpiresAt)
		}
		out.Changes = append(out.Changes, pc)
	}
	return connect.NewResponse(out), nil
}

func (h *listsHandler) fail(method, name string, err error) error {
	var verr decision.ValidationError
	switch {
	case errors.As(err, &verr):
		return invalidArgument(verr)
	case errors.Is(err, lists.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("list %q not found", name))
	case errors.Is(err, lists.ErrExists):
		return connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("list %q already exists", name))
	case errors.Is(err, lists.ErrBadPageToken):
		return invalidArgument(decision.ValidationError{{Field: "page_token", Reason: "is not a token from an earlier page"}})
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("request canceled"))
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("deadline exceeded"))
	default:
		h.log.Error(method+" failed", "list", name, "error", err)
		return connect.NewError(connect.CodeUnavailable, errors.New("gavel cannot reach its ledger right now; retry"))
	}
}

var purposeToProto = map[lists.Purpose]listsv1.Purpose{
	lists.Block: listsv1.Purpose_PURPOSE_BLOCK,
	lists.Allow: listsv1.Purpose_PURPOSE_ALLOW,
}

func listToProto(l lists.List) *listsv1.List {
	return &listsv1.List{
		Name: l.Name, Kind: string(l.Kind), Purpose: purposeToProto[l.Purpose], Action: l.Action,
		Exempts: l.Exempts, Description: l.Description, CreatedBy: l.CreatedBy,
		CreatedAt: timestamppb.New(l.CreatedAt), UpdatedAt: timestamppb.New(l.UpdatedAt),
		Entries: l.Entries, Field: l.Kind.Field(),
	}
}
