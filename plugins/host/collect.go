package host

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gavel/gavel/decision"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// Collect asks, in parallel, every detector that wants req's checkpoint and
// returns one result per such detector, in configuration order. Each answer is
// awaited for the lesser of the detector's timeout, the checkpoint's budget
// (Config.Budgets, shared by the whole fan-out) and ctx's deadline (the call
// itself may outlive that: see call). A detector that is not running, or whose circuit breaker is open
// (too many consecutive failures), is reported unavailable without being
// called; one that answers late is a timeout, one that answers with any
// invalid signal an error. Collect never fails as a whole.
func (h *Host) Collect(ctx context.Context, req *decision.Request, now time.Time) []decision.DetectorResult {
	if b := h.cfg.Budgets.For(req.Checkpoint); b > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b)
		defer cancel()
	}
	results := make([]decision.DetectorResult, 0, len(h.dets))
	// insts[i] is the instance to call for results[i]; nil means unavailable.
	var instsBuf [8]*instance
	insts := instsBuf[:0]
	var dets [8]*detector
	callers := dets[:0]
	var probesBuf [8]bool
	probes := probesBuf[:0] // whether the call is the breaker's half-open probe
	wall := time.Now()      // the breaker's clock; now may be a decision's fixed clock
	for _, d := range h.dets {
		inst := d.inst.Load()
		if inst != nil {
			if !inst.desc.wants(req.Checkpoint) {
				continue
			}
		} else if st := d.status.Load(); st.desc != nil && !st.desc.wants(req.Checkpoint) {
			continue
		}
		r := decision.DetectorResult{Name: d.cfg.Name, Status: decision.StatusUnavailable}
		if inst == nil {
			if st := d.status.Load(); st.err != "" {
				r.Error = st.err
			} else {
				r.Error = "detector not running"
			}
		} else {
			r.Version = inst.desc.version
		}
		probe := false
		if inst != nil {
			var ok bool
			if ok, probe = d.brk.allow(wall); !ok {
				r.Error = fmt.Sprintf("circuit breaker open after %d consecutive failures; not called until %s",
					d.brk.limit, time.Unix(0, d.brk.openUntil.Load()).UTC().Format(time.RFC3339))
				inst = nil
			}
		}
		results = append(results, r)
		insts = append(insts, inst)
		callers = append(callers, d)
		probes = append(probes, probe)
	}

	running := 0
	for _, inst := range insts {
		if inst != nil {
			running++
		}
	}
	if running == 0 {
		return results
	}
	preq := detectRequest(req, now, h.log)
	if running == 1 {
		for i, inst := range insts {
			if inst != nil {
				callers[i].call(ctx, inst, preq, &results[i], probes[i])
			}
		}
		return results
	}
	var wg sync.WaitGroup
	for i, inst := range insts {
		if inst != nil {
			wg.Go(func() { callers[i].call(ctx, inst, preq, &results[i], probes[i]) })
		}
	}
	wg.Wait()
	return results
}

// call runs one Detect and fills r (probe: this call is the breaker's
// half-open probe).
//
// The decision waits for the answer until the detector's timeout or its own
// deadline, whichever comes first; past that, r says timeout and the
// decision goes on. The call itself is not cut short there: it stays open,
// detached from the decision, for the breaker's grace beyond the timeout, so
// the detector may finish what it started (record what it saw) and the
// breaker learns what became of it (judge).
func (d *detector) call(ctx context.Context, inst *instance, preq *detectorv1.DetectRequest, r *decision.DetectorResult, probe bool) {
	start := time.Now()
	done := make(chan decision.DetectorResult, 1)
	var span trace.Span
	if d.tracer != nil {
		ctx, span = d.tracer.Start(ctx, "detector "+d.cfg.Name, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("gavel.detector", d.cfg.Name), attribute.String("gavel.detector.version", inst.desc.version)))
		ctx = withTraceContext(ctx)
	}
	d.inflight.Add(1) // the call ends on its own by its deadline, or when Close kills the process
	go func() {
		defer d.inflight.Add(-1)
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), inst.timeout+d.grace)
		resp, err := inst.rpc.Detect(cctx, preq)
		cancel()
		res := d.result(inst, resp, err, time.Since(start))
		if span != nil { // the span ends with the call, which may outlive the decision's wait
			span.SetAttributes(attribute.String("gavel.detector.status", string(res.Status)), attribute.Int("gavel.signals", len(res.Signals)))
			if res.Error != "" {
				span.SetStatus(otelcodes.Error, res.Error)
			}
			span.End()
		}
		d.lastLatency.Store(int64(res.Latency))
		if res.Status == decision.StatusOK || res.Status == decision.StatusError {
			d.lastHeard.Store(time.Now().UnixNano()) // the process answers
		}
		d.judge(res, start, probe) // before the answer: its decision sees the breaker it left
		done <- res                // buffered: never waits for a decision that went on
	}()
	timer := time.NewTimer(inst.timeout)
	defer timer.Stop()
	select {
	case res := <-done:
		r.Status, r.Error, r.Signals, r.Latency = res.Status, res.Error, res.Signals, res.Latency
		return
	case <-timer.C:
	case <-ctx.Done():
	}
	r.Latency = time.Since(start)
	r.Status = decision.StatusTimeout
	r.Error = fmt.Sprintf("no answer within %v", r.Latency.Round(time.Millisecond))
}

// result is what a finished Detect call amounts to, late or not.
func (d *detector) result(inst *instance, resp *detectorv1.DetectResponse, err error, latency time.Duration) decision.DetectorResult {
	r := decision.DetectorResult{Latency: latency}
	switch code := status.Code(err); {
	case code == codes.DeadlineExceeded || code == codes.Canceled:
		r.Status = decision.StatusTimeout
		r.Error = fmt.Sprintf("no answer within %v", latency.Round(time.Millisecond))
	case code == codes.Unavailable:
		// The connection is gone: most likely the process died. The
		// supervisor confirms and restarts it.
		r.Status = decision.StatusUnavailable
		r.Error = status.Convert(err).Message()
		d.nudge()
	case err != nil:
		r.Status = decision.StatusError
		r.Error = fmt.Sprintf("Detect: %s: %s", code, status.Convert(err).Message())
		d.log.Warn("detector call failed", "error", r.Error)
	default:
		sigs, err := d.signals(inst.desc, resp.GetSignals())
		if err != nil {
			r.Status = decision.StatusError
			r.Error = fmt.Sprintf("detector %q: answer rejected: %v", d.cfg.Name, err)
			d.log.Warn("detector answer rejected", "error", err)
			return r
		}
		r.Status = decision.StatusOK
		r.Signals = sigs
	}
	return r
}

// judge tells the breaker what became of a call that started at start, on
// time or not. The breaker tells a broken detector from a saturated machine
// by whether the detector makes progress:
//
//   - a valid answer, even one too late for its decision, shows the detector
//     alive and working (under a burst every process on the machine is slow,
//     and a store serialising writers makes a detector late, not mute): a
//     success;
//   - an error or a rejected answer: a failure;
//   - no answer within the detector's timeout plus the grace: a failure
//     (hung) only if the detector answered no other call meanwhile; if it
//     did, this call was queued behind others on a busy machine, and counts
//     neither way;
//   - a lost connection counts neither way: the supervisor restarts the
//     process.
func (d *detector) judge(res decision.DetectorResult, start time.Time, probe bool) {
	if res.Status == decision.StatusUnavailable ||
		(res.Status == decision.StatusTimeout && d.lastHeard.Load() > start.UnixNano()) {
		if probe {
			d.brk.probing.Store(false)
		}
		return
	}
	if d.brk.record(time.Now(), res.Status == decision.StatusOK, probe) {
		d.log.Warn("detector circuit breaker opened; not calling it during the cool-down",
			"failures", d.brk.failures.Load(), "cooldown", d.brk.cooldown, "error", res.Error)
	}
}

// signals converts and checks a response: any invalid or undeclared signal,
// or too many, rejects the whole response.
func (d *detector) signals(desc *description, in []*detectorv1.Signal) ([]decision.Signal, error) {
	if len(in) > MaxSignals {
		return nil, fmt.Errorf("%d signals, more than the %d allowed", len(in), MaxSignals)
	}
	for i, s := range in {
		// Cheap (no marshalling), and before AsMap copies a huge tree.
		if n := proto.Size(s.GetEvidence()); n > d.maxEvidence {
			return nil, fmt.Errorf("signal %d (%s): evidence is %d bytes marshalled, more than the %d allowed",
				i, truncate(s.GetName(), 64), n, d.maxEvidence)
		}
	}
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]decision.Signal, len(in))
	for i, s := range in {
		if _, ok := desc.signals[s.GetName()]; !ok {
			return nil, fmt.Errorf("signal %d: name %q was not declared by Describe", i, truncate(s.GetName(), 64))
		}
		out[i] = decision.Signal{
			Name:       s.GetName(),
			Score:      s.GetScore(),
			Value:      s.GetValue(),
			Confidence: s.GetConfidence(),
			Source:     d.cfg.Name,
		}
		if s.GetEvidence() != nil {
			out[i].Evidence = s.GetEvidence().AsMap()
		}
		if err := decision.CheckSignal(&out[i], d.limits); err != nil {
			return nil, fmt.Errorf("signal %d: %w", i, err)
		}
	}
	return out, nil
}

// DetectRequest is the request every detector is sent for req at now: what
// Collect sends over go-plugin, and what an in-process caller of a detector's
// Detect (the scenario suite) must send to see the same signals.
func DetectRequest(req *decision.Request, now time.Time) *detectorv1.DetectRequest {
	return detectRequest(req, now, slog.New(slog.DiscardHandler))
}

// detectRequest converts a decision request once for all detectors; proto
// messages are safe to marshal concurrently.
func detectRequest(req *decision.Request, now time.Time, log *slog.Logger) *detectorv1.DetectRequest {
	p := &req.Subject.Profile
	out := &detectorv1.DetectRequest{
		RequestId: req.RequestID,
		Subject: &detectorv1.Subject{
			Id:   req.Subject.ID,
			Kind: req.Subject.Kind,
			Profile: &detectorv1.Profile{
				GivenName:   p.GivenName,
				FamilyName:  p.FamilyName,
				DisplayName: p.DisplayName,
				Country:     p.Country,
				Email:       p.Email,
				Phone:       p.Phone,
				DateOfBirth: p.DateOfBirth,
			},
		},
		Checkpoint: req.Checkpoint,
		Context: &detectorv1.Context{
			Ip:        req.Context.IP,
			DeviceId:  req.Context.DeviceID,
			UserAgent: req.Context.UserAgent,
			SessionId: req.Context.SessionID,
		},
		Now:    timestamppb.New(now),
		DryRun: req.DryRun,
	}
	if !req.Subject.CreatedAt.IsZero() {
		out.Subject.CreatedAt = timestamppb.New(req.Subject.CreatedAt)
	}
	if len(req.Attributes) > 0 {
		attrs, err := structpb.NewStruct(req.Attributes)
		if err != nil {
			// Validate admits only JSON values, so this is a bug upstream.
			log.Error("request attributes cannot be sent to detectors; sending none",
				"request_id", req.RequestID, "error", err)
		} else {
			out.Attributes = attrs
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// withTraceContext puts ctx's span into the outgoing gRPC metadata as W3C
// traceparent (and tracestate), the detector protocol's trace context.
func withTraceContext(ctx context.Context) context.Context {
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	for k, v := range carrier {
		ctx = metadata.AppendToOutgoingContext(ctx, k, v)
	}
	return ctx
}
