package host

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gavel/gavel/decision"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// Outcomes reach detectors: the host is a decision.Observer. The engine calls
// Observe on the reply's path, so Observe only queues; one forwarding
// goroutine sends each committed decision to every running detector whose
// Describe set observes, in parallel, under ObserveTimeout. When the queue is
// full the decision is dropped and counted: an observer never slows a
// decision down, and a detector that learns from outcomes must tolerate gaps.
// When an appeal overturns a decision, the appeals service hands the host
// the record again with Overturned set, so that a detector that learned from
// it (linkage: a suspended account) unlearns it.

const (
	// ObserveQueue is how many committed decisions may wait to be forwarded.
	ObserveQueue = 1024
	// ObserveTimeout bounds one Observe call to one detector.
	ObserveTimeout = 2 * time.Second
)

var _ decision.SyncObserver = (*Host)(nil)

// observeQueue is the host's queue of decisions to forward, and its counters.
type observeQueue struct {
	ch      chan *decision.Record
	dropped atomic.Int64 // queue full
}

func newObserveQueue(size int) *observeQueue {
	return &observeQueue{ch: make(chan *decision.Record, size)}
}

// ObserveStats counts the host's forwarding of committed decisions.
type ObserveStats struct {
	// Dropped decisions were not forwarded because the queue was full.
	Dropped int64
	// Delivered and Failed count Observe calls, over all detectors.
	Delivered int64
	Failed    int64
}

// Observe implements decision.Observer: it queues rec for the detectors that
// observe and returns at once. Dry runs are not forwarded, and neither is
// anything when no running detector observes.
func (h *Host) Observe(rec *decision.Record) {
	if rec == nil || rec.DryRun || !h.anyObserves() {
		return
	}
	select {
	case h.obs.ch <- rec:
	default:
		if n := h.obs.dropped.Add(1); n&(n-1) == 0 { // log the 1st, 2nd, 4th, 8th… drop
			h.log.Warn("observation queue full; dropping committed decisions for detectors",
				"decision_id", rec.DecisionID, "dropped", n)
		}
	}
}

// ObserveNow implements decision.SyncObserver: it sends rec to every
// running detector that observes and returns when each has answered or ctx
// ended. The engine uses it for a suspension placed or lifted, which the
// very next decision must see.
func (h *Host) ObserveNow(ctx context.Context, rec *decision.Record) {
	if rec == nil || rec.DryRun || !h.anyObserves() {
		return
	}
	h.deliver(ctx, rec)
}

// ObserveStats reports the forwarding so far.
func (h *Host) ObserveStats() ObserveStats {
	s := ObserveStats{Dropped: h.obs.dropped.Load()}
	for _, d := range h.dets {
		s.Delivered += d.observed.Load()
		s.Failed += d.observeFailed.Load()
	}
	return s
}

func (h *Host) anyObserves() bool {
	for _, d := range h.dets {
		if inst := d.inst.Load(); inst != nil && inst.desc.observes {
			return true
		}
	}
	return false
}

// forward sends queued decisions to the observing detectors until ctx ends;
// what is still queued then is dropped (the detectors are being stopped).
func (h *Host) forward(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case rec := <-h.obs.ch:
			h.deliver(ctx, rec)
		}
	}
}

// deliver sends one decision to every running detector that observes.
func (h *Host) deliver(ctx context.Context, rec *decision.Record) {
	var req *detectorv1.ObserveRequest
	var wg sync.WaitGroup
	for _, d := range h.dets {
		inst := d.inst.Load()
		if inst == nil || !inst.desc.observes {
			continue
		}
		if req == nil {
			req = observeRequest(rec, h)
			if m := rec.Manual; m != nil && m.LiftedSuspension != "" {
				// A reviewer lifted a suspension: detectors unlearn the
				// decision that placed it, as they would an overturn.
				req = &detectorv1.ObserveRequest{
					DecisionId: m.LiftedSuspension, SubjectId: rec.SubjectID, Checkpoint: rec.Checkpoint,
					Action: decision.Suspend.String(), DecidedAt: req.GetDecidedAt(), Context: &detectorv1.Context{},
					Overturned: true,
				}
			}
		}
		wg.Go(func() { d.observe(ctx, inst, req) })
	}
	wg.Wait()
}

// observe makes one Observe call. A detector that declared observes but does
// not implement the call (UNIMPLEMENTED) is counted as failed, quietly.
func (d *detector) observe(ctx context.Context, inst *instance, req *detectorv1.ObserveRequest) {
	cctx, cancel := context.WithTimeout(ctx, ObserveTimeout)
	_, err := inst.rpc.Observe(cctx, req)
	cancel()
	if err == nil {
		d.observed.Add(1)
		return
	}
	d.observeFailed.Add(1)
	code := status.Code(err)
	switch {
	case ctx.Err() != nil:
	case code == codes.Unimplemented:
		d.log.Debug("detector declared observes but does not implement Observe", "decision_id", req.GetDecisionId())
	default:
		d.log.Warn("detector Observe failed", "decision_id", req.GetDecisionId(),
			"code", code.String(), "error", status.Convert(err).Message())
	}
}

// observeRequest converts a committed decision. The request context and
// attributes come from the record's input document, as the policy saw them.
func observeRequest(rec *decision.Record, h *Host) *detectorv1.ObserveRequest {
	out := &detectorv1.ObserveRequest{
		DecisionId: rec.DecisionID,
		SubjectId:  rec.SubjectID,
		Checkpoint: rec.Checkpoint,
		Action:     rec.Verdict.Action.String(),
		DecidedAt:  timestamppb.New(rec.DecidedAt),
		Context:    &detectorv1.Context{},
		Overturned: rec.Overturned,
	}
	if c, ok := rec.Input["context"].(map[string]any); ok {
		str := func(k string) string { s, _ := c[k].(string); return s }
		out.Context = &detectorv1.Context{
			Ip: str("ip"), DeviceId: str("device_id"), UserAgent: str("user_agent"), SessionId: str("session_id"),
		}
	}
	if a, ok := rec.Input["attributes"].(map[string]any); ok && len(a) > 0 {
		attrs, err := structpb.NewStruct(a)
		if err != nil {
			h.log.Error("decision attributes cannot be sent to detectors; sending none",
				"decision_id", rec.DecisionID, "error", err)
		} else {
			out.Attributes = attrs
		}
	}
	return out
}
