package server

import (
	"context"
	"errors"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gavel/gavel/plugins/host"
	adminv1 "github.com/gavel/gavel/proto/gavel/admin/v1"
	"github.com/gavel/gavel/proto/gavel/admin/v1/adminv1connect"
)

type adminHandler struct{ s *Server }

var _ adminv1connect.AdminServiceHandler = (*adminHandler)(nil)

func (h *adminHandler) GetStatus(ctx context.Context, req *connect.Request[adminv1.GetStatusRequest]) (*connect.Response[adminv1.GetStatusResponse], error) {
	s := h.s
	out := &adminv1.GetStatusResponse{
		Version:       Version,
		StartedAt:     timestamppb.New(s.started),
		LedgerBackend: s.ledger.Backend(),
		Checkpoints:   s.engine.Checkpoints(),
	}
	s.ledgerHealth(ctx, out)
	if dl := s.policy.DecisionLogStats(); dl.Enabled {
		out.DecisionLogs = &adminv1.DecisionLogStatus{
			Logged: dl.Logged, Dropped: dl.Dropped, Buffered: dl.Buffered, BufferDropped: dl.BufferDropped,
			UploadedChunks: dl.UploadedChunks, FailedChunks: dl.FailedChunks,
		}
	}
	bundleStatus := s.policy.Status()
	if s.shadow != nil {
		bundleStatus = append(bundleStatus, s.shadow.Status()...)
	}
	for _, b := range bundleStatus {
		bs := &adminv1.BundleStatus{
			Role: b.Role, Name: b.Name, Revision: b.Revision, Ready: b.Ready, LastError: b.LastError,
			Optimized: b.Optimized,
		}
		if !b.ActivatedAt.IsZero() {
			bs.ActivatedAt = timestamppb.New(b.ActivatedAt)
		}
		if !b.LastErrorAt.IsZero() {
			bs.LastErrorAt = timestamppb.New(b.LastErrorAt)
		}
		out.Bundles = append(out.Bundles, bs)
	}
	detectors := s.host.Status
	if req.Msg.GetPing() {
		detectors = func() []host.Health { return s.host.Ping(ctx) }
	}
	for _, d := range detectors() {
		out.Detectors = append(out.Detectors, &adminv1.DetectorHealth{
			Name: d.Name, Version: d.Version, State: string(d.State), Restarts: int32(d.Restarts),
			LastError: d.LastError, Checkpoints: d.Checkpoints, Signals: d.Signals,
			Budget: durationOrNil(d.Budget), LastLatency: durationOrNil(d.LastLatency), Path: d.Path,
			Breaker: d.Breaker, ConsecutiveFailures: int32(d.ConsecutiveFailures),
			PingLatency: durationOrNil(d.PingLatency), PingError: d.PingError,
		})
	}
	if ev, err := s.eventsStatus(ctx); err != nil {
		s.log.Warn("GetStatus could not read the events outbox", "error", err)
	} else {
		out.Events = ev
	}
	out.Lists = s.listsStatus(ctx)
	shadow, err := s.shadowReport(ctx)
	if err != nil {
		s.log.Error("GetStatus could not read shadow agreement", "error", err)
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("cannot read the shadow agreement from the ledger right now"))
	}
	out.Shadow = shadow
	return connect.NewResponse(out), nil
}
