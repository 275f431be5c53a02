package tests

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
	"github.com/gavel/gavel/ledger/ledgertest"
)

// BenchmarkDecideStanding is Decide's latency (one call at a time, inline
// signals, SQLite ledger, the repo's policies) for a fresh subject (the
// baseline) against a subject with 100 past decisions and 10 holds in force,
// at a checkpoint one of the holds binds (withdrawal).
func BenchmarkDecideStanding(b *testing.B) {
	for _, withHistory := range []bool{false, true} {
		name := "baseline"
		if withHistory {
			name = "history"
		}
		b.Run(name, func(b *testing.B) {
			l := sqliteLedger(b)
			e := newEngine(b, nil, l)
			const subject = "acct-standing-bench"
			if withHistory {
				seedStanding(b, l, subject)
			}
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req := benchRequest(i, true)
				req.Subject.ID, req.Checkpoint = subject, "withdrawal"
				req.Signals = nil
				start := time.Now()
				rec, err := e.Decide(ctx, req)
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				if rec.Fallback {
					b.Fatalf("Decide fell back: %s", rec.Cause)
				}
				if withHistory && rec.Verdict.Action != decision.Restrict {
					b.Fatalf("Decide with holds in force = %v, want restrict; holds %v", rec.Verdict.Action, rec.Input["history"].(map[string]any)["holds"])
				}
			}
			b.StopTimer()
			ledgertest.ReportLatency(b, lat)
		})
	}
}

// seedStanding gives subject 100 past decisions, 10 of them restricts whose
// holds (two capabilities each) are in force.
func seedStanding(b *testing.B, l *ledger.Ledger, subject string) {
	b.Helper()
	ctx := context.Background()
	now := time.Now()
	caps := []string{"withdrawals", "payouts", "proposals", "contracts", "messaging"}
	for i := range 100 {
		at := now.Add(-time.Duration(100-i) * time.Hour)
		rec := ledgertest.Record(subject, "login", at, decision.Allow)
		if i%10 == 0 {
			rec = ledgertest.Record(subject, "payout_method_change", at, decision.Restrict, "MODEL_RISK")
			rec.Verdict.Restrictions = []decision.Restriction{
				{Capability: caps[(i/10)%5], Duration: 720 * time.Hour}, {Capability: caps[(i/10+1)%5], Duration: 720 * time.Hour},
			}
		}
		if _, _, err := l.Commit(ctx, rec, nil); err != nil {
			b.Fatal(err)
		}
	}
	h, err := l.History(ctx, subject, now)
	if err != nil {
		b.Fatal(err)
	}
	if len(h.Holds) != 20 {
		b.Fatalf("seeded holds = %d, want 20 (10 restricts, 2 capabilities each)", len(h.Holds))
	}
}

// unserialised is the ledger without the per-subject serialisation: every
// commit as if its history were current. It is the baseline of
// BenchmarkDecideSerialised, never a way to run gavel.
type unserialised struct{ *ledger.Ledger }

func (u unserialised) Commit(ctx context.Context, rec *decision.Record, _ *decision.Basis) (*decision.Record, bool, error) {
	return u.Ledger.Commit(ctx, rec, nil)
}

// BenchmarkDecideSerialised is what the per-subject serialisation costs on
// PostgreSQL: throughput of 16 concurrent callers on distinct subjects,
// signals inline, without it (the baseline) and with it.
func BenchmarkDecideSerialised(b *testing.B) {
	for _, serialise := range []bool{false, true} {
		name := "baseline"
		if serialise {
			name = "serialised"
		}
		b.Run(name, func(b *testing.B) {
			var l decision.Ledger = postgresLedger(b)
			if !serialise {
				l = unserialised{l.(*ledger.Ledger)}
			}
			e := newEngine(b, nil, l)
			var seq atomic.Int64
			ctx := context.Background()
			b.SetParallelism(8) // 16 callers on 2 cores
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := benchRequest(int(seq.Add(1)), true)
					req.Subject.ID = fmt.Sprintf("acct-serial-%d", seq.Load())
					if _, err := e.Decide(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "decisions/s")
		})
	}
}
