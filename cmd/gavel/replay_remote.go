package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gavel/gavel/internal/replay"
	"github.com/gavel/gavel/ledger"
	replayv1 "github.com/gavel/gavel/proto/gavel/replay/v1"
	"github.com/gavel/gavel/proto/gavel/replay/v1/replayv1connect"
)

// replayRemote sends the candidate to a running gavel's ReplayService,
// follows its progress and returns its report, and the service's answer
// as sent (for --json).
func replayRemote(ctx context.Context, conn *clientFlags, bundle string, f ledger.Filter, stderr io.Writer) (*replay.Report, *replayv1.GetReplayResponse, error) {
	body, err := os.ReadFile(bundle)
	if err != nil {
		return nil, nil, usageError("--bundle: with --remote, a .tar.gz file: %v", err)
	}
	conn.protocol = "connect"
	opts, err := conn.options()
	if err != nil {
		return nil, nil, err
	}
	hc, base, err := conn.connection()
	if err != nil {
		return nil, nil, err
	}
	client := replayv1connect.NewReplayServiceClient(hc, base, opts...)
	req := &replayv1.StartReplayRequest{Bundle: body, Checkpoint: f.Checkpoint, Name: filepath.Base(bundle)}
	if !f.Since.IsZero() {
		req.Since = timestamppb.New(f.Since)
	}
	if !f.Until.IsZero() {
		req.Until = timestamppb.New(f.Until)
	}
	started, err := client.StartReplay(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, nil, rpcError(err)
	}
	id := started.Msg.GetReplay().GetReplayId()
	progress := newProgress(stderr)
	for {
		resp, err := client.GetReplay(ctx, connect.NewRequest(&replayv1.GetReplayRequest{ReplayId: id}))
		if err != nil {
			progress.finish()
			return nil, nil, rpcError(err)
		}
		r := resp.Msg.GetReplay()
		progress.update(r.GetDone(), r.GetTotal())
		switch r.GetState() {
		case replayv1.ReplayState_REPLAY_STATE_FAILED:
			progress.finish()
			return nil, nil, fmt.Errorf("replay %s failed: %s", id, r.GetError())
		case replayv1.ReplayState_REPLAY_STATE_DONE:
			progress.finish()
			return replay.FromProto(r.GetName(), r.GetReport()), resp.Msg, nil
		}
		select {
		case <-ctx.Done():
			progress.finish()
			return nil, nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
