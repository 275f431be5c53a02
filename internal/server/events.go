package server

import (
	"context"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gavel/gavel/events"
	eventsv1 "github.com/gavel/gavel/proto/gavel/events/v1"
)

// startEvents starts delivering the ledger's outbox to the configured
// endpoints. With none configured the outbox still fills (each change's
// events are written with it) and is routed nowhere; expiry events are
// still written, so an endpoint added later sees what happens from then on.
func (s *Server) startEvents() error {
	d, err := events.New(s.cfg.Events, s.ledger, events.Options{
		Kick:      s.ledger.EventsWritten(),
		Observer:  s.metrics.eventsObserver(),
		UserAgent: "gavel/" + Version,
		Log:       s.log.With("part", "events"),
	})
	if err != nil {
		return err
	}
	s.metrics.eventsStats(s.ledger.Stats)
	ctx, cancel := context.WithCancel(context.Background())
	s.stopEvents, s.eventsStopped = cancel, make(chan struct{})
	go func() {
		defer close(s.eventsStopped)
		d.Run(ctx)
	}()
	return nil
}

// eventsStatus is the outbox's status for GetStatus and EventService.
func (s *Server) eventsStatus(ctx context.Context) (*eventsv1.EventsStatus, error) {
	st, err := s.ledger.Stats(ctx)
	if err != nil {
		return nil, err
	}
	out := &eventsv1.EventsStatus{Unrouted: st.Unrouted}
	seen := map[string]bool{}
	for _, e := range st.Endpoints {
		seen[e.Endpoint] = true
		es := &eventsv1.EndpointStatus{Name: e.Endpoint, Pending: e.Pending, Delivered: e.Delivered, Failed: e.Failed, Dead: e.Dead}
		if !e.OldestPending.IsZero() {
			es.OldestPending = timestamppb.New(e.OldestPending)
		}
		s.describeEndpoint(es)
		out.Endpoints = append(out.Endpoints, es)
	}
	for _, name := range s.cfg.Events.Names() {
		if !seen[name] {
			es := &eventsv1.EndpointStatus{Name: name}
			s.describeEndpoint(es)
			out.Endpoints = append(out.Endpoints, es)
		}
	}
	return out, nil
}

func (s *Server) describeEndpoint(es *eventsv1.EndpointStatus) {
	ep, ok := s.cfg.Events.Endpoints[es.Name]
	if !ok {
		return
	}
	ep = ep.WithDefaults()
	if u, err := url.Parse(ep.URL); err == nil {
		u.User, u.RawQuery, u.Fragment = nil, "", ""
		es.Url = u.String()
	}
	es.Types, es.MaxAttempts = ep.Types, int32(ep.MaxAttempts)
}

// eventsMetrics are this replica's delivery attempts and their delay.
type eventsMetrics struct {
	delivered, failed, dead *prometheus.CounterVec
	delay                   *prometheus.HistogramVec
}

func (m *metrics) eventsObserver() events.Observer {
	em := &eventsMetrics{
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gavel_events_delivered_total", Help: "Events this replica delivered (the endpoint answered 2xx), by endpoint.",
		}, []string{"endpoint"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gavel_events_failed_total", Help: "Failed delivery attempts by this replica (each retry counts), by endpoint.",
		}, []string{"endpoint"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gavel_events_dead_total", Help: "Deliveries this replica gave up on after the maximum attempts, by endpoint.",
		}, []string{"endpoint"}),
		delay: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gavel_events_delivery_delay_seconds", Help: "From an event's commit to its endpoint's 2xx answer, by endpoint.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"endpoint"}),
	}
	m.registry.MustRegister(em.delivered, em.failed, em.dead, em.delay)
	return em
}

func (em *eventsMetrics) Delivered(endpoint string, delay time.Duration) {
	em.delivered.WithLabelValues(endpoint).Inc()
	em.delay.WithLabelValues(endpoint).Observe(delay.Seconds())
}

func (em *eventsMetrics) Failed(endpoint string, dead bool) {
	em.failed.WithLabelValues(endpoint).Inc()
	if dead {
		em.dead.WithLabelValues(endpoint).Inc()
	}
}

// eventsStats registers the outbox's gauges, read from the ledger (every
// replica's deliveries) when scraped.
func (m *metrics) eventsStats(stats func(context.Context) (events.Stats, error)) {
	m.registry.MustRegister(&outboxCollector{stats: stats,
		pending:  prometheus.NewDesc("gavel_events_pending", "Event deliveries waiting, in flight or waiting to be retried, by endpoint (every replica).", []string{"endpoint"}, nil),
		dead:     prometheus.NewDesc("gavel_events_dead", "Event deliveries given up on and not redriven, by endpoint (every replica).", []string{"endpoint"}, nil),
		age:      prometheus.NewDesc("gavel_events_oldest_pending_seconds", "Age of the oldest pending event, by endpoint; 0 when none is pending.", []string{"endpoint"}, nil),
		unrouted: prometheus.NewDesc("gavel_events_unrouted", "Events committed but not yet given their deliveries.", nil, nil),
	})
}

type outboxCollector struct {
	stats                        func(context.Context) (events.Stats, error)
	pending, dead, age, unrouted *prometheus.Desc
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.dead
	ch <- c.age
	ch <- c.unrouted
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.pending, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.unrouted, prometheus.GaugeValue, float64(st.Unrouted))
	for _, e := range st.Endpoints {
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(e.Pending), e.Endpoint)
		ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(e.Dead), e.Endpoint)
		age := 0.0
		if !e.OldestPending.IsZero() {
			age = time.Since(e.OldestPending).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, age, e.Endpoint)
	}
}
