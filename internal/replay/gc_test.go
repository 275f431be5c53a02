package replay

import (
	"os"
	"runtime/debug"
	"testing"
)

// gcPercent reads the collector's target without changing it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestTuneGC(t *testing.T) {
	t.Setenv("GOGC", "") // restores the variable after the test
	os.Unsetenv("GOGC")
	debug.SetGCPercent(100)
	restore := TuneGC()
	if got := gcPercent(); got != BatchGCPercent {
		t.Errorf("after TuneGC the target is %d, want %d", got, BatchGCPercent)
	}
	restore()
	if got := gcPercent(); got != 100 {
		t.Errorf("after restore the target is %d, want 100", got)
	}

	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150)
	restore = TuneGC()
	if got := gcPercent(); got != 150 {
		t.Errorf("with GOGC=150 set, TuneGC changed the target to %d", got)
	}
	restore()
	debug.SetGCPercent(100)
}
