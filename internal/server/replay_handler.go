package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gavel/gavel/bundles"
	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/internal/replay"
	"github.com/gavel/gavel/ledger"
	"github.com/gavel/gavel/policies"
	replayv1 "github.com/gavel/gavel/proto/gavel/replay/v1"
	"github.com/gavel/gavel/proto/gavel/replay/v1/replayv1connect"
)

// replayHandler is the Connect edge of the replay service: candidates are
// replayed on the ledger's history, never activated.
type replayHandler struct {
	svc         *replay.Service
	checkpoints map[string]bool
	log         *slog.Logger
}

var _ replayv1connect.ReplayServiceHandler = (*replayHandler)(nil)

// newReplayService loads candidates as the active bundle is loaded (same
// entry point, signing rules and input schema) under <data_dir>/replays.
func (s *Server) newReplayService() (*replay.Service, error) {
	signing, err := policySigning(s.cfg.Policy)
	if err != nil {
		return nil, err
	}
	required := s.cfg.Policy.SigningRequired()
	load := func(ctx context.Context, path string) (replay.Candidate, error) {
		if signing == nil && required {
			return nil, errors.New("policy signing is required, but no verification key is configured")
		}
		name := "candidate-" + filepath.Base(path)
		e, err := bundles.New(ctx, bundles.Config{
			Name: name, Role: "shadow", Source: path, Entrypoint: s.cfg.Policy.Entrypoint,
			PersistDir: "", Signing: signing, InputSchema: policies.InputSchema(),
		}, s.log.With("part", "replay"))
		if err != nil {
			return nil, err
		}
		// A local tarball loads at once: ready, or an error in its status.
		deadline := time.Now().Add(s.cfg.Policy.ReadyWait)
		for {
			wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			err := e.WaitReady(wctx)
			cancel()
			if err == nil {
				return e, nil
			}
			st := e.Status()
			if len(st) > 0 && st[0].LastError != "" || time.Now().After(deadline) || ctx.Err() != nil {
				stop, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				e.Stop(stop)
				cancel()
				if len(st) > 0 && st[0].LastError != "" {
					return nil, errors.New(st[0].LastError)
				}
				return nil, err
			}
		}
	}
	return replay.NewService(s.cfg.Replay, s.ledger, load, filepath.Join(s.cfg.DataDir, "replays"))
}

func (h *replayHandler) StartReplay(ctx context.Context, req *connect.Request[replayv1.StartReplayRequest]) (*connect.Response[replayv1.StartReplayResponse], error) {
	m := req.Msg
	var verr decision.ValidationError
	var f ledger.Filter
	if m.GetSince() != nil {
		f.Since = m.GetSince().AsTime()
	}
	if m.GetUntil() != nil {
		f.Until = m.GetUntil().AsTime()
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		verr = append(verr, decision.FieldError{Field: "until", Reason: "must be after since"})
	}
	if cp := m.GetCheckpoint(); cp != "" && !h.checkpoints[cp] {
		verr = append(verr, decision.FieldError{Field: "checkpoint", Reason: fmt.Sprintf("%q is not a configured checkpoint", cp)})
	}
	checkText(&verr, "name", m.GetName(), maxAppealName, false)
	if len(m.GetBundle()) == 0 {
		verr = append(verr, decision.FieldError{Field: "bundle", Reason: "is required"})
	}
	if len(verr) > 0 {
		return nil, invalidArgument(verr)
	}
	f.Checkpoint = m.GetCheckpoint()
	name := m.GetName()
	if name == "" {
		name = "candidate"
	}
	j, err := h.svc.Start(ctx, m.GetBundle(), name, f)
	switch {
	case errors.Is(err, replay.ErrTooLarge):
		return nil, connect.NewError(connect.CodeResourceExhausted, err)
	case errors.Is(err, replay.ErrBusy):
		return nil, connect.NewError(connect.CodeResourceExhausted, err)
	case errors.Is(err, replay.ErrNotBundle):
		return nil, invalidArgument(decision.ValidationError{{Field: "bundle", Reason: err.Error()}})
	case errors.Is(err, replay.ErrCandidate):
		// The bundle's own compile or signature error: the caller's input.
		return nil, invalidArgument(decision.ValidationError{{Field: "bundle", Reason: err.Error()}})
	case err != nil:
		h.log.Error("StartReplay failed", "error", err)
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("cannot start a replay right now"))
	}
	h.log.Info("replay started", "replay_id", j.ID)
	return connect.NewResponse(&replayv1.StartReplayResponse{Replay: replayToProto(j)}), nil
}

func (h *replayHandler) GetReplay(ctx context.Context, req *connect.Request[replayv1.GetReplayRequest]) (*connect.Response[replayv1.GetReplayResponse], error) {
	var verr decision.ValidationError
	checkID(&verr, "replay_id", req.Msg.GetReplayId())
	if len(verr) > 0 {
		return nil, invalidArgument(verr)
	}
	j, ok := h.svc.Get(req.Msg.GetReplayId())
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("replay not found (replays are kept in memory until gavel restarts)"))
	}
	return connect.NewResponse(&replayv1.GetReplayResponse{Replay: replayToProto(j)}), nil
}

func tsOrNil(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func replayToProto(j replay.Job) *replayv1.Replay {
	p := &replayv1.Replay{
		ReplayId: j.ID, Name: j.Name, StartedAt: tsOrNil(j.Started), FinishedAt: tsOrNil(j.Finished),
		Done: j.Done, Total: j.Total, Error: j.Err,
	}
	switch j.State {
	case replay.Running:
		p.State = replayv1.ReplayState_REPLAY_STATE_RUNNING
	case replay.Done:
		p.State = replayv1.ReplayState_REPLAY_STATE_DONE
	case replay.Failed:
		p.State = replayv1.ReplayState_REPLAY_STATE_FAILED
	}
	if j.Report != nil {
		p.Report = j.Report.ToProto(j.Filter.Since, j.Filter.Until, j.Filter.Checkpoint)
	}
	return p
}
