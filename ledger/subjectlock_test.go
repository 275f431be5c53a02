package ledger

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSubjectLocks(t *testing.T) {
	var s subjectLocks
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			unlock, err := s.lock(context.Background(), "acct-1")
			if err != nil {
				t.Error(err)
				return
			}
			n := inside.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			inside.Add(-1)
			unlock()
		})
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Errorf("commits of one subject inside at once = %d, want 1", most.Load())
	}
	if len(s.locks) != 0 {
		t.Errorf("%d subject locks left after every commit ended, want 0", len(s.locks))
	}

	// Another subject does not wait; a cancelled wait gives up.
	unlock, _ := s.lock(context.Background(), "acct-1")
	other, err := s.lock(context.Background(), "acct-2")
	if err != nil {
		t.Fatalf("lock(other subject) = %v", err)
	}
	other()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := s.lock(ctx, "acct-1"); err == nil {
		t.Error("lock(held subject) with a cancelled context = nil error")
	}
	unlock()
	if len(s.locks) != 0 {
		t.Errorf("%d subject locks left, want 0", len(s.locks))
	}
}
