package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gavel/gavel/ledger"
)

// ledgerMetrics are the ledger's series, read from it at each scrape: how
// the SQLite group commit batches decisions and how many wait for its
// writer (the ledger's saturation, before it shows in latency), decisions
// made again at commit, and decisions journaled while the ledger was away.
func (m *metrics) ledgerMetrics(l *ledger.Ledger, journalPending func() int) {
	m.registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gavel_ledger_decisions_redone_total",
			Help: "Decisions made again at commit, because the subject's standing changed after their history was read.",
		}, func() float64 { return float64(l.Redone()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gavel_journal_pending",
			Help: "Decisions answered while the ledger could not be read or written, journaled and not yet written to the ledger.",
		}, func() float64 { return float64(journalPending()) }),
	)
	if !l.GroupCommitted() {
		return
	}
	m.registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gavel_ledger_group_commit_transactions_total",
			Help: "SQLite transactions the ledger's group commit has committed; decisions_total over this is the mean batch.",
		}, func() float64 { txs, _ := l.GroupCommits(); return float64(txs) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gavel_ledger_group_commit_decisions_total",
			Help: "Decisions the ledger's group commit has committed.",
		}, func() float64 { _, n := l.GroupCommits(); return float64(n) }),
		walCheckpoints("background", func() int64 { n, _, _ := l.Checkpoints(); return n }),
		walCheckpoints("writer", func() int64 { _, n, _ := l.Checkpoints(); return n }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gavel_ledger_wal_checkpoint_failures_total",
			Help: "SQLite WAL checkpoints of the ledger that failed; while they do, the WAL grows.",
		}, func() float64 { _, _, n := l.Checkpoints(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gavel_ledger_commits_waiting",
			Help: "Decisions with the ledger's SQLite writer or waiting for it.",
		}, func() float64 { return float64(l.CommitsWaiting()) }),
	)
}

// walCheckpoints counts the ledger's WAL checkpoints run by by: in the
// background, off the decisions' path, or by the writer catching up with
// what was committed meanwhile.
func walCheckpoints(by string, n func() int64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name:        "gavel_ledger_wal_checkpoints_total",
		Help:        "SQLite WAL checkpoints of the ledger: in the background, off the decisions' path (by=\"background\"), and the writer's catch-ups of what was committed meanwhile (by=\"writer\").",
		ConstLabels: prometheus.Labels{"by": by},
	}, func() float64 { return float64(n()) })
}
