package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/internal/replay"
	"github.com/gavel/gavel/ledger"
	replayv1 "github.com/gavel/gavel/proto/gavel/replay/v1"
	"github.com/gavel/gavel/proto/gavel/replay/v1/replayv1connect"
)

// replayRemote sends the candidate to a running gavel's ReplayService,
// follows its progress and prints its report (`gavel replay --remote`).
func replayRemote(ctx context.Context, addr, token, bundle string, f ledger.Filter, asJSON bool, stdout, stderr io.Writer) error {
	body, err := os.ReadFile(bundle)
	if err != nil {
		return usageError("--bundle: with --remote, a .tar.gz file: %v", err)
	}
	var opts []connect.ClientOption
	if token != "" {
		opts = append(opts, connect.WithInterceptors(bearer(token)))
	}
	client := replayv1connect.NewReplayServiceClient(httpClient(), strings.TrimRight(addr, "/"), opts...)
	req := &replayv1.StartReplayRequest{Bundle: body, Checkpoint: f.Checkpoint, Name: filepath.Base(bundle)}
	if !f.Since.IsZero() {
		req.Since = timestamppb.New(f.Since)
	}
	if !f.Until.IsZero() {
		req.Until = timestamppb.New(f.Until)
	}
	started, err := client.StartReplay(ctx, connect.NewRequest(req))
	if err != nil {
		return rpcError(err)
	}
	id := started.Msg.GetReplay().GetReplayId()
	progress := newProgress(stderr)
	for {
		resp, err := client.GetReplay(ctx, connect.NewRequest(&replayv1.GetReplayRequest{ReplayId: id}))
		if err != nil {
			return rpcError(err)
		}
		r := resp.Msg.GetReplay()
		progress.update(r.GetDone(), r.GetTotal())
		switch r.GetState() {
		case replayv1.ReplayState_REPLAY_STATE_FAILED:
			return fmt.Errorf("replay %s failed: %s", id, r.GetError())
		case replayv1.ReplayState_REPLAY_STATE_DONE:
			rep := reportFromProto(r)
			progress.finish(rep)
			if asJSON {
				return printJSON(stdout, resp.Msg)
			}
			return rep.WriteText(stdout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// reportFromProto turns the service's report back into the one the local
// replay prints.
func reportFromProto(r *replayv1.Replay) *replay.Report {
	p := r.GetReport()
	rep := &replay.Report{
		Candidate: r.GetName(), CandidateRevisions: p.GetCandidateRevisions(), Checkpoint: p.GetCheckpoint(),
		Selected: p.GetSelected(), Replayed: p.GetReplayed(), Errors: p.GetErrors(), FirstError: p.GetFirstError(),
		Changed: p.GetChanged(), EscalationsTotal: p.GetEscalationsTotal(), Elapsed: p.GetElapsed().AsDuration(),
		Skipped: replay.Skips{NoInput: p.GetSkippedNoInput(), NoProfile: p.GetSkippedNoProfile()},
		Appeals: replay.AppealImpact{
			Overturned: p.GetAppeals().GetOverturned(), OverturnedAvoided: p.GetAppeals().GetOverturnedAvoided(),
			OverturnedToAllow: p.GetAppeals().GetOverturnedToAllow(), Upheld: p.GetAppeals().GetUpheld(),
			UpheldLetThrough: p.GetAppeals().GetUpheldLetThrough(), UpheldToAllow: p.GetAppeals().GetUpheldToAllow(),
		},
	}
	if p.GetSince() != nil {
		rep.Since = p.GetSince().AsTime().UTC().Format(time.RFC3339)
	}
	if p.GetUntil() != nil {
		rep.Until = p.GetUntil().AsTime().UTC().Format(time.RFC3339)
	}
	action := func(s string) decision.Action { a, _ := decision.ParseAction(s); return a }
	for _, c := range p.GetMatrix() {
		rep.Matrix = append(rep.Matrix, replay.Cell{From: action(c.GetFrom()), To: action(c.GetTo()), Count: c.GetCount()})
	}
	for _, d := range p.GetReasons() {
		rep.Reasons = append(rep.Reasons, replay.ReasonDelta{Code: d.GetCode(), Before: d.GetBefore(), After: d.GetAfter(), Delta: d.GetDelta()})
	}
	for _, e := range p.GetEscalations() {
		rep.Escalations = append(rep.Escalations, replay.Escalation{
			DecisionID: e.GetDecisionId(), Checkpoint: e.GetCheckpoint(), DecidedAt: e.GetDecidedAt().AsTime(),
			From: action(e.GetFrom()), To: action(e.GetTo()), Before: e.GetBefore(), After: e.GetAfter(), Outcome: e.GetOutcome(),
		})
	}
	return rep
}
