package server

import (
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gavel/gavel/decision"
)

// metrics are gavel's Prometheus series, on their own registry.
type metrics struct {
	registry  *prometheus.Registry
	decisions *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	detectors *prometheus.CounterVec
	fallbacks prometheus.Counter
	bundles   *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gavel_decisions_total", Help: "Decisions made, by checkpoint and action.",
		}, []string{"checkpoint", "action"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gavel_decision_seconds", Help: "Time to decide and record a decision (committed to the ledger, or journaled), from the Decide call's start, by checkpoint.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"checkpoint"}),
		detectors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gavel_detector_calls_total", Help: "Detector calls within decisions, by detector and status.",
		}, []string{"detector", "status"}),
		fallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gavel_policy_fallbacks_total", Help: "Decisions where the policy could not decide and the failure action applied.",
		}),
	}
	m.bundles = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gavel_bundle_loads_total",
		Help: "Attempts to load a policy bundle, by role and result: activated, or refused (not downloaded, unsigned, failed verification, did not compile, unusable).",
	}, []string{"role", "result"})
	m.registry.MustRegister(m.bundles)
	m.registry.MustRegister(m.decisions, m.latency, m.detectors, m.fallbacks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(rec *decision.Record, took time.Duration) {
	if rec.Replayed {
		return
	}
	m.decisions.WithLabelValues(rec.Checkpoint, rec.Verdict.Action.String()).Inc()
	m.latency.WithLabelValues(rec.Checkpoint).Observe(took.Seconds())
	for _, d := range rec.Detectors {
		m.detectors.WithLabelValues(d.Name, string(d.Status)).Inc()
	}
	if rec.Fallback {
		m.fallbacks.Inc()
	}
}

// sideHandler is what server.metrics_listen serves: the metrics at any
// path, as before, and with pprof on Go's profiles under /debug/pprof/.
func sideHandler(metrics http.Handler, pprofOn bool) http.Handler {
	if !pprofOn {
		return metrics
	}
	mux := http.NewServeMux()
	mux.Handle("/", metrics)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// handler serves the registry in Prometheus' text format. A collector
// that fails (the outbox's, which reads the ledger, while the ledger is
// away) leaves out its own series, counted in
// promhttp_metric_handler_errors_total{cause="gathering"}: the rest,
// gavel_journal_pending among them, is what an outage is watched by.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Registry: m.registry})
}
