package server

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/gavel/gavel/proto/gavel/admin/v1"
	"github.com/gavel/gavel/proto/gavel/admin/v1/adminv1connect"
)

type adminHandler struct{ s *Server }

var _ adminv1connect.AdminServiceHandler = (*adminHandler)(nil)

func (h *adminHandler) GetStatus(ctx context.Context, _ *connect.Request[adminv1.GetStatusRequest]) (*connect.Response[adminv1.GetStatusResponse], error) {
	s := h.s
	out := &adminv1.GetStatusResponse{
		Version:       Version,
		StartedAt:     timestamppb.New(s.started),
		LedgerBackend: s.ledger.Backend(),
		Checkpoints:   s.engine.Checkpoints(),
	}
	for _, b := range s.policy.Status() {
		bs := &adminv1.BundleStatus{
			Role: b.Role, Name: b.Name, Revision: b.Revision, Ready: b.Ready, LastError: b.LastError,
		}
		if !b.ActivatedAt.IsZero() {
			bs.ActivatedAt = timestamppb.New(b.ActivatedAt)
		}
		if !b.LastErrorAt.IsZero() {
			bs.LastErrorAt = timestamppb.New(b.LastErrorAt)
		}
		out.Bundles = append(out.Bundles, bs)
	}
	for _, d := range s.host.Status() {
		out.Detectors = append(out.Detectors, &adminv1.DetectorHealth{
			Name: d.Name, Version: d.Version, State: string(d.State), Restarts: int32(d.Restarts),
			LastError: d.LastError, Checkpoints: d.Checkpoints, Signals: d.Signals,
			Budget: durationOrNil(d.Budget), LastLatency: durationOrNil(d.LastLatency), Path: d.Path,
		})
	}
	return connect.NewResponse(out), nil
}
