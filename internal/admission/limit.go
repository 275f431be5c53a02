package admission

import (
	"sync"
	"time"
)

// limit is the in-flight cap, adapted to the latency the server is giving
// (additive increase, multiplicative decrease: TCP's congestion window, as
// Netflix's concurrency-limits applies it to servers). A fixed cap sized for
// a cheap request admits, for an expensive one, more work than the cores
// finish in time: every admitted request shares the cores with all the
// others, each answer slows to the cap times its cost, and detectors miss
// their deadlines on requests that were admitted. The adaptive cap admits
// what is served within the target and refuses the rest at once, as
// resource_exhausted.
//
// An answer that took longer than the target while the server was busy (at
// least half the cap in flight) lowers the cap by a tenth, at most once a
// target's time: the slow answers of one episode of congestion lower it
// once, as TCP backs off once a round trip. An answer within the target
// while busy raises it by 1/cap, so by one a cap's worth of answers (TCP's
// congestion avoidance). A slow answer on an idle server (a detector waited
// out its timeout) says nothing about load and leaves the cap as it is. The
// cap stays within [floor, ceiling].
type limit struct {
	target         time.Duration // 0: a fixed cap of ceiling
	floor, ceiling int

	mu       sync.Mutex
	cap      float64
	inFlight int
	lowered  time.Time // when the cap was last lowered
	clock    func() time.Time
}

// backoff is the factor of one decrease of the cap.
const backoff = 0.9

func newLimit(ceiling, floor int, target time.Duration) *limit {
	floor = max(1, min(floor, ceiling))
	return &limit{target: target, floor: floor, ceiling: ceiling, cap: float64(ceiling), clock: time.Now}
}

// acquire takes a place if fewer than the cap are in flight.
func (l *limit) acquire() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inFlight >= int(l.cap) {
		return false
	}
	l.inFlight++
	return true
}

// release gives the place back, with how long its request took.
func (l *limit) release(took time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	busy := 2*l.inFlight >= int(l.cap)
	l.inFlight--
	if l.target <= 0 || !busy {
		return
	}
	if took > l.target {
		if now := l.clock(); now.Sub(l.lowered) >= l.target {
			l.cap, l.lowered = max(float64(l.floor), l.cap*backoff), now
		}
	} else {
		l.cap = min(float64(l.ceiling), l.cap+1/l.cap)
	}
}

// current is the cap now.
func (l *limit) current() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.cap)
}
