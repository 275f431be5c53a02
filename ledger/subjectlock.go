package ledger

import (
	"context"
	"sync"
)

// subjectLocks lets one commit at a time per subject, in this process, go on
// to the database, so that a burst of decisions for one account waits here
// rather than in open transactions holding pooled connections (which would
// starve every other account's reads). Across replicas the database's row
// lock does the rest.
type subjectLocks struct {
	mu    sync.Mutex
	locks map[string]*subjectLock
}

type subjectLock struct {
	sem     chan struct{}
	waiters int
}

// lock waits for the subject's turn, or for ctx to end, and returns the
// function that ends the turn.
func (s *subjectLocks) lock(ctx context.Context, subjectID string) (func(), error) {
	s.mu.Lock()
	if s.locks == nil {
		s.locks = map[string]*subjectLock{}
	}
	l := s.locks[subjectID]
	if l == nil {
		l = &subjectLock{sem: make(chan struct{}, 1)}
		s.locks[subjectID] = l
	}
	l.waiters++
	s.mu.Unlock()

	release := func() {
		s.mu.Lock()
		l.waiters--
		if l.waiters == 0 {
			delete(s.locks, subjectID)
		}
		s.mu.Unlock()
	}
	select {
	case l.sem <- struct{}{}:
		return func() { <-l.sem; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
