package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gavel/gavel/events"
	eventsv1 "github.com/gavel/gavel/proto/gavel/events/v1"
	"github.com/gavel/gavel/proto/gavel/events/v1/eventsv1connect"
)

// eventsHandler is EventService: the outbox's status, dead letters and
// their redrive.
type eventsHandler struct {
	s     *Server
	store events.Store
	log   *slog.Logger
}

var _ eventsv1connect.EventServiceHandler = (*eventsHandler)(nil)

func (h *eventsHandler) GetEventStatus(ctx context.Context, _ *connect.Request[eventsv1.GetEventStatusRequest]) (*connect.Response[eventsv1.GetEventStatusResponse], error) {
	st, err := h.s.eventsStatus(ctx)
	if err != nil {
		h.log.Error("GetEventStatus could not read the outbox", "error", err)
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("cannot read the events outbox from the ledger right now"))
	}
	return connect.NewResponse(&eventsv1.GetEventStatusResponse{Status: st}), nil
}

func (h *eventsHandler) ListDeliveries(ctx context.Context, req *connect.Request[eventsv1.ListDeliveriesRequest]) (*connect.Response[eventsv1.ListDeliveriesResponse], error) {
	m := req.Msg
	f := events.LetterFilter{Endpoint: m.GetEndpoint(), State: m.GetState(), Subject: m.GetSubject(), Limit: int(m.GetPageSize())}
	switch f.State {
	case "", events.StateDead, events.StatePending:
	default:
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("state: %q is neither dead nor pending", f.State))
	}
	if m.GetPageSize() < 0 {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("page_size: %d is negative", m.GetPageSize()))
	}
	if t := m.GetPageToken(); t != "" {
		ep, seq, ok := strings.Cut(t, "\x00")
		n, err := strconv.ParseInt(seq, 10, 64)
		if !ok || err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("page_token: not a token this service gave"))
		}
		f.AfterEndpoint, f.AfterSeq = ep, n
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	f.Limit = min(limit, 1000) + 1
	letters, err := h.store.Letters(ctx, f)
	if err != nil {
		h.log.Error("ListDeliveries could not read the outbox", "error", err)
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("cannot read the events outbox from the ledger right now"))
	}
	out := &eventsv1.ListDeliveriesResponse{}
	if len(letters) > f.Limit-1 {
		letters = letters[:f.Limit-1]
		last := letters[len(letters)-1]
		out.NextPageToken = last.Endpoint + "\x00" + strconv.FormatInt(last.Event.Seq, 10)
	}
	for _, x := range letters {
		d := &eventsv1.Delivery{
			Endpoint: x.Endpoint, Sequence: x.Event.Seq, EventId: x.Event.ID, Type: x.Event.Type, Subject: x.Event.Subject,
			Time: timestamppb.New(x.Event.Time), State: x.State, Attempts: int32(x.Attempts), LastError: x.LastError,
			LastStatus: int32(x.LastStatus), UpdatedAt: timestamppb.New(x.UpdatedAt), Data: string(x.Event.Data),
		}
		if x.State == events.StatePending {
			d.NextAttempt = timestamppb.New(x.NextAt)
		}
		out.Deliveries = append(out.Deliveries, d)
	}
	return connect.NewResponse(out), nil
}

func (h *eventsHandler) RedriveDeliveries(ctx context.Context, req *connect.Request[eventsv1.RedriveDeliveriesRequest]) (*connect.Response[eventsv1.RedriveDeliveriesResponse], error) {
	m := req.Msg
	switch {
	case m.GetAll() && len(m.GetSequences()) > 0:
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("sequences: give sequences or all, not both"))
	case !m.GetAll() && len(m.GetSequences()) == 0:
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("sequences: name the dead letters to redrive, or set all"))
	case len(m.GetSequences()) > 1000:
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("sequences: %d is more than 1000 at once", len(m.GetSequences())))
	}
	for i, s := range m.GetSequences() {
		if s <= 0 {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("sequences[%d]: %d is not a sequence number", i, s))
		}
	}
	n, err := h.store.Redrive(ctx, m.GetEndpoint(), m.GetSequences(), time.Now())
	if errors.Is(err, events.ErrNotFound) {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no dead letter with those sequence numbers"))
	}
	if err != nil {
		h.log.Error("RedriveDeliveries could not write the outbox", "error", err)
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("cannot write the events outbox right now"))
	}
	h.log.Info("dead letters redriven", "endpoint", m.GetEndpoint(), "deliveries", n)
	return connect.NewResponse(&eventsv1.RedriveDeliveriesResponse{Redriven: int64(n)}), nil
}
