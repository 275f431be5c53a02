// The suite runs without the race detector: the harness decides one
// request at a time (the scenario clock is global), so -race would find
// nothing the engine's, ledger's and detectors' own -race tests do not,
// at five to ten times the cost on make test's two cores. make test runs
// it in a step of its own.

//go:build !race

package scenarios

import (
	"os"
	"strconv"
	"testing"
)

// TestScenarios runs the default suite through the real decision path and
// asserts the three targets over its results. The per-kind table is logged
// (go test -v) and, when GAVEL_SCENARIO_REPORT names a file, written there
// (make test prints it).
func TestScenarios(t *testing.T) {
	h, err := Open(t.Context(), stateDir(t))
	if err != nil {
		t.Fatalf("Open(harness) = %v", err)
	}
	defer h.Close()
	cfg := DefaultConfig()
	if v := os.Getenv("GAVEL_SCENARIO_SEED"); v != "" {
		// Another draw of the same population, to see the targets are not
		// an accident of one seed: GAVEL_SCENARIO_SEED=7 make scenarios.
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("GAVEL_SCENARIO_SEED=%q: %v", v, err)
		}
		cfg.Seed = seed
	}
	out, err := h.Suite(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Suite(seed %d) = %v", cfg.Seed, err)
	}
	r := Summarise(out)
	table := r.Table()
	t.Logf("scenario suite, seed %d:\n%s", cfg.Seed, table)
	if f := os.Getenv("GAVEL_SCENARIO_REPORT"); f != "" {
		if err := os.WriteFile(f, []byte(table), 0o644); err != nil {
			t.Errorf("write %s: %v", f, err)
		}
	}
	if r.Honest.Journeys < 2000 || r.Fraud.Journeys < 500 {
		t.Fatalf("suite has %d honest and %d fraudulent journeys; too few to measure the targets", r.Honest.Journeys, r.Fraud.Journeys)
	}
	for _, m := range r.Check(DefaultTargets) {
		t.Errorf("target missed: %s", m)
	}
}

// stateDir is where the harness keeps its SQLite files: on the RAM-backed
// /dev/shm when the machine has one (the same SQLite, without waiting on
// the disk for each commit's fsync), else the test's temporary folder.
func stateDir(t *testing.T) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "gavel-scenarios-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return t.TempDir()
}
