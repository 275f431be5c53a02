// Package loadgen drives a request function the way the benchmark harness
// needs: closed-loop (a fixed number of workers, each sending its next
// request when the last one answered: throughput) and open-loop (requests
// scheduled at a fixed rate whatever the server does: latency). In open
// loop, a request's latency counts from the time it was scheduled to be
// sent, not from when a worker got round to sending it, so queueing inside
// the client or the server is measured rather than hidden (coordinated
// omission, as wrk2 corrects it).
package loadgen

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Outcome classifies one answered request. The harness says what each
// class means (a plain answer, a decision with detectors skipped, a
// fallback...); Errors are requests that got no answer at all.
type Outcome string

// Do sends one request and classifies its answer. seq numbers requests
// from 0; err is a request that failed (its text's class is counted).
type Do func(ctx context.Context, seq int64) (Outcome, error)

// Result is one run's figures.
type Result struct {
	Elapsed   time.Duration
	Sent      int64
	Latencies []time.Duration // of answered requests, sorted
	Outcomes  map[Outcome]int64
	Errors    map[string]int64 // by ErrorClass
	// Missed counts open-loop requests never sent because MaxInFlight
	// requests were already waiting: each is counted, never silently dropped.
	Missed int64
}

// Answered is how many requests got an answer.
func (r *Result) Answered() int64 { return int64(len(r.Latencies)) }

// Throughput is answered requests per second.
func (r *Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(len(r.Latencies)) / r.Elapsed.Seconds()
}

// Quantile returns the q-quantile of the latencies (0 without any).
func (r *Result) Quantile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(q * float64(len(r.Latencies)))
	if i >= len(r.Latencies) {
		i = len(r.Latencies) - 1
	}
	return r.Latencies[i]
}

// Fraction is the share of sent requests (answered, failed or missed)
// whose outcome is o.
func (r *Result) Fraction(o Outcome) float64 {
	n := r.Sent + r.Missed
	if n == 0 {
		return 0
	}
	return float64(r.Outcomes[o]) / float64(n)
}

// ErrorClass names a failed request's class for counting; the harness sets
// it to group errors by RPC code. The default counts every error as "error".
var ErrorClass = func(error) string { return "error" }

type tally struct {
	mu       sync.Mutex
	lat      []time.Duration
	outcomes map[Outcome]int64
	errors   map[string]int64
}

func newTally() *tally {
	return &tally{outcomes: map[Outcome]int64{}, errors: map[string]int64{}}
}

func (t *tally) add(lat []time.Duration, outcomes map[Outcome]int64, errs map[string]int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lat = append(t.lat, lat...)
	for k, v := range outcomes {
		t.outcomes[k] += v
	}
	for k, v := range errs {
		t.errors[k] += v
	}
}

func (t *tally) result(elapsed time.Duration, sent, missed int64) *Result {
	slices.Sort(t.lat)
	return &Result{Elapsed: elapsed, Sent: sent, Latencies: t.lat, Outcomes: t.outcomes, Errors: t.errors, Missed: missed}
}

// Closed runs workers workers, each sending requests back to back, for d.
// Latency counts from each request's send.
func Closed(ctx context.Context, workers int, d time.Duration, do Do) *Result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	t := newTally()
	var seq, sent int64
	var seqMu sync.Mutex
	next := func() int64 {
		seqMu.Lock()
		defer seqMu.Unlock()
		seq++
		return seq - 1
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 4096)
			outcomes := map[Outcome]int64{}
			errs := map[string]int64{}
			n := int64(0)
			for ctx.Err() == nil {
				s := next()
				t0 := time.Now()
				o, err := do(context.WithoutCancel(ctx), s)
				el := time.Since(t0)
				n++
				if err != nil {
					errs[ErrorClass(err)]++
					continue
				}
				lat = append(lat, el)
				outcomes[o]++
			}
			t.add(lat, outcomes, errs)
			seqMu.Lock()
			sent += n
			seqMu.Unlock()
		})
	}
	wg.Wait()
	return t.result(time.Since(start), sent, 0)
}

// Open schedules rate requests a second for d, sent by up to maxInFlight
// concurrent senders. Each request's latency counts from its scheduled
// time. A request that finds maxInFlight already outstanding is not sent
// and counted as Missed (the client, not the server, is then the limit:
// the result says so instead of quietly slowing the schedule down).
func Open(ctx context.Context, rate float64, d time.Duration, maxInFlight int, do Do) *Result {
	t := newTally()
	interval := time.Duration(float64(time.Second) / rate)
	total := int64(d.Seconds() * rate)
	slots := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	var lat []time.Duration
	var mu sync.Mutex
	outcomes := map[Outcome]int64{}
	errs := map[string]int64{}
	var sent, missed int64
	start := time.Now()
	for i := range total {
		at := start.Add(time.Duration(i) * interval)
		if wait := time.Until(at); wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			if ctx.Err() != nil {
				break
			}
		}
		select {
		case slots <- struct{}{}:
		default:
			missed++
			continue
		}
		sent++
		wg.Go(func() {
			defer func() { <-slots }()
			o, err := do(context.WithoutCancel(ctx), i)
			el := time.Since(at)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[ErrorClass(err)]++
				return
			}
			lat = append(lat, el)
			outcomes[o]++
		})
	}
	wg.Wait()
	t.add(lat, outcomes, errs)
	return t.result(time.Since(start), sent, missed)
}
