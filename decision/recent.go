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
// their remedy, and each detector's name, version and status. A heap
// profile under seven detectors at 1,000 decisions a second had the index
// at 34 MB when every decision kept its own copies.
type recentIndex struct {
	mu    sync.Mutex
	byID  map[string]*kept
	order []string
	next  int

	reasons      sharedTable[[]Reason]
	restrictions sharedTable[[]Restriction]
	remedies     sharedTable[*Remedy]
	detectors    sharedTable[*detectorID]
	key          []byte // add's, reused
}

// RecentRequests is how many committed decisions a process keeps to answer
// retries while the ledger is away (recentIndex): at 1,000 decisions a
// second, the last 16 seconds. Until that many are kept, a process's
// memory is below its steady state.
const RecentRequests = 16384

// kept is what the index holds of a decision: the fields a decision of
// the policy has, in half the bytes of a Record, and the whole record
// (without lists) only for a decision with any other (rare: a fallback's
// cause, a manual action, appeals, effects, supersession).
type kept struct {
	decisionID, subjectID, checkpoint, bundleRevision string
	decidedAt                                         time.Time
	latency, duration                                 time.Duration
	action                                            Action
	strike, fallback                                  bool

	reasons      []Reason      // shared
	restrictions []Restriction // shared
	remedy       *Remedy       // shared
	review       *Review
	detectors    []keptDetector

	rare *Record // without input, signals, detectors or lists; nil for most
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
	v := &rec.Verdict
	k := &kept{decisionID: rec.DecisionID, subjectID: rec.SubjectID, checkpoint: rec.Checkpoint, bundleRevision: v.BundleRevision,
		decidedAt: rec.DecidedAt, latency: rec.Latency, duration: v.Duration, action: v.Action, strike: v.Strike, fallback: rec.Fallback,
		review: v.Review}
	if hasRare(rec) {
		r := *rec
		r.Input, r.Signals, r.Detectors = nil, nil, nil
		r.Verdict.Reasons, r.Verdict.Restrictions, r.Verdict.Suppressed, r.Verdict.Remedy = nil, nil, nil, nil
		k.rare = &r
	}
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
		k.reasons = shared
	}
	if rs := rec.Verdict.Restrictions; len(rs) > 0 {
		x.key = appendRestrictionsKey(x.key[:0], rs)
		shared, ok := x.restrictions.get(x.key)
		if !ok {
			shared = slices.Clone(rs)
			x.restrictions.put(x.key, shared)
		}
		k.restrictions = shared
	}
	if r := v.Remedy; r != nil {
		x.key = appendRemedyKey(x.key[:0], r)
		shared, ok := x.remedies.get(x.key)
		if !ok {
			shared = new(*r)
			x.remedies.put(x.key, shared)
		}
		k.remedy = shared
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

// hasRare says whether a decision has any field kept only in a whole
// record: those a decision of the policy seldom has.
func hasRare(rec *Record) bool {
	return rec.Cause != "" || rec.Source != "" || rec.Manual != nil || rec.Replayed || rec.Overturned ||
		rec.AppealID != "" || rec.AppealStatus != "" || len(rec.Effects) > 0 || rec.OverturnedBy != "" || rec.SupersededID != ""
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
	var rec Record
	if k.rare != nil {
		rec = *k.rare
	}
	rec.DecisionID, rec.RequestID, rec.SubjectID, rec.Checkpoint = k.decisionID, requestID, k.subjectID, k.checkpoint
	rec.DecidedAt, rec.Latency, rec.Fallback = k.decidedAt, k.latency, k.fallback
	rec.Verdict.Action, rec.Verdict.Reasons, rec.Verdict.Restrictions, rec.Verdict.Remedy = k.action, k.reasons, k.restrictions, k.remedy
	rec.Verdict.Duration, rec.Verdict.Strike, rec.Verdict.BundleRevision, rec.Verdict.Review = k.duration, k.strike, k.bundleRevision, k.review
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

// appendRemedyKey appends to b every field of the remedy.
func appendRemedyKey(b []byte, r *Remedy) []byte {
	k := key(b)
	k.str(r.Code)
	k.str(r.Checkpoint)
	k.str(r.Message)
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
