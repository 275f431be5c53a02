package host

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
)

// BenchmarkCollectBuiltin is one decision's full fan-out to every built-in
// detector (plugins/detectors/*), built from source into a temporary folder
// and run as real go-plugin processes, with a request that gives each of
// them something to look at.
func BenchmarkCollectBuiltin(b *testing.B) {
	root, err := filepath.Abs("../..")
	if err != nil {
		b.Fatal(err)
	}
	dirs, err := filepath.Glob(filepath.Join(root, "plugins/detectors/*/main.go"))
	if err != nil || len(dirs) == 0 {
		b.Fatalf("no built-in detectors under %s: %v", root, err)
	}
	bin := b.TempDir()
	args := []string{"build", "-o", bin + "/"}
	var names []string
	for _, m := range dirs {
		d := filepath.Dir(m)
		args = append(args, "./"+must(filepath.Rel(root, d)))
		names = append(names, filepath.Base(d))
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build the detectors: %v\n%s", err, out)
	}
	var dcs []DetectorConfig
	for _, n := range names {
		dcs = append(dcs, DetectorConfig{Name: n, Path: filepath.Join(bin, n), Timeout: time.Second})
	}
	h, _ := startHost(b, Config{Detectors: dcs, DataDir: b.TempDir(), OnFailure: OnFailureRefuse})

	req := &decision.Request{
		RequestID:  "bench-1",
		Checkpoint: "signup",
		Subject: decision.Subject{ID: "acct-bench", Kind: "freelancer", Profile: decision.Profile{
			GivenName: "Amelia", FamilyName: "Laurent", Country: "FR",
			Email: "amelia.laurent@gmail.com", Phone: "+33 6 12 34 56 78",
		}},
		Context:    decision.Context{IP: "5.9.0.1", DeviceID: "dev-1", UserAgent: "Mozilla/5.0"},
		Attributes: map[string]any{"document": map[string]any{"type": "passport", "country": "FR"}},
		DryRun:     true, // stateful detectors must not count benchmark traffic
	}
	ctx := context.Background()
	// Warm every detector (first calls load lazily) and check each answers.
	answered := map[string]bool{}
	for range 20 {
		for _, r := range h.Collect(ctx, req, time.Now()) {
			if r.Status == decision.StatusOK {
				answered[r.Name] = true
			} else if r.Status != decision.StatusTimeout {
				b.Fatalf("detector %s: %s (%s)", r.Name, r.Status, r.Error)
			}
		}
	}
	for _, n := range names {
		if n != "document" && !answered[n] { // document does not run at signup
			b.Fatalf("detector %s never answered in time", n)
		}
	}
	lat := make([]time.Duration, 0, 1024)
	var called, late int
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		res := h.Collect(ctx, req, start)
		lat = append(lat, time.Since(start))
		called = len(res)
		for _, r := range res {
			switch r.Status {
			case decision.StatusOK:
			case decision.StatusTimeout: // over its budget on a busy machine: counted, not fatal
				late++
			default:
				b.Fatalf("detector %s: %s (%s)", r.Name, r.Status, r.Error)
			}
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(called), "detectors")
	b.ReportMetric(float64(late)/float64(len(lat)), "timeouts/op")
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}
