package decision

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// ShadowVerdict is what a candidate policy would have decided.
type ShadowVerdict struct {
	Verdict Verdict `json:"verdict"`
	// Error is set when the candidate could not decide.
	Error       string    `json:"error,omitempty"`
	EvaluatedAt time.Time `json:"evaluated_at"`
}

// ShadowSink stores a shadow verdict beside the decision it shadowed.
type ShadowSink interface {
	RecordShadow(ctx context.Context, decisionID string, sv ShadowVerdict) error
}

// Observer is told about every committed decision (not replays). Observe is
// called on the reply's path and must not block: queue and return.
type Observer interface {
	Observe(rec *Record)
}

// shadowRunner evaluates a candidate policy off the reply's critical path on
// a bounded queue; when the queue is full the job is dropped and counted.
type shadowRunner struct {
	eval    Evaluator
	sink    ShadowSink
	timeout time.Duration
	log     *slog.Logger
	jobs    chan shadowJob
	wg      sync.WaitGroup
	once    sync.Once
	dropped atomic.Int64
	done    atomic.Int64
}

type shadowJob struct {
	decisionID string
	input      map[string]any
}

func newShadowRunner(eval Evaluator, sink ShadowSink, timeout time.Duration, workers, queue int, log *slog.Logger) *shadowRunner {
	r := &shadowRunner{eval: eval, sink: sink, timeout: timeout, log: log, jobs: make(chan shadowJob, queue)}
	for range workers {
		r.wg.Add(1)
		go r.work()
	}
	return r
}

func (r *shadowRunner) submit(decisionID string, input map[string]any) {
	select {
	case r.jobs <- shadowJob{decisionID: decisionID, input: input}:
	default:
		r.dropped.Add(1)
	}
}

func (r *shadowRunner) work() {
	defer r.wg.Done()
	for j := range r.jobs {
		ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
		v, err := r.eval.Evaluate(ctx, j.input)
		sv := ShadowVerdict{Verdict: v, EvaluatedAt: time.Now()}
		if err != nil {
			sv.Error = err.Error()
		}
		if err := r.sink.RecordShadow(ctx, j.decisionID, sv); err != nil {
			r.log.Warn("could not record shadow verdict", "decision_id", j.decisionID, "error", err)
		}
		cancel()
		r.done.Add(1)
	}
}

func (r *shadowRunner) close() {
	r.once.Do(func() { close(r.jobs) })
	r.wg.Wait()
}

// ShadowStats counts shadow evaluations done and dropped (queue full).
type ShadowStats struct {
	Evaluated int64
	Dropped   int64
}

// SetShadow evaluates a candidate policy beside the active one on every
// decision that is not a dry run, off the reply's critical path, and hands
// each shadow verdict to sink. It never enforces. Call before serving.
func (e *Engine) SetShadow(eval Evaluator, sink ShadowSink) {
	e.shadow = newShadowRunner(eval, sink, e.cfg.PolicyTimeout, 2, 1024, e.log)
}

// ShadowStats reports the shadow's work so far.
func (e *Engine) ShadowStats() ShadowStats {
	if e.shadow == nil {
		return ShadowStats{}
	}
	return ShadowStats{Evaluated: e.shadow.done.Load(), Dropped: e.shadow.dropped.Load()}
}

// AddObserver registers an observer of committed decisions. Call before serving.
func (e *Engine) AddObserver(o Observer) { e.observers = append(e.observers, o) }

// Close waits for queued shadow evaluations to finish. It is safe to call
// more than once; no decision may be made after it.
func (e *Engine) Close() {
	if e.shadow != nil {
		e.shadow.close()
	}
}
