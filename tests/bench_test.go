package tests

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gavel/gavel/bundles"
	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/internal/pgtest"
	"github.com/gavel/gavel/ledger"
	"github.com/gavel/gavel/ledger/ledgertest"
	"github.com/gavel/gavel/plugins/builtin"
	"github.com/gavel/gavel/plugins/host"
	"github.com/gavel/gavel/policies"
)

var checkpoints = []string{"signup", "login", "profile_update", "identity_verification", "payout_method_change", "proposal_submit", "contract_start", "withdrawal"}

// policyEngine loads the repo's policies, as `policy.source: embedded` does.
func policyEngine(b testing.TB) *bundles.Engine {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "bundle")
	if err := policies.WriteBundle(dir); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	eng, err := bundles.New(ctx, bundles.Config{Source: dir}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	if err := eng.WaitReady(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { eng.Stop(context.Background()) })
	return eng
}

func sqliteLedger(b testing.TB) *ledger.Ledger { return sqliteLedgerWith(b, 0, false) }

// sqliteLedgerWith opens a SQLite ledger committing up to batch decisions
// together (0: the default; 1: each alone), its records stored as plain
// JSON if plain.
func sqliteLedgerWith(b testing.TB, batch int, plain bool) *ledger.Ledger {
	b.Helper()
	cfg := ledger.DefaultConfig()
	cfg.Driver, cfg.Path = ledger.SQLite, filepath.Join(b.TempDir(), "ledger.db")
	cfg.SQLiteCommitBatch = batch
	cfg.SQLitePlainRecords = plain
	l, err := ledger.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

func detectorHost(b testing.TB) *host.Host {
	b.Helper()
	h, err := host.New(host.Config{
		DataDir: b.TempDir(),
		Detectors: []host.DetectorConfig{
			{Name: "email", Path: filepath.Join(binDir, "gavel-detector-email"), Timeout: 50 * time.Millisecond},
			{Name: "velocity", Path: filepath.Join(binDir, "gavel-detector-velocity"), Timeout: 50 * time.Millisecond},
		},
		OnFailure: host.OnFailureRefuse,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	return h
}

// builtinHost runs every built-in detector in process, as `gavel serve`
// does by default.
func builtinHost(b testing.TB) *host.Host {
	b.Helper()
	var dcs []host.DetectorConfig
	for _, n := range builtin.Names() {
		open, _ := builtin.Opener(n)
		dcs = append(dcs, host.DetectorConfig{Name: n, Open: open, Timeout: 50 * time.Millisecond})
	}
	h, err := host.New(host.Config{DataDir: b.TempDir(), Detectors: dcs, OnFailure: host.OnFailureRefuse}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	return h
}

func newEngine(b testing.TB, signals decision.SignalSource, l decision.Ledger) *decision.Engine {
	b.Helper()
	e, err := decision.New(decision.Config{
		Checkpoints: checkpoints, FailureAction: decision.Challenge,
		PolicyTimeout: time.Second, SignalTimeout: time.Second,
	}, signals, policyEngine(b), l, nil)
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func benchRequest(i int, inline bool) *decision.Request {
	r := &decision.Request{
		RequestID:  fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i),
		Checkpoint: "signup",
		Subject: decision.Subject{
			ID:      fmt.Sprintf("acct-%d", i%5000),
			Profile: decision.Profile{GivenName: "Amelia", FamilyName: "Laurent", Country: "FR", Email: fmt.Sprintf("amelia.%d@mailinator.com", i)},
		},
		Context: decision.Context{IP: fmt.Sprintf("198.51.100.%d", i%250), DeviceID: fmt.Sprintf("dev-%d", i)},
	}
	if inline {
		r.Signals = []decision.Signal{
			{Name: "email.disposable", Score: 1, Value: "mailinator.com", Confidence: 1},
			{Name: "email.free_provider", Score: 0.1, Value: "mailinator.com", Confidence: 1},
			{Name: "velocity.signups_per_ip", Score: 0.2, Value: "2", Confidence: 1},
		}
	}
	return r
}

// runDecide measures Decide one call at a time and reports p50 and p99.
func runDecide(b *testing.B, e *decision.Engine, inline bool) {
	b.Helper()
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		rec, err := e.Decide(ctx, benchRequest(i, inline))
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		if rec.Fallback {
			b.Fatalf("Decide fell back: %s", rec.Cause)
		}
	}
	b.StopTimer()
	ledgertest.ReportLatency(b, lat)
}

// BenchmarkDecide is Decide in-process on the repo's policies and a SQLite
// ledger: signals supplied inline (the baseline) against the built-in
// detectors called through go-plugin.
func BenchmarkDecide(b *testing.B) {
	if _, err := os.Stat(filepath.Join(binDir, "gavel-detector-email")); err != nil {
		b.Skip("detector binaries not built")
	}
	b.Run("baseline", func(b *testing.B) {
		runDecide(b, newEngine(b, nil, sqliteLedger(b)), true)
	})
	b.Run("detectors", func(b *testing.B) {
		runDecide(b, newEngine(b, detectorHost(b), sqliteLedger(b)), false)
	})
	b.Run("builtin-in-process", func(b *testing.B) {
		runDecide(b, newEngine(b, builtinHost(b), sqliteLedger(b)), false)
	})
}

// BenchmarkDecideBuiltinParallel is Decide's throughput with the 7 built-in
// detectors in process and a SQLite ledger, many callers at once; it
// counts the decisions whose detectors did not all answer.
func BenchmarkDecideBuiltinParallel(b *testing.B) {
	l := sqliteLedger(b)
	e := newEngine(b, builtinHost(b), l)
	var seq, degraded atomic.Int64
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec, err := e.Decide(ctx, benchRequest(int(seq.Add(1)), false))
			if err != nil {
				b.Error(err)
				return
			}
			for _, d := range rec.Detectors {
				if d.Status != decision.StatusOK {
					degraded.Add(1)
					break
				}
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "decisions/s")
	b.ReportMetric(float64(degraded.Load())/float64(b.N), "degraded/op")
	if txs, ds := l.GroupCommits(); txs > 0 {
		b.ReportMetric(float64(ds)/float64(txs), "decisions/commit")
	}
}

// discardLedger is a decision.Ledger that keeps nothing: no history, every
// commit accepted. It is the baseline of BenchmarkDecideLedger only, the
// cost of Decide without a ledger, and never serves decisions.
type discardLedger struct{}

func (discardLedger) History(context.Context, string, time.Time) (decision.History, error) {
	return decision.History{}, nil
}

func (discardLedger) Commit(_ context.Context, rec *decision.Record, _ *decision.Basis) (*decision.Record, bool, error) {
	return rec, false, nil
}

func (discardLedger) Standing(context.Context, string, time.Time) (*decision.Standing, error) {
	return nil, decision.ErrNotFound
}

func (discardLedger) ByRequestID(context.Context, string) (*decision.Record, error) {
	return nil, decision.ErrNotFound
}

func (discardLedger) Get(context.Context, string) (*decision.Record, error) {
	return nil, decision.ErrNotFound
}

func (discardLedger) List(context.Context, string, int, string) ([]*decision.Record, string, error) {
	return nil, "", nil
}

// postgresLedger opens a ledger in a fresh schema of the PostgreSQL server
// at GAVEL_TEST_POSTGRES_DSN, dropped at cleanup; it skips without one.
func postgresLedger(b testing.TB) *ledger.Ledger {
	b.Helper()
	dsn := pgtest.Schema(b, "gavel_bench")

	cfg := ledger.DefaultConfig()
	cfg.Driver, cfg.DSN = ledger.Postgres, dsn
	l, err := ledger.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

// BenchmarkDecideLedger is Decide's throughput in-process with many callers
// at once (b.RunParallel, 4 goroutines a core), signals inline, on the
// repo's policies: with the ledger discarded (the baseline: what the ledger
// costs is the ratio), on SQLite (as configured by default; with records
// stored as plain JSON; and with each decision committed alone as well, as
// before group commit) and on PostgreSQL.
func BenchmarkDecideLedger(b *testing.B) {
	for _, c := range []struct {
		name string
		open func(testing.TB) decision.Ledger
	}{
		{"baseline", func(testing.TB) decision.Ledger { return discardLedger{} }},
		{"sqlite", func(b testing.TB) decision.Ledger { return sqliteLedger(b) }},
		{"sqlite-plain-records", func(b testing.TB) decision.Ledger { return sqliteLedgerWith(b, 0, true) }},
		{"sqlite-commit-alone-plain-records", func(b testing.TB) decision.Ledger { return sqliteLedgerWith(b, 1, true) }},
		{"postgres", func(b testing.TB) decision.Ledger { return postgresLedger(b) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			e := newEngine(b, nil, c.open(b))
			var seq atomic.Int64
			ctx := context.Background()
			b.ReportAllocs()
			b.SetParallelism(4)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					rec, err := e.Decide(ctx, benchRequest(int(seq.Add(1)), true))
					if err != nil {
						b.Error(err)
						return
					}
					if rec.Fallback {
						b.Errorf("Decide fell back: %s", rec.Cause)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "decisions/s")
		})
	}
}

// BenchmarkDecideBundleSwitch measures Decide's latency (one call at a
// time, inline signals, SQLite ledger) on a bundle read from a local
// folder: "baseline" with the bundle left alone, "switching" while another
// goroutine rewrites the bundle's revision and reloads it over and over,
// so that OPA recompiles and gavel swaps in a new prepared query under the
// decisions. Compare their p99-µs.
func BenchmarkDecideBundleSwitch(b *testing.B) {
	for _, switching := range []bool{false, true} {
		name := "baseline"
		if switching {
			name = "switching"
		}
		b.Run(name, func(b *testing.B) {
			dir := filepath.Join(b.TempDir(), "bundle")
			if err := policies.WriteBundle(dir); err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			pol, err := bundles.New(ctx, bundles.Config{Source: dir}, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { pol.Stop(context.Background()) })
			if err := pol.WaitReady(ctx); err != nil {
				b.Fatal(err)
			}
			e, err := decision.New(decision.Config{
				Checkpoints: checkpoints, FailureAction: decision.Challenge,
				PolicyTimeout: time.Second, SignalTimeout: time.Second,
			}, nil, pol, sqliteLedger(b), nil)
			if err != nil {
				b.Fatal(err)
			}
			var switches, failures atomic.Int64
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				if !switching {
					return
				}
				for n := 1; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					if err := rewriteRevision(dir, fmt.Sprintf("switch-%d", n)); err != nil {
						failures.Add(1)
						continue
					}
					if err := pol.Reload(context.Background()); err != nil {
						failures.Add(1)
						continue
					}
					switches.Add(1)
					time.Sleep(5 * time.Millisecond)
				}
			}()
			start := time.Now()
			runDecide(b, e, true)
			close(stop)
			<-done
			if switching {
				b.ReportMetric(float64(switches.Load())/time.Since(start).Seconds(), "switches/s")
				if failures.Load() > 0 {
					b.Errorf("%d bundle reloads failed", failures.Load())
				}
			}
		})
	}
}

// rewriteRevision replaces the bundle's manifest atomically with one of a
// new revision.
func rewriteRevision(dir, rev string) error {
	tmp := filepath.Join(dir, ".manifest.tmp")
	manifest := fmt.Sprintf(`{"revision": %q, "roots": ["gavel", "system"]}`, rev)
	if err := os.WriteFile(tmp, []byte(manifest), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, ".manifest"))
}
