package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gavel/gavel/bundles"
	"github.com/gavel/gavel/internal/config"
)

// decisionLogs is the active bundle's decision-log setting, nil when
// decision logs are off.
func decisionLogs(c config.DecisionLogsConfig) *bundles.DecisionLogs {
	if !c.Enabled() {
		return nil
	}
	return &bundles.DecisionLogs{
		URL:          c.URL,
		Path:         c.Path,
		Token:        string(c.Token),
		BufferEvents: c.BufferEvents,
		MinDelay:     c.MinDelay,
		MaxDelay:     c.MaxDelay,
		Console:      c.Console,
	}
}

// decisionLogs exports the decision-log pipeline's counters, read from the
// engine when scraped.
func (m *metrics) decisionLogs(stats func() bundles.DecisionLogStats) {
	dropped := func(stage string, n func(bundles.DecisionLogStats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "gavel_decision_logs_dropped_total",
			Help:        "Decisions left out of the decision log: stage queue (gavel's queue to OPA was full) or buffer (OPA's buffer was full and dropped its oldest).",
			ConstLabels: prometheus.Labels{"stage": stage},
		}, func() float64 { return float64(n(stats())) })
	}
	m.registry.MustRegister(
		dropped("queue", func(s bundles.DecisionLogStats) int64 { return s.Dropped }),
		dropped("buffer", func(s bundles.DecisionLogStats) int64 { return s.BufferDropped }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gavel_decision_logs_upload_failures_total",
			Help: "Decision-log uploads to the collector that failed (the events are kept in the buffer and retried).",
		}, func() float64 { return float64(stats().FailedChunks) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gavel_decision_logs_buffered",
			Help: "Decision-log items waiting in OPA's buffer for upload.",
		}, func() float64 { return float64(stats().Buffered) }),
	)
}
