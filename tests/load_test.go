package tests

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/gavel/gavel/ledger/ledgertest"
)

// BenchmarkServeDecide is the load harness: a real `gavel serve` (SQLite
// ledger, the repo's policies) driven over the network by parallel clients.
// The baseline has every detector off; the other cases add the built-in
// detectors, then speak gRPC instead of Connect. It reports decisions per
// second and the p50/p99 the clients saw.
func BenchmarkServeDecide(b *testing.B) {
	var off []string
	for _, d := range builtinDetectors(b) {
		off = append(off, fmt.Sprintf("GAVEL_DETECTORS__PLUGINS__%s__ENABLED=false", upper(d)))
	}
	cases := []struct {
		name string
		env  []string
		opts []connect.ClientOption
	}{
		{"baseline", off, nil},
		{"detectors", nil, nil},
		{"detectors-grpc", nil, []connect.ClientOption{connect.WithGRPC()}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			g := startGavel(b, c.env...)
			client := g.decisions(c.opts...)
			// Warm up: detector connections, prepared statements.
			for range 20 {
				if _, err := client.Decide(context.Background(), connect.NewRequest(signup("warm.up@example.org"))); err != nil {
					b.Fatal(err)
				}
			}
			var (
				mu  sync.Mutex
				lat []time.Duration
			)
			b.SetParallelism(4) // 4 clients per core
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				mine := make([]time.Duration, 0, 256)
				i := 0
				for pb.Next() {
					i++
					t0 := time.Now()
					resp, err := client.Decide(context.Background(), connect.NewRequest(signup(fmt.Sprintf("load%d@mailinator.com", i))))
					mine = append(mine, time.Since(t0))
					if err != nil {
						b.Error(err)
						return
					}
					if resp.Msg.GetFallback() {
						b.Errorf("Decide fell back: %v", codes(resp.Msg))
						return
					}
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "decisions/s")
			ledgertest.ReportLatency(b, lat)
		})
	}
}

func upper(s string) string {
	out := []byte(s)
	for i, c := range out {
		if c >= 'a' && c <= 'z' {
			out[i] = c - 'a' + 'A'
		}
	}
	return string(out)
}
