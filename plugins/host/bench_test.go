package host

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
)

// benchCollect measures Collect through real detector processes and reports
// the latency distribution besides the mean.
func benchCollect(b *testing.B, detectors int) {
	var dcs []DetectorConfig
	for i := range detectors {
		dcs = append(dcs, detectorConfig(fmt.Sprintf("d%d", i), nil))
	}
	h, _ := startHost(b, Config{Detectors: dcs})
	req := request("signup", "clean")
	req.Attributes["document"] = map[string]any{"type": "passport", "country": "FR"}
	now := time.Now()
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		res := h.Collect(ctx, req, now)
		lat = append(lat, time.Since(start))
		if len(res) != detectors || res[0].Status != decision.StatusOK {
			b.Fatalf("Collect() = %+v, want %d ok results", res, detectors)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

func BenchmarkCollectOne(b *testing.B)     { benchCollect(b, 1) }
func BenchmarkCollectFanOut4(b *testing.B) { benchCollect(b, 4) }
