package decision_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
)

// TestDecideUsesEventTime: a request's occurred_at is the time detectors see
// (their velocity windows and links count it) and input.occurred_at, while
// input.now stays the decision's time; one outside the window is refused.
func TestDecideUsesEventTime(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		detected time.Time
		seen     map[string]any
	)
	signals := signalsFunc(func(_ context.Context, _ *decision.Request, now time.Time) []decision.DetectorResult {
		mu.Lock()
		defer mu.Unlock()
		detected = now
		return nil
	})
	eval := evalFunc(func(_ context.Context, in map[string]any) (decision.Verdict, error) {
		mu.Lock()
		defer mu.Unlock()
		seen = in
		return decision.Verdict{Action: decision.Allow, BundleRevision: "r1"}, nil
	})
	e := newEngine(t, signals, eval, openLedger(t))

	past := time.Now().Add(-72 * time.Hour).UTC().Truncate(time.Second)
	req := request("backfill")
	req.OccurredAt = past
	if _, err := e.Decide(context.Background(), req); err != nil {
		t.Fatalf("Decide(occurred_at 72h ago) = %v", err)
	}
	mu.Lock()
	if !detected.Equal(past) {
		t.Errorf("detectors saw time %v, want the event time %v", detected, past)
	}
	if got := seen["occurred_at"]; got != past.Format(time.RFC3339Nano) {
		t.Errorf("input.occurred_at = %v, want %v", got, past.Format(time.RFC3339Nano))
	}
	if now, _ := time.Parse(time.RFC3339Nano, seen["now"].(string)); now.Sub(past) < 71*time.Hour {
		t.Errorf("input.now = %v, want the decision's time, not the event's", seen["now"])
	}
	mu.Unlock()

	// Without occurred_at the event time is now.
	if _, err := e.Decide(context.Background(), request("live")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if seen["occurred_at"] != seen["now"] {
		t.Errorf("without occurred_at: input.occurred_at = %v, now = %v; want equal", seen["occurred_at"], seen["now"])
	}
	mu.Unlock()

	for _, tc := range []struct {
		name string
		at   time.Time
	}{
		{"too-old", time.Now().Add(-31 * 24 * time.Hour)},
		{"future", time.Now().Add(time.Hour)},
	} {
		r := request("bad-time-" + tc.name)
		r.OccurredAt = tc.at
		_, err := e.Decide(context.Background(), r)
		var verr decision.ValidationError
		if !errors.As(err, &verr) || len(verr) != 1 || verr[0].Field != "occurred_at" {
			t.Errorf("Decide(occurred_at %s) = %v, want a ValidationError naming occurred_at", tc.name, err)
		}
	}
}
