package ledgertest

import (
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
)

// BenchCommit measures Commit of a restricting, striking decision with two
// holds: the heaviest write on a decision's path. Beside the mean it
// reports the p50, p99, p99.9 and slowest commit: a stall of the writer (a WAL
// checkpoint on SQLite) shows in the tail, not in the mean.
func BenchCommit(b *testing.B, open Opener) {
	l := open(b)
	ctx := b.Context()
	b.ReportAllocs()
	var took []time.Duration
	defer func() { ReportLatency(b, took) }()
	i := 0
	for b.Loop() {
		start := time.Now()
		rec := Record(fmt.Sprintf("bench-commit-%d", i%1000), payout, T0.Add(time.Duration(i)*time.Millisecond),
			decision.Restrict, "PAYOUT_MISMATCH", "NEW_DEVICE")
		rec.Verdict.Strike = true
		rec.Verdict.Restrictions = []decision.Restriction{{Capability: "payouts", Duration: day}, {Capability: "withdrawals"}}
		rec.Verdict.Remedy = &decision.Remedy{Code: "verify_identity", Checkpoint: idv}
		if _, _, err := l.Commit(ctx, rec, nil); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
		i++
	}
}

// ReportLatency reports the p50, p99, p99.9 and largest of took, in µs:
// any benchmark's latencies, the ledger's and gavel's end to end alike.
// It sorts took.
func ReportLatency(b *testing.B, took []time.Duration) {
	if len(took) == 0 {
		return
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(took[len(took)*999/1000].Microseconds()), "p99.9-µs")
	b.ReportMetric(float64(took[len(took)-1].Microseconds()), "max-µs")
}

// BenchCommitParallel measures the same commit made by many callers at
// once (16 per core), each a new subject under its lock, as the engine
// commits: what group commit is for.
func BenchCommitParallel(b *testing.B, open Opener) {
	l := open(b)
	ctx := b.Context()
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			rec := Record(fmt.Sprintf("bench-parallel-%d", i), payout, T0.Add(time.Duration(i)*time.Millisecond),
				decision.Restrict, "PAYOUT_MISMATCH", "NEW_DEVICE")
			rec.Verdict.Strike = true
			rec.Verdict.Restrictions = []decision.Restriction{{Capability: "payouts", Duration: day}, {Capability: "withdrawals"}}
			rec.Verdict.Remedy = &decision.Remedy{Code: "verify_identity", Checkpoint: idv}
			if _, _, err := l.Commit(ctx, rec, &decision.Basis{Version: 0}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if txs, decisions := l.GroupCommits(); txs > 0 {
		b.ReportMetric(float64(decisions)/float64(txs), "decisions/tx")
	}
}

// BenchHistory measures History of a subject with a realistic past: 50
// decisions over 60 days, a third of them striking and holding.
func BenchHistory(b *testing.B, open Opener) {
	l := open(b)
	ctx := b.Context()
	for s := range 100 {
		subject := fmt.Sprintf("bench-history-%d", s)
		for i := range 50 {
			rec := Record(subject, login, T0.Add(time.Duration(i)*30*time.Hour), decision.Warn, "NEW_DEVICE")
			if i%3 == 0 {
				rec.Verdict.Action = decision.Restrict
				rec.Verdict.Strike = true
				rec.Verdict.Restrictions = []decision.Restriction{{Capability: "payouts", Duration: 30 * day}}
			}
			if _, _, err := l.Commit(ctx, rec, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	now := T0.Add(62 * day)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h, err := l.History(ctx, fmt.Sprintf("bench-history-%d", i%100), now)
		if err != nil {
			b.Fatal(err)
		}
		if len(h.Recent) == 0 || h.Strikes == 0 {
			b.Fatalf("History = %+v, want recent decisions and strikes", h)
		}
		i++
	}
}
