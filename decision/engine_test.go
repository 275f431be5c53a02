package decision_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
)

// evalFunc is a policy stand-in: these tests cover the engine's wiring (the
// real policies are tested in Rego and end to end).
type evalFunc func(ctx context.Context, input map[string]any) (decision.Verdict, error)

func (f evalFunc) Evaluate(ctx context.Context, input map[string]any) (decision.Verdict, error) {
	return f(ctx, input)
}

// signalsFunc is a detector fan-out stand-in.
type signalsFunc func(ctx context.Context, req *decision.Request, now time.Time) []decision.DetectorResult

func (f signalsFunc) Collect(ctx context.Context, req *decision.Request, now time.Time) []decision.DetectorResult {
	return f(ctx, req, now)
}

func openLedger(t *testing.T) *ledger.Ledger {
	t.Helper()
	cfg := ledger.DefaultConfig()
	cfg.Driver, cfg.Path = ledger.SQLite, filepath.Join(t.TempDir(), "ledger.db")
	l, err := ledger.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// newEngine is an engine on a real ledger. Its history and ledger budgets
// are far beyond any machine's slowness: these tests check what is decided
// and recorded, not how fast (a budget of 200 ms made concurrent history
// reads on a busy 2-core machine under -race fall back as "ledger
// unavailable"). The policy budget stays short: the fallback test waits it
// out.
func newEngine(t *testing.T, signals decision.SignalSource, eval decision.Evaluator, l decision.Ledger) *decision.Engine {
	t.Helper()
	e, err := decision.New(decision.Config{
		Checkpoints:   []string{"signup", "withdrawal"},
		FailureAction: decision.Challenge,
		PolicyTimeout: 200 * time.Millisecond,
		SignalTimeout: time.Minute,
		LedgerTimeout: time.Minute,
	}, signals, eval, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func request(id string) *decision.Request {
	return &decision.Request{RequestID: id, Checkpoint: "signup", Subject: decision.Subject{ID: "acct-" + id}}
}

func restrictVerdict(context.Context, map[string]any) (decision.Verdict, error) {
	return decision.Verdict{
		Action:       decision.Restrict,
		Restrictions: []decision.Restriction{{Capability: "payouts", Duration: time.Hour}},
		Reasons:      []decision.Reason{{Code: "PAYOUT_ACCOUNT_SHARED", Action: decision.Restrict, Appealable: true}},
		Strike:       true, BundleRevision: "r1",
	}, nil
}

func TestDecideFallsBackWhenThePolicyCannotDecide(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		eval evalFunc
	}{
		{"error", func(context.Context, map[string]any) (decision.Verdict, error) {
			return decision.Verdict{BundleRevision: "r9"}, errors.New("undefined decision")
		}},
		{"deadline", func(ctx context.Context, _ map[string]any) (decision.Verdict, error) {
			<-ctx.Done()
			return decision.Verdict{}, ctx.Err()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, nil, tt.eval, openLedger(t))
			rec, err := e.Decide(context.Background(), request("fallback-"+tt.name))
			if err != nil {
				t.Fatalf("Decide() error = %v, want a fallback decision", err)
			}
			if !rec.Fallback || rec.Verdict.Action != decision.Challenge {
				t.Errorf("Decide() = action %v fallback %v, want the failure action challenge, marked", rec.Verdict.Action, rec.Fallback)
			}
			if len(rec.Verdict.Reasons) != 1 || rec.Verdict.Reasons[0].Code != decision.ReasonPolicyUnavailable {
				t.Errorf("Decide() reasons = %v, want %s", rec.Verdict.Reasons, decision.ReasonPolicyUnavailable)
			}
			if rec.Verdict.Strike || rec.Verdict.Appealable() {
				t.Errorf("fallback verdict strikes or is appealable: %+v", rec.Verdict)
			}
			stored, err := e.Get(context.Background(), rec.DecisionID)
			if err != nil || !stored.Fallback {
				t.Errorf("Get(fallback decision) = %+v, %v, want it stored and marked", stored, err)
			}
		})
	}
}

func TestDecideBuildsTheInputDocument(t *testing.T) {
	t.Parallel()
	var seen map[string]any
	eval := evalFunc(func(_ context.Context, in map[string]any) (decision.Verdict, error) {
		seen = in
		return decision.Verdict{Action: decision.Allow, BundleRevision: "r1"}, nil
	})
	signals := signalsFunc(func(_ context.Context, req *decision.Request, _ time.Time) []decision.DetectorResult {
		return []decision.DetectorResult{
			{Name: "email", Status: decision.StatusOK, Signals: []decision.Signal{{Name: "email.disposable", Score: 1, Value: "mailinator.com", Source: "email"}}},
			{Name: "velocity", Status: decision.StatusTimeout},
		}
	})
	e := newEngine(t, signals, eval, openLedger(t))
	req := request("input-1")
	req.Signals = []decision.Signal{{Name: "geo.hosting_asn", Score: 1}, {Name: "email.disposable", Score: 0.2}}
	if _, err := e.Decide(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	sig := seen["signals"].(map[string]any)
	if got := sig["email.disposable"].(map[string]any)["score"]; got != 1.0 {
		t.Errorf("input.signals[email.disposable].score = %v, want the strongest observation 1", got)
	}
	if got := sig["geo.hosting_asn"].(map[string]any)["source"]; got != decision.SourceCaller {
		t.Errorf("input.signals[geo.hosting_asn].source = %v, want caller", got)
	}
	if got := seen["detectors"].(map[string]any)["velocity"].(map[string]any)["status"]; got != "timeout" {
		t.Errorf("input.detectors.velocity.status = %v, want timeout", got)
	}
	if got := seen["history"].(map[string]any)["strikes"].(map[string]any)["count"]; got != 0.0 {
		t.Errorf("input.history.strikes.count = %v, want 0 for a new subject", got)
	}
}

func TestDecideIsIdempotentUnderConcurrentRetries(t *testing.T) {
	t.Parallel()
	var evaluations atomic.Int32
	eval := evalFunc(func(ctx context.Context, in map[string]any) (decision.Verdict, error) {
		evaluations.Add(1)
		return restrictVerdict(ctx, in)
	})
	l := openLedger(t)
	e := newEngine(t, nil, eval, l)
	const n = 16
	ids := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{}) // every retry starts together
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			rec, err := e.Decide(context.Background(), request("same"))
			if err != nil {
				t.Errorf("Decide(retry %d) error = %v", i, err)
				return
			}
			ids[i] = rec.DecisionID
		}()
	}
	close(start)
	wg.Wait()
	for i := range ids {
		if ids[i] != ids[0] {
			t.Fatalf("concurrent retries got decision ids %v, want one", ids)
		}
	}
	h, err := l.History(context.Background(), "acct-same", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if h.Strikes != 1 || len(h.Holds) != 1 {
		t.Errorf("History after %d retries = %d strikes, %d holds; want 1 and 1", n, h.Strikes, len(h.Holds))
	}
	if _, err := e.Decide(context.Background(), &decision.Request{RequestID: "same", Checkpoint: "signup", Subject: decision.Subject{ID: "someone-else"}}); !errors.Is(err, decision.ErrConflict) {
		t.Errorf("Decide(reused id, other subject) error = %v, want ErrConflict", err)
	}
}

func TestDecideRejectsInvalidRequestsWithoutRecording(t *testing.T) {
	t.Parallel()
	l := openLedger(t)
	e := newEngine(t, nil, evalFunc(restrictVerdict), l)
	_, err := e.Decide(context.Background(), &decision.Request{RequestID: "bad-1", Checkpoint: "teleport"})
	var verr decision.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Decide(invalid) error = %v, want ValidationError", err)
	}
	if _, err := l.ByRequestID(context.Background(), "bad-1"); !errors.Is(err, decision.ErrNotFound) {
		t.Errorf("ByRequestID(bad-1) = %v, want nothing recorded", err)
	}
}

type shadowSink struct {
	mu  sync.Mutex
	got map[string]decision.ShadowVerdict
}

func (s *shadowSink) RecordShadow(_ context.Context, id string, sv decision.ShadowVerdict) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got[id] = sv
	return nil
}

func TestShadowNeverEnforces(t *testing.T) {
	t.Parallel()
	allow := evalFunc(func(context.Context, map[string]any) (decision.Verdict, error) {
		return decision.Verdict{Action: decision.Allow, BundleRevision: "live"}, nil
	})
	suspend := evalFunc(func(context.Context, map[string]any) (decision.Verdict, error) {
		return decision.Verdict{Action: decision.Suspend, BundleRevision: "candidate"}, nil
	})
	e := newEngine(t, nil, allow, openLedger(t))
	sink := &shadowSink{got: map[string]decision.ShadowVerdict{}}
	e.SetShadow(suspend, sink)
	var ids []string
	for i := range 5 {
		rec, err := e.Decide(context.Background(), request(fmt.Sprintf("shadow-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if rec.Verdict.Action != decision.Allow {
			t.Fatalf("Decide() with a suspending shadow = %v, want the live allow", rec.Verdict.Action)
		}
		ids = append(ids, rec.DecisionID)
	}
	e.Close() // drains the shadow queue
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for _, id := range ids {
		if sv, ok := sink.got[id]; !ok || sv.Verdict.Action != decision.Suspend {
			t.Errorf("shadow verdict for %s = %+v, %v; want suspend recorded", id, sv, ok)
		}
	}
}
