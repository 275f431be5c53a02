package decision_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gavel/gavel/decision"
)

type listsFunc func(ctx context.Context, req *decision.Request, now time.Time) []decision.ListMatch

func (f listsFunc) Match(ctx context.Context, req *decision.Request, now time.Time) []decision.ListMatch {
	return f(ctx, req, now)
}

func TestListMatchesReachThePolicyAndTheRecord(t *testing.T) {
	t.Parallel()
	var seen any
	eval := func(ctx context.Context, in map[string]any) (decision.Verdict, error) {
		seen = in["lists"]
		return decision.Verdict{Action: decision.Allow, BundleRevision: "r1"}, nil
	}
	e := newEngine(t, nil, evalFunc(eval), openLedger(t))
	e.SetLists(listsFunc(func(_ context.Context, req *decision.Request, _ time.Time) []decision.ListMatch {
		if req.Context.IP != "203.0.113.9" {
			return nil
		}
		return []decision.ListMatch{{List: "abuse", Kind: "ip", Purpose: "block", Field: "context.ip",
			Action: "suspend", Entry: "203.0.113.0/24", Note: "desk"}}
	}))
	req := request("l-1")
	req.Context.IP = "203.0.113.9"
	rec, err := e.Decide(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{map[string]any{"list": "abuse", "kind": "ip", "purpose": "block", "field": "context.ip",
		"action": "suspend", "exempts": []any{}, "entry": "203.0.113.0/24", "note": "desk"}}
	if d := cmp.Diff(want, seen); d != "" {
		t.Errorf("input.lists (-want +got):\n%s", d)
	}
	stored, err := e.Get(t.Context(), rec.DecisionID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, stored.Input["lists"]); d != "" {
		t.Errorf("stored input.lists (-want +got):\n%s", d)
	}

	// No match: input.lists is an empty array, never absent.
	if _, err := e.Decide(t.Context(), request("l-2")); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]any{}, seen); d != "" {
		t.Errorf("input.lists without a match (-want +got):\n%s", d)
	}
}
