package tests

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
)

// stages times the parts of one decision: the history read, the detectors,
// the policy's evaluation and the ledger's commit (each summed over the
// decision, which may evaluate and read again when its subject's standing
// changed). The history runs beside the detectors, each on its own field.
type stages struct{ history, detectors, policy, commit time.Duration }

type timedLedger struct {
	decision.Ledger
	s *stages
}

func (l timedLedger) History(ctx context.Context, subject string, now time.Time) (decision.History, error) {
	defer since(time.Now(), &l.s.history)
	return l.Ledger.History(ctx, subject, now)
}

func (l timedLedger) Commit(ctx context.Context, rec *decision.Record, basis *decision.Basis) (*decision.Record, bool, error) {
	defer since(time.Now(), &l.s.commit)
	return l.Ledger.Commit(ctx, rec, basis)
}

type timedSignals struct {
	decision.SignalSource
	s *stages
}

func (t timedSignals) Collect(ctx context.Context, req *decision.Request, now time.Time) []decision.DetectorResult {
	defer since(time.Now(), &t.s.detectors)
	return t.SignalSource.Collect(ctx, req, now)
}

type timedPolicy struct {
	decision.Evaluator
	s *stages
}

func (p timedPolicy) Evaluate(ctx context.Context, input map[string]any) (decision.Verdict, error) {
	defer since(time.Now(), &p.s.policy)
	return p.Evaluator.Evaluate(ctx, input)
}

func since(t0 time.Time, d *time.Duration) { *d += time.Since(t0) }

// BenchmarkDecideStages is where one decision's time goes: the seven
// built-in detectors in process, a SQLite ledger, decisions one at a time,
// back to back and 20 ms apart (a lightly loaded server, whose caches have
// cooled between decisions). It reports p50 and p99 of the whole Decide and
// of each stage; the commit includes the wait for the ledger's writer and
// any checkpoint it runs.
func BenchmarkDecideStages(b *testing.B) {
	for _, gap := range []time.Duration{0, 20 * time.Millisecond} {
		b.Run("gap="+gap.String(), func(b *testing.B) {
			var s stages
			e, err := decision.New(decision.Config{
				Checkpoints: checkpoints, FailureAction: decision.Challenge,
				PolicyTimeout: time.Second, SignalTimeout: time.Second,
			}, timedSignals{builtinHost(b), &s}, timedPolicy{policyEngine(b), &s}, timedLedger{sqliteLedger(b), &s}, nil)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			var total, history, detectors, policy, commit []time.Duration
			b.ResetTimer()
			for i := range b.N {
				s = stages{}
				t0 := time.Now()
				rec, err := e.Decide(ctx, benchRequest(i, false))
				total = append(total, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				if rec.Fallback {
					b.Fatalf("Decide fell back: %s", rec.Cause)
				}
				history, detectors = append(history, s.history), append(detectors, s.detectors)
				policy, commit = append(policy, s.policy), append(commit, s.commit)
				if gap > 0 {
					b.StopTimer()
					time.Sleep(gap)
					b.StartTimer()
				}
			}
			b.StopTimer()
			for _, m := range []struct {
				name string
				d    []time.Duration
			}{{"decide", total}, {"history", history}, {"detectors", detectors}, {"policy", policy}, {"commit", commit}} {
				slices.Sort(m.d)
				b.ReportMetric(float64(m.d[len(m.d)/2].Microseconds()), m.name+"-p50-µs")
				b.ReportMetric(float64(m.d[len(m.d)*99/100].Microseconds()), m.name+"-p99-µs")
			}
		})
	}
}
