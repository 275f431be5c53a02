package decision

import (
	"slices"
	"strconv"
	"sync"
	"time"
)

// recentIndex remembers the decisions this process committed last, by
// request id, so that a retry arriving while the ledger is unreachable gets
// the decision already made instead of a second one. It keeps what that
// reply (the user view and the statement of reasons) is made of, not the
// input, the signals or any evidence. It is bounded: the oldest are
// forgotten first.
//
// What most decisions have in common is kept once and shared: their lists
// of reasons (the same codes, actions and catalog texts), of restrictions,
// and each detector's name, version and status. A heap profile under seven
// detectors at 1,000 decisions a second had the index at 34 MB when every
// decision kept its own copies.
type recentIndex struct {
	mu    sync.Mutex
	byID  map[string]*kept
	order []string
	next  int

	reasons      sharedTable[[]Reason]
	restrictions sharedTable[[]Restriction]
	detectors    sharedTable[*detectorID]
	key          []byte // add's, reused
}

// RecentRequests is how many committed decisions a process keeps to answer
// retries while the ledger is away (recentIndex): at 1,000 decisions a
// second, the last 16 seconds. Until that many are kept, a process's
// memory is below its steady state.
const RecentRequests = 16384

// kept is what the index holds of a decision.
type kept struct {
	rec       Record // without input, signals, evidence, suppressed reasons or detectors
	detectors []keptDetector
}

// keptDetector is a detector's part of a kept decision: all but its
// latency and its count of signals shared.
type keptDetector struct {
	id      *detectorID
	latency time.Duration
	signals int
}

type detectorID struct {
	name, version, err string
	status             DetectorStatus
}

func newRecentIndex(size int) *recentIndex {
	return &recentIndex{byID: make(map[string]*kept, size), order: make([]string, size)}
}

func (x *recentIndex) add(rec *Record) {
	if rec.DryRun {
		return
	}
	k := &kept{rec: *rec}
	k.rec.Input, k.rec.Signals, k.rec.Detectors = nil, nil, nil
	k.rec.Verdict.Reasons, k.rec.Verdict.Restrictions, k.rec.Verdict.Suppressed = nil, nil, nil
	if len(rec.Detectors) > 0 {
		k.detectors = make([]keptDetector, len(rec.Detectors))
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	// The keys are built in one buffer, kept: a part already shared is
	// found without allocating.
	if rs := rec.Verdict.Reasons; len(rs) > 0 {
		x.key = appendReasonsKey(x.key[:0], rs)
		shared, ok := x.reasons.get(x.key)
		if !ok {
			shared = make([]Reason, len(rs))
			for i, r := range rs {
				r.Evidence = nil
				shared[i] = r
			}
			x.reasons.put(x.key, shared)
		}
		k.rec.Verdict.Reasons = shared
	}
	if rs := rec.Verdict.Restrictions; len(rs) > 0 {
		x.key = appendRestrictionsKey(x.key[:0], rs)
		shared, ok := x.restrictions.get(x.key)
		if !ok {
			shared = slices.Clone(rs)
			x.restrictions.put(x.key, shared)
		}
		k.rec.Verdict.Restrictions = shared
	}
	for i := range rec.Detectors {
		d := &rec.Detectors[i]
		x.key = appendDetectorKey(x.key[:0], d)
		id, ok := x.detectors.get(x.key)
		if !ok {
			id = &detectorID{name: d.Name, version: d.Version, err: d.Error, status: d.Status}
			x.detectors.put(x.key, id)
		}
		k.detectors[i] = keptDetector{id: id, latency: d.Latency, signals: len(d.Signals)}
	}
	if old := x.order[x.next]; old != "" {
		delete(x.byID, old)
	}
	x.order[x.next] = rec.RequestID
	x.byID[rec.RequestID] = k
	x.next = (x.next + 1) % len(x.order)
}

// get returns the kept decision of a request id, a record of its own: its
// detectors' signals are blank, as many as each sent.
func (x *recentIndex) get(requestID string) (*Record, bool) {
	x.mu.Lock()
	k, ok := x.byID[requestID]
	x.mu.Unlock()
	if !ok {
		return nil, false
	}
	rec := k.rec
	if len(k.detectors) > 0 {
		rec.Detectors = make([]DetectorResult, len(k.detectors))
		for i, d := range k.detectors {
			rec.Detectors[i] = DetectorResult{Name: d.id.name, Version: d.id.version, Status: d.id.status,
				Error: d.id.err, Latency: d.latency, Signals: blankSignals(d.signals)}
		}
	}
	return &rec, true
}

// sharedTable holds one copy of each value by key, at most maxShared;
// past that it starts again (values handed out stay valid). Its caller
// holds the index's lock. A lookup by a []byte key allocates nothing.
type sharedTable[T any] struct{ m map[string]T }

// maxShared bounds each table of shared parts.
const maxShared = 1024

func (t *sharedTable[T]) get(key []byte) (T, bool) {
	v, ok := t.m[string(key)]
	return v, ok
}

func (t *sharedTable[T]) put(key []byte, v T) {
	if t.m == nil || len(t.m) >= maxShared {
		t.m = map[string]T{}
	}
	t.m[string(key)] = v
}

// key builds what tells one shared part from another: every field kept,
// strings preceded by their length.
type key []byte

func (k *key) str(s string) {
	*k = strconv.AppendInt(*k, int64(len(s)), 10)
	*k = append(*k, ':')
	*k = append(*k, s...)
}

func (k *key) int(n int64) {
	*k = strconv.AppendInt(*k, n, 10)
	*k = append(*k, ';')
}

func (k *key) bool(b bool) {
	if b {
		*k = append(*k, 'T')
	} else {
		*k = append(*k, 'F')
	}
}

// appendReasonsKey appends to b every field of the reasons but their
// evidence.
func appendReasonsKey(b []byte, reasons []Reason) []byte {
	k := key(b)
	for _, r := range reasons {
		k.str(r.Code)
		k.int(int64(r.Action))
		k.bool(r.Appealable)
		k.str(r.Title)
		k.str(r.Message)
		k.str(r.Explanation)
		k.str(r.Ground)
		k.str(r.DSACategory)
		k.str(r.DSAKeyword)
		k.str(r.Rule)
	}
	return k
}

// appendRestrictionsKey appends to b every field of the restrictions.
func appendRestrictionsKey(b []byte, rs []Restriction) []byte {
	k := key(b)
	for _, r := range rs {
		k.str(r.Capability)
		k.int(int64(r.Duration))
		k.bool(r.Until.IsZero())
		k.int(r.Until.UnixNano())
		k.str(r.Until.Location().String())
		k.str(r.DecisionID)
	}
	return k
}

// appendDetectorKey appends to b every field of a detector's report but
// its latency and signals.
func appendDetectorKey(b []byte, d *DetectorResult) []byte {
	k := key(b)
	k.str(d.Name)
	k.str(d.Version)
	k.str(string(d.Status))
	k.str(d.Error)
	return k
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
