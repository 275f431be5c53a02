package events

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Observer hears what the delivery loop does, for metrics.
type Observer interface {
	// Delivered: the endpoint answered 2xx, delay after the event's commit.
	Delivered(endpoint string, delay time.Duration)
	// Failed: an attempt failed; dead when it was the last one.
	Failed(endpoint string, dead bool)
}

// Dispatcher delivers the outbox's events to the configured endpoints. Every
// replica runs one; they share the work through the store's leases.
type Dispatcher struct {
	cfg       Config
	store     Store
	log       *slog.Logger
	observer  Observer
	userAgent string
	now       func() time.Time

	kick      <-chan struct{}
	endpoints []*endpoint
	byType    sync.Map // event type → []string endpoint names
}

type endpoint struct {
	name   string
	cfg    Endpoint
	signer *Signer
	client *http.Client
	wake   chan struct{}
}

// Options are a dispatcher's optional parts.
type Options struct {
	// Kick wakes the dispatcher when this process commits events.
	Kick <-chan struct{}
	// Observer hears deliveries and failures.
	Observer Observer
	// UserAgent of its requests; default "gavel".
	UserAgent string
	Log       *slog.Logger
}

// New returns a dispatcher for cfg on store. cfg must be valid.
func New(cfg Config, store Store, opts Options) (*Dispatcher, error) {
	d := &Dispatcher{cfg: cfg, store: store, log: opts.Log, observer: opts.Observer, kick: opts.Kick,
		userAgent: opts.UserAgent, now: time.Now}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.userAgent == "" {
		d.userAgent = "gavel"
	}
	for _, name := range cfg.Names() {
		ec := cfg.Endpoints[name].WithDefaults()
		s, err := NewSigner(ec.Secrets)
		if err != nil {
			return nil, fmt.Errorf("events endpoint %s: %w", name, err)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = ec.Concurrency
		d.endpoints = append(d.endpoints, &endpoint{
			name: name, cfg: ec, signer: s, wake: make(chan struct{}, 1),
			client: &http.Client{
				Transport: tr,
				Timeout:   ec.Timeout,
				// A redirect is an answer, not a delivery: it fails the
				// attempt instead of sending the event somewhere else.
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			},
		})
	}
	return d, nil
}

// routes names the endpoints that want an event type.
func (d *Dispatcher) routes(typ string) []string {
	if v, ok := d.byType.Load(typ); ok {
		return v.([]string)
	}
	var names []string
	for _, e := range d.endpoints {
		if Wants(e.cfg.Types, typ) {
			names = append(names, e.name)
		}
	}
	d.byType.Store(typ, names)
	return names
}

// lease is how long a claimed delivery is this replica's: past its
// request's timeout with room to record the outcome, so no other replica
// sends it while this one may still be.
func (e *endpoint) lease() time.Duration { return 2*e.cfg.Timeout + 5*time.Second }

// Run routes, sweeps and delivers until ctx is done, then waits for the
// requests in flight and records them.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, e := range d.endpoints {
		wg.Go(func() { d.deliverLoop(ctx, e) })
	}
	d.routeLoop(ctx)
	wg.Wait()
}

// routeLoop wakes the endpoints' loops when this process commits events
// (at most every routeEvery: the commits in between join in), routes on
// every poll when no endpoint is configured (so events are marked routed
// and an endpoint added later gets what happens from then on), and writes
// expiry events every sweep interval.
func (d *Dispatcher) routeLoop(ctx context.Context) {
	poll := time.NewTicker(d.cfg.PollInterval)
	defer poll.Stop()
	sweep := time.NewTicker(d.cfg.SweepInterval)
	defer sweep.Stop()
	d.sweep(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
			select {
			case <-ctx.Done():
				return
			case <-time.After(routeEvery):
			}
			for _, e := range d.endpoints {
				select {
				case e.wake <- struct{}{}:
				default:
				}
			}
		case <-poll.C:
			if len(d.endpoints) == 0 {
				if _, err := d.store.Route(ctx, d.routes, 1000, d.now()); err != nil && ctx.Err() == nil {
					d.log.Warn("cannot route events", "error", err)
				}
			}
		case <-sweep.C:
			d.sweep(ctx)
		}
	}
}

func (d *Dispatcher) sweep(ctx context.Context) {
	if d.cfg.Retention > 0 {
		for {
			n, err := d.store.Prune(ctx, d.now().Add(-d.cfg.Retention), 1000)
			if err != nil {
				if ctx.Err() == nil {
					d.log.Warn("cannot prune delivered events; retrying at the next sweep", "error", err)
				}
				break
			}
			if n < 1000 {
				break
			}
		}
	}
	for {
		n, err := d.store.SweepExpired(ctx, d.now(), 100)
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("cannot write expiry events; retrying at the next sweep", "error", err)
			}
			return
		}
		if n > 0 {
			d.log.Debug("expiry events written", "events", n)
		}
		if n == 0 {
			return
		}
	}
}

// Batching: the ledger's writes (claims and outcomes) are few and large, so
// that on SQLite, where they share the one writer with every decision's
// commit, delivering events costs decisions little.
const (
	// recordWait is how long an outcome waits for others to be recorded
	// with it.
	recordWait = 5 * time.Millisecond
	// routeEvery is the least time between two routings: commits wake the
	// router, which takes every event committed meanwhile at once.
	routeEvery = 5 * time.Millisecond
)

// deliverLoop keeps up to the endpoint's concurrency of deliveries in
// flight, each the oldest pending event of its subject. Each round is one
// transaction (Store.Exchange): route what is new, record the outcomes
// gathered (waiting up to recordWait for others to join), claim the free
// slots — taken when at least a quarter of them are free, or none is in
// flight.
func (d *Dispatcher) deliverLoop(ctx context.Context, e *endpoint) {
	results := make(chan Outcome, e.cfg.Concurrency)
	inflight := 0
	poll := time.NewTicker(d.cfg.PollInterval)
	defer poll.Stop()
	failing := false
	claimAt := max(1, e.cfg.Concurrency/2)
	var (
		batch    []Outcome
		flush    <-chan time.Time
		flushDue bool
	)
	for {
		stopping := ctx.Err() != nil
		if stopping && inflight == 0 {
			if len(batch) > 0 {
				d.record(e, batch)
			}
			return
		}
		free := e.cfg.Concurrency - inflight
		claim := !stopping && (free >= claimAt || (inflight == 0 && free > 0))
		record := len(batch) > 0 && (flushDue || inflight == 0 || len(batch) >= e.cfg.Concurrency/2)
		if stopping && record {
			d.record(e, batch)
			batch, flush, flushDue = nil, nil, false
		} else if claim || record {
			x := Exchange{Endpoint: e.name, Routes: d.routes, Outcomes: batch, Now: d.now(), Lease: e.lease()}
			if !stopping {
				x.Claim = free
			}
			ds, err := d.store.Exchange(ctx, x)
			switch {
			case err != nil:
				if !failing && ctx.Err() == nil {
					d.log.Warn("cannot claim or record event deliveries; retrying", "endpoint", e.name, "error", err)
				}
				failing = true
			default:
				if failing {
					d.log.Info("delivering events again", "endpoint", e.name)
				}
				failing = false
				batch, flush, flushDue = nil, nil, false
			}
			for _, dl := range ds {
				inflight++
				go func() { results <- d.attempt(e, dl) }()
			}
		}
		var done <-chan struct{}
		if !stopping {
			done = ctx.Done()
		}
		select {
		case o := <-results:
			inflight--
			batch = append(batch, o)
			if flush == nil {
				flush = time.After(recordWait)
			}
		case <-flush:
			flushDue = true
		case <-e.wake:
		case <-poll.C:
		case <-done:
		}
	}
}

// record stores outcomes; a store that cannot be written leaves them
// leased, to be sent again once the lease runs out (at least once).
func (d *Dispatcher) record(e *endpoint, batch []Outcome) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.store.Record(ctx, batch); err != nil {
		d.log.Warn("cannot record event deliveries; they will be sent again when their lease ends",
			"endpoint", e.name, "deliveries", len(batch), "error", err)
	}
}

// attempt sends one delivery and returns its outcome.
func (d *Dispatcher) attempt(e *endpoint, dl Delivery) Outcome {
	o := Outcome{Endpoint: e.name, Seq: dl.Event.Seq, Lease: dl.Lease, Attempts: dl.Attempts + 1}
	status, err := d.send(e, dl.Event)
	o.At, o.Status = d.now(), status
	if err == nil {
		o.Delivered = true
		if d.observer != nil {
			d.observer.Delivered(e.name, o.At.Sub(dl.Event.Time))
		}
		return o
	}
	o.Error = err.Error()
	var bad errBadEvent
	if o.Attempts >= e.cfg.MaxAttempts || errors.As(err, &bad) {
		o.Dead = true
		d.log.Warn("event dead-lettered", "endpoint", e.name, "event_id", dl.Event.ID, "type", dl.Event.Type,
			"subject", dl.Event.Subject, "attempts", o.Attempts, "error", err)
	} else {
		o.NextAt = o.At.Add(Backoff(e.cfg.BackoffMin, e.cfg.BackoffMax, o.Attempts))
		d.log.Debug("event delivery failed; will retry", "endpoint", e.name, "event_id", dl.Event.ID,
			"attempts", o.Attempts, "next_at", o.NextAt, "error", err)
	}
	if d.observer != nil {
		d.observer.Failed(e.name, o.Dead)
	}
	return o
}

// errBadEvent is an event that cannot be enveloped: retrying cannot help.
type errBadEvent struct{ error }

// send posts one event, signed; any 2xx is delivered.
func (d *Dispatcher) send(e *endpoint, ev Event) (int, error) {
	body, err := Envelope(d.cfg.Source, ev)
	if err != nil {
		return 0, errBadEvent{err}
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.cfg.URL, bytesReader(body))
	if err != nil {
		return 0, errBadEvent{err}
	}
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("User-Agent", d.userAgent)
	if err := e.signer.Sign(req.Header, ev.ID, d.now(), body); err != nil {
		return 0, errBadEvent{err}
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}

// Backoff is how long to wait after the n-th failed attempt: half of
// min(max, base·2^(n-1)) plus a random part up to the other half.
func Backoff(base, maxWait time.Duration, n int) time.Duration {
	c := base
	for i := 1; i < n && c < maxWait; i++ {
		c *= 2
	}
	c = min(c, maxWait)
	half := c / 2
	if half <= 0 {
		return c
	}
	return half + rand.N(c-half+1)
}
