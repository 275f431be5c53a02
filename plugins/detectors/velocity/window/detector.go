// Package window is gavel's velocity detector: it counts signups, payout
// method changes and logins per IP, device, email domain and account over
// sliding windows, and scores the counts against configured thresholds. The
// windows are kept in an embedded SQLite store (Store, the default) or in
// Redis (RedisStore), which several gavel replicas share; the detector is the
// same over both. The main package beside it serves it over the detector
// protocol.
package window

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gavel/gavel/plugins/sdk"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// Counter is what the detector needs of a store: Store (SQLite) and
// RedisStore implement it.
type Counter interface {
	// Observe records one event per query at time at (unless record is
	// false, as for a dry run) and returns each query's count: the events
	// recorded under its key since at-Window, the current one included
	// either way, atomically. Events are counted in the order they are
	// recorded, not by their times: concurrent calls carry times taken a
	// little apart, in any order, and the n-th event recorded under a key in
	// its window sees n, exactly once, on one store handle or many. A count
	// may stop at its query's Limit.
	Observe(ctx context.Context, at time.Time, record bool, qs []Query) ([]int, error)
}

// pruner is a Counter that must be told to delete old events; Redis expires
// them itself.
type pruner interface {
	Prune(ctx context.Context, before time.Time) (int64, error)
}

var (
	_ Counter = (*Store)(nil)
	_ pruner  = (*Store)(nil)
	_ Counter = (*RedisStore)(nil)
)

// Detector is the velocity detector. It is safe for concurrent use.
type Detector struct {
	store Counter
	cfg   Config
	calls atomic.Int64 // recorded calls, for pruning
}

// NewDetector returns a detector counting in store.
func NewDetector(store Counter, cfg Config) *Detector {
	return &Detector{store: store, cfg: cfg}
}

// Describe implements sdk.Detector.
func (d *Detector) Describe(context.Context) (*detectorv1.DescribeResponse, error) {
	resp := &detectorv1.DescribeResponse{
		Name:          "velocity",
		Version:       "1.0.0",
		LatencyBudget: durationpb.New(20 * time.Millisecond),
	}
	seen := map[string]bool{}
	for _, r := range d.cfg.Rules {
		resp.Signals = append(resp.Signals, r.Signal)
		if !seen[r.Checkpoint] {
			seen[r.Checkpoint] = true
			resp.Checkpoints = append(resp.Checkpoints, r.Checkpoint)
		}
	}
	return resp, nil
}

// Detect implements sdk.Detector. It counts the request at its now (the
// host always sends it; the clock otherwise) unless it is a dry run, and
// emits one signal per rule of the checkpoint whose key the request carries.
// The count is recorded even when ctx ends first (sdk.Record).
func (d *Detector) Detect(ctx context.Context, req *detectorv1.DetectRequest) (*detectorv1.DetectResponse, error) {
	var rules []Rule
	var qs []Query
	for _, r := range d.cfg.Rules {
		if r.Checkpoint != req.GetCheckpoint() {
			continue
		}
		key, ok := d.key(r.KeyKind, req)
		if !ok {
			continue
		}
		q := Query{Key: r.Name + "\x00" + key, Window: r.Window, Distinct: r.Distinct, Limit: d.cfg.CountLimit}
		if r.Distinct {
			if q.Member = req.GetSubject().GetId(); q.Member == "" {
				continue
			}
		}
		rules, qs = append(rules, r), append(qs, q)
	}
	if len(qs) == 0 {
		return &detectorv1.DetectResponse{}, nil
	}
	at := time.Now()
	if req.GetNow().IsValid() && req.GetNow().AsTime().Unix() > 0 {
		at = req.GetNow().AsTime()
	}
	record := !req.GetDryRun()
	var counts []int
	var err error
	if record {
		// The event is recorded even when the answer comes too late for the
		// host: the next decision counts it.
		counts, err = sdk.Record(ctx, sdk.RecordTimeout, func(ctx context.Context) ([]int, error) {
			counts, err := d.store.Observe(ctx, at, true, qs)
			if p, ok := d.store.(pruner); ok && err == nil && d.calls.Add(1)%int64(d.cfg.PruneEvery) == 0 {
				if _, err := p.Prune(ctx, at.Add(-d.cfg.MaxWindow())); err != nil {
					sdk.Logger().Warn("velocity: prune failed", "error", err)
				}
			}
			return counts, err
		})
	} else {
		counts, err = d.store.Observe(ctx, at, false, qs)
	}
	if err != nil {
		return nil, err
	}
	resp := &detectorv1.DetectResponse{Signals: make([]*detectorv1.Signal, len(rules))}
	for i, r := range rules {
		n, value := counts[i], strconv.Itoa(counts[i])
		evidence := map[string]any{
			"count":     n,
			"window":    r.Window.String(),
			"threshold": r.Threshold,
			"key_kind":  r.KeyKind,
		}
		if limit := d.cfg.CountLimit; limit > 0 && n >= limit {
			// At least the limit: the count stopped reading there.
			n, value = limit, strconv.Itoa(limit)+"+"
			evidence["count"], evidence["count_capped"] = n, true
		}
		resp.Signals[i] = sdk.NewSignal(r.Signal, Score(n, r.Threshold), value, evidence, 1)
	}
	return resp, nil
}

// Score maps a count to 0..1: one event scores 0, threshold events score 1,
// linearly in between.
func Score(count, threshold int) float64 {
	if count <= 1 {
		return 0
	}
	if threshold < 2 || count >= threshold {
		return 1
	}
	return float64(count-1) / float64(threshold-1)
}

// key returns the request's key of kind, normalised, or false if it has none.
func (d *Detector) key(kind string, req *detectorv1.DetectRequest) (string, bool) {
	var k string
	switch kind {
	case KindIP:
		k = strings.TrimSpace(req.GetContext().GetIp())
		if a, err := netip.ParseAddr(k); err == nil {
			if a = a.Unmap(); a.Is6() {
				p, _ := a.Prefix(64) // one subscriber usually holds a whole /64
				return p.String(), true
			}
			return a.String(), true
		}
	case KindDevice:
		k = strings.TrimSpace(req.GetContext().GetDeviceId())
	case KindSubject:
		k = strings.TrimSpace(req.GetSubject().GetId())
	case KindEmailDomain:
		email := strings.TrimSpace(req.GetSubject().GetProfile().GetEmail())
		i := strings.LastIndexByte(email, '@')
		if i < 0 {
			return "", false
		}
		k = strings.TrimSuffix(strings.ToLower(email[i+1:]), ".")
		if !strings.Contains(k, ".") || d.cfg.IgnoreEmailDomains[k] {
			return "", false
		}
	}
	return k, k != ""
}
