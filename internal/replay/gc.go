package replay

import (
	"os"
	"runtime/debug"
)

// BatchGCPercent is the garbage collector's target (GOGC) for a process
// that does nothing but replay.
const BatchGCPercent = 400

// TuneGC sets the collector's target to BatchGCPercent for a process of
// its own that replays (gavel replay, the benchmark harness), unless GOGC
// says otherwise, and returns what restores the previous target. gavel
// serve never calls it: a replay there shares the server's memory.
//
// Evaluating a decision allocates about 80 KB against a live heap of a
// few tens of MB, so at Go's default target (100) the collector runs every
// few hundred decisions and, with every core evaluating, takes its share
// from them. At 400 it runs a quarter as often; memory is still flat in
// the number of decisions, as the target is a multiple of the live heap,
// which a page of records bounds.
func TuneGC() (restore func()) {
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	prev := debug.SetGCPercent(BatchGCPercent)
	return func() { debug.SetGCPercent(prev) }
}
