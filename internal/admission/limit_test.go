package admission

import (
	"testing"
	"time"
)

// fill takes n places, failing the test if one is refused.
func fill(t *testing.T, l *limit, n int) {
	t.Helper()
	for i := range n {
		if !l.acquire() {
			t.Fatalf("acquire %d of %d refused with the cap at %d", i+1, n, l.current())
		}
	}
}

// TestLimitAdapts: slow answers from a busy server lower the cap by a
// tenth, down to the floor, and past the cap a request is refused; fast
// answers from a busy server raise it back by one a cap's worth of
// answers.
func TestLimitAdapts(t *testing.T) {
	l := newLimit(100, 8, 50*time.Millisecond)
	l.clock = ticking(50 * time.Millisecond) // each answer a target's time after the last
	fill(t, l, 100)
	if l.acquire() {
		t.Fatal("acquire past the ceiling of 100 admitted")
	}
	l.release(80 * time.Millisecond) // slow, 100 in flight
	if got := l.current(); got != 90 {
		t.Errorf("cap after one slow answer = %d, want 90", got)
	}
	for range 40 {
		l.release(80 * time.Millisecond)
	}
	// 59 in flight now, cap well below: the server is busy, answers are
	// slow, and the cap has reached its floor.
	if got := l.current(); got != 8 {
		t.Errorf("cap after 41 slow answers = %d, want the floor 8", got)
	}
	if l.acquire() {
		t.Error("acquire with 59 in flight and a cap of 8 admitted")
	}
	for range 59 {
		l.release(80 * time.Millisecond) // still slow: the cap stays at the floor
	}
	if got := l.current(); got != 8 {
		t.Errorf("cap after 100 slow answers = %d, want the floor 8", got)
	}
	fill(t, l, 8)
	for range 100 {
		// Busy (8 in flight, at least half the cap) and fast: +1/cap each,
		// one a cap's worth of answers: 8 → 16.27 in 100.
		l.release(time.Millisecond)
		fill(t, l, 1)
	}
	if got := l.current(); got != 16 {
		t.Errorf("cap after 100 fast answers from a busy server = %d, want 16", got)
	}
}

// ticking is a clock that moves on by step at each reading.
func ticking(step time.Duration) func() time.Time {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time { now = now.Add(step); return now }
}

// TestLimitLowersOncePerEpisode: slow answers that come together (one
// episode of congestion: a collector pause, a burst) lower the cap once,
// not once each; the next slow answer a target's time later lowers it
// again.
func TestLimitLowersOncePerEpisode(t *testing.T) {
	l := newLimit(100, 8, 50*time.Millisecond)
	l.clock = ticking(time.Millisecond)
	fill(t, l, 100)
	for range 40 {
		l.release(80 * time.Millisecond) // 40 slow answers within 40 ms
	}
	if got := l.current(); got != 90 {
		t.Errorf("cap after 40 slow answers within 40 ms = %d, want 90 (lowered once)", got)
	}
	for range 15 {
		l.release(80 * time.Millisecond) // the clock passes 50 ms since the lowering, once
	}
	if got := l.current(); got != 81 {
		t.Errorf("cap after slow answers past a target's time = %d, want 81 (lowered again)", got)
	}
}

// TestLimitIgnoresSlowAnswersWhenIdle: a request that was slow with the
// server nearly idle (a detector waited out its timeout) is no sign of
// load and leaves the cap alone.
func TestLimitIgnoresSlowAnswersWhenIdle(t *testing.T) {
	l := newLimit(100, 8, 50*time.Millisecond)
	for range 1000 {
		fill(t, l, 3)
		for range 3 {
			l.release(time.Second)
		}
	}
	if got := l.current(); got != 100 {
		t.Errorf("cap after slow answers with 3 in flight = %d, want 100", got)
	}
}

// TestLimitFixedWithoutTarget: without a latency target the cap is
// max_in_flight, whatever the answers take.
func TestLimitFixedWithoutTarget(t *testing.T) {
	l := newLimit(4, 8, 0)
	fill(t, l, 4)
	if l.acquire() {
		t.Fatal("acquire past a fixed cap of 4 admitted")
	}
	for range 4 {
		l.release(time.Hour)
	}
	if got := l.current(); got != 4 {
		t.Errorf("fixed cap after slow answers = %d, want 4", got)
	}
}
