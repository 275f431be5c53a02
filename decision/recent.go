package decision

import (
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
	reasons, restrictions := reasonsKey(rec.Verdict.Reasons), restrictionsKey(rec.Verdict.Restrictions)
	detectors := make([]string, len(rec.Detectors))
	for i := range rec.Detectors {
		detectors[i] = detectorKey(&rec.Detectors[i])
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(rec.Verdict.Reasons) > 0 {
		k.rec.Verdict.Reasons = x.reasons.get(reasons, func() []Reason {
			out := make([]Reason, len(rec.Verdict.Reasons))
			for i, r := range rec.Verdict.Reasons {
				r.Evidence = nil
				out[i] = r
			}
			return out
		})
	}
	if len(rec.Verdict.Restrictions) > 0 {
		k.rec.Verdict.Restrictions = x.restrictions.get(restrictions, func() []Restriction {
			return append([]Restriction(nil), rec.Verdict.Restrictions...)
		})
	}
	if len(rec.Detectors) > 0 {
		k.detectors = make([]keptDetector, len(rec.Detectors))
		for i := range rec.Detectors {
			d := &rec.Detectors[i]
			k.detectors[i] = keptDetector{latency: d.Latency, signals: len(d.Signals),
				id: x.detectors.get(detectors[i], func() *detectorID {
					return &detectorID{name: d.Name, version: d.Version, err: d.Error, status: d.Status}
				})}
		}
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
// holds the index's lock.
type sharedTable[T any] struct{ m map[string]T }

// maxShared bounds each table of shared parts.
const maxShared = 1024

func (t *sharedTable[T]) get(key string, make func() T) T {
	if v, ok := t.m[key]; ok {
		return v
	}
	if t.m == nil || len(t.m) >= maxShared {
		t.m = map[string]T{}
	}
	v := make()
	t.m[key] = v
	return v
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

// reasonsKey: every field of the reasons but their evidence.
func reasonsKey(reasons []Reason) string {
	var k key
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
	return string(k)
}

// restrictionsKey: every field of the restrictions.
func restrictionsKey(rs []Restriction) string {
	var k key
	for _, r := range rs {
		k.str(r.Capability)
		k.int(int64(r.Duration))
		k.bool(r.Until.IsZero())
		k.int(r.Until.UnixNano())
		k.str(r.Until.Location().String())
		k.str(r.DecisionID)
	}
	return string(k)
}

// detectorKey: every field of a detector's report but its latency and
// signals.
func detectorKey(d *DetectorResult) string {
	var k key
	k.str(d.Name)
	k.str(d.Version)
	k.str(string(d.Status))
	k.str(d.Error)
	return string(k)
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
