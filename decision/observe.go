package decision

import (
	"context"
	"strconv"
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

// recentIndex remembers the decisions this process committed last, by
// request id, so that a retry arriving while the ledger is unreachable gets
// the decision already made instead of a second one. It keeps what that
// reply (the user view and the statement of reasons) is made of, not the
// input, the signals or any evidence. It is bounded: the oldest are
// forgotten first.
type recentIndex struct {
	mu    sync.Mutex
	byID  map[string]*Record
	order []string
	next  int
	// reasons holds one copy of each list of kept reasons: without their
	// evidence, the reasons of most decisions are one of a few lists (the
	// same codes, actions and catalog texts), and a list of its own per
	// kept decision was two fifths of the index's memory.
	reasons map[string][]Reason
}

// maxSharedReasons bounds the distinct reason lists the index shares; past
// it the table starts again (kept decisions keep the lists they have).
const maxSharedReasons = 1024

// recentRequests is how many committed decisions the index keeps: at 1,000
// decisions a second, the last 16 seconds; each costs about two kilobytes
// with seven detectors (about 25 if their evidence were kept).
const recentRequests = 16384

func newRecentIndex(size int) *recentIndex {
	return &recentIndex{byID: make(map[string]*Record, size), order: make([]string, size),
		reasons: make(map[string][]Reason)}
}

func (x *recentIndex) add(rec *Record) {
	if rec.DryRun {
		return
	}
	slim := slimRecord(rec)
	key := reasonsKey(rec.Verdict.Reasons)
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(rec.Verdict.Reasons) > 0 {
		shared, ok := x.reasons[key]
		if !ok {
			shared = make([]Reason, len(rec.Verdict.Reasons))
			for i, r := range rec.Verdict.Reasons {
				r.Evidence = nil
				shared[i] = r
			}
			if len(x.reasons) >= maxSharedReasons {
				clear(x.reasons)
			}
			x.reasons[key] = shared
		}
		slim.Verdict.Reasons = shared
	}
	if old := x.order[x.next]; old != "" {
		delete(x.byID, old)
	}
	x.order[x.next] = rec.RequestID
	x.byID[rec.RequestID] = slim
	x.next = (x.next + 1) % len(x.order)
}

// slimRecord is rec without its input, signals, reasons and suppressed
// reasons (add puts back the reasons, shared). Each detector's signals are
// kept as many, without evidence, since the reply counts them. rec is not
// changed.
func slimRecord(rec *Record) *Record {
	slim := *rec
	slim.Input, slim.Signals = nil, nil
	if len(rec.Detectors) > 0 {
		slim.Detectors = make([]DetectorResult, len(rec.Detectors))
		for i, d := range rec.Detectors {
			d.Signals = blankSignals(len(d.Signals))
			slim.Detectors[i] = d
		}
	}
	slim.Verdict.Reasons, slim.Verdict.Suppressed = nil, nil
	return &slim
}

// reasonsKey is what tells one list of kept reasons from another: every
// field the index keeps, each preceded by its length.
func reasonsKey(reasons []Reason) string {
	if len(reasons) == 0 {
		return ""
	}
	var b []byte
	field := func(s string) {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	for _, r := range reasons {
		field(r.Code)
		b = strconv.AppendInt(b, int64(r.Action), 10)
		b = strconv.AppendBool(b, r.Appealable)
		field(r.Title)
		field(r.Message)
		field(r.Explanation)
		field(r.Ground)
		field(r.DSACategory)
		field(r.DSAKeyword)
		field(r.Rule)
	}
	return string(b)
}

// blankSignals returns n empty signals, for a kept record's detectors,
// whose reply shows only how many signals each sent. Up to 64 they share
// one array, never written: 16,384 kept decisions with seven detectors
// would otherwise hold tens of megabytes of empty signals.
func blankSignals(n int) []Signal {
	if n <= len(sharedBlankSignals) {
		return sharedBlankSignals[:n:n]
	}
	return make([]Signal, n)
}

var sharedBlankSignals [64]Signal

func (x *recentIndex) get(requestID string) (*Record, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	r, ok := x.byID[requestID]
	return r, ok
}
