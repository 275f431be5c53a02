package decision

import (
	"context"
	"sync"
	"time"
)

// SyncObserver is an Observer that can also be told of a decision and
// waited for, for decisions the very next decision must see: a suspension
// placed or lifted reaches the detectors (linkage: links to a suspended
// account) before the reply leaves.
type SyncObserver interface {
	Observer
	// ObserveNow delivers rec and returns when every observer has it, or
	// when ctx ends.
	ObserveNow(ctx context.Context, rec *Record)
}

// SyncObserveTimeout bounds how long a reply waits for detectors to learn a
// suspension; past it the decision is still queued for them.
const SyncObserveTimeout = 250 * time.Millisecond

// changesSuspension reports whether rec placed a suspension or, by hand,
// lifted one: what the next decision must see at once.
func changesSuspension(rec *Record) bool {
	if rec.DryRun || rec.Fallback {
		return false
	}
	if rec.Verdict.Action == Suspend {
		return true
	}
	return rec.Manual != nil && rec.Manual.LiftedSuspension != ""
}

// observe tells the observers of a committed decision: queued, except a
// change of suspension, which the sync observers have before the reply.
func (e *Engine) observe(ctx context.Context, rec *Record) {
	if !changesSuspension(rec) {
		for _, o := range e.observers {
			o.Observe(rec)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), SyncObserveTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, o := range e.observers {
		so, ok := o.(SyncObserver)
		if !ok {
			o.Observe(rec)
			continue
		}
		wg.Go(func() { so.ObserveNow(ctx, rec) })
	}
	wg.Wait()
}
