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
// tenth each, down to the floor, and past the cap a request is refused;
// fast answers from a busy server raise it back by one each, up to the
// ceiling.
func TestLimitAdapts(t *testing.T) {
	l := newLimit(100, 8, 50*time.Millisecond)
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
	for range 30 {
		// Busy (the cap in flight) and fast: +1 each.
		l.release(time.Millisecond)
		fill(t, l, 2)
	}
	if got := l.current(); got != 38 {
		t.Errorf("cap after 30 fast answers from a busy server = %d, want 38", got)
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
