package host

import (
	"sync/atomic"
	"time"
)

// Breaker states, as Health reports them.
const (
	BreakerClosed   = "closed"    // calls go through
	BreakerOpen     = "open"      // calls are refused until the cool-down ends
	BreakerHalfOpen = "half-open" // the cool-down ended: the next call probes
)

// breaker is a detector's circuit breaker: after limit consecutive failed
// calls it opens for cooldown, during which Collect reports the detector
// unavailable without calling it; then one call probes (half-open), whose
// success closes the breaker and whose failure opens it again. Lock-free:
// Collect's goroutines share it.
type breaker struct {
	limit    int64
	cooldown time.Duration

	failures  atomic.Int64 // consecutive failed calls
	openUntil atomic.Int64 // unix nanoseconds; meaningful while failures >= limit
	probing   atomic.Bool  // a half-open probe is in flight
	opened    atomic.Int64 // times the breaker opened, for Health
}

// allow reports whether a call may go out now, and whether it is the probe.
func (b *breaker) allow(now time.Time) (ok, probe bool) {
	if b.failures.Load() < b.limit {
		return true, false
	}
	if now.UnixNano() < b.openUntil.Load() {
		return false, false
	}
	if b.probing.CompareAndSwap(false, true) {
		return true, true
	}
	return false, false // another call is probing
}

// record notes a call's outcome; it reports true when this failure opened
// the breaker.
func (b *breaker) record(now time.Time, ok, probe bool) (opened bool) {
	if ok {
		b.failures.Store(0)
		if probe {
			b.probing.Store(false)
		}
		return false
	}
	n := b.failures.Add(1)
	switch {
	case probe: // the probe failed: open again
		b.openUntil.Store(now.Add(b.cooldown).UnixNano())
		b.probing.Store(false)
		b.opened.Add(1)
		return true
	case n == b.limit:
		b.openUntil.Store(now.Add(b.cooldown).UnixNano())
		b.opened.Add(1)
		return true
	}
	return false
}

// state is the breaker's state at now.
func (b *breaker) state(now time.Time) string {
	switch {
	case b.failures.Load() < b.limit:
		return BreakerClosed
	case now.UnixNano() < b.openUntil.Load():
		return BreakerOpen
	default:
		return BreakerHalfOpen
	}
}
