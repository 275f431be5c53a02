package tests

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gavel/gavel/bundles"
	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
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

func sqliteLedger(b testing.TB) *ledger.Ledger {
	b.Helper()
	cfg := ledger.DefaultConfig()
	cfg.Driver, cfg.Path = ledger.SQLite, filepath.Join(b.TempDir(), "ledger.db")
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
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
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
}
