package tests

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
)

// TestLadder plays one account's history through the decision engine on the
// repo's policies and a real SQLite ledger, with the clock injected: a
// first offence restricts, passing the remedy lifts the holds, repeats
// climb the ladder to a suspension, an overturned appeal takes its strike
// back, and strikes expire.
func TestLadder(t *testing.T) {
	clock := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	l := sqliteLedger(t)
	engine, err := decision.New(decision.Config{
		Checkpoints: checkpoints, FailureAction: decision.Challenge,
		PolicyTimeout: 5 * time.Second, SignalTimeout: time.Second,
		Now: func() time.Time { return clock },
	}, nil, policyEngine(t), l, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const subject = "acct-ladder"
	step := 0
	decide := func(checkpoint string, attrs map[string]any, signals ...decision.Signal) *decision.Record {
		t.Helper()
		step++
		rec, err := engine.Decide(ctx, &decision.Request{
			RequestID:  fmt.Sprintf("ladder-%d", step),
			Checkpoint: checkpoint,
			Subject: decision.Subject{ID: subject, CreatedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
				Profile: decision.Profile{GivenName: "Sam", FamilyName: "Doe", Country: "GB", Email: "sam.doe@example.co.uk"}},
			Context:    decision.Context{IP: "192.0.2.40", DeviceID: "dev-ladder"},
			Attributes: attrs,
			Signals:    signals,
		})
		if err != nil {
			t.Fatalf("step %d: Decide(%s) error = %v", step, checkpoint, err)
		}
		if rec.Fallback {
			t.Fatalf("step %d: Decide(%s) fell back: %s", step, checkpoint, rec.Cause)
		}
		return rec
	}
	codesOf := func(rec *decision.Record) []string {
		var out []string
		for _, r := range rec.Verdict.Reasons {
			out = append(out, r.Code)
		}
		return out
	}
	expect := func(rec *decision.Record, action decision.Action, code string) {
		t.Helper()
		if rec.Verdict.Action != action || (code != "" && !slices.Contains(codesOf(rec), code)) {
			t.Fatalf("step %d: Decide(%s) = %v %v, want %v with %s", step, rec.Checkpoint, rec.Verdict.Action, codesOf(rec), action, code)
		}
	}
	history := func() decision.History {
		t.Helper()
		h, err := l.History(ctx, subject, clock)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	sharedPayout := decision.Signal{Name: "linkage.shared_payout_account", Score: 1, Value: "4", Confidence: 1}
	disposable := decision.Signal{Name: "email.disposable", Score: 1, Value: "mailinator.com", Confidence: 1}

	// 1. A first offence: a payout account shared with four others.
	first := decide("withdrawal", nil, sharedPayout)
	expect(first, decision.Restrict, "PAYOUT_ACCOUNT_SHARED")
	if h := history(); h.Strikes != 1 || len(h.Holds) == 0 {
		t.Fatalf("after the first offence history = %d strikes, %d holds; want 1 strike and holds", h.Strikes, len(h.Holds))
	}
	if first.Verdict.Remedy == nil || first.Verdict.Remedy.Checkpoint != "identity_verification" {
		t.Fatalf("first offence remedy = %+v, want one at identity_verification", first.Verdict.Remedy)
	}

	// 2. The remedy passes: identity verification with a matching document lifts the holds.
	clock = clock.Add(time.Hour)
	doc := map[string]any{"document": map[string]any{
		"number": "P1234567", "country": "GB", "given_name": "Sam", "family_name": "Doe",
		"expires": "2031-01-01", "vendor_verdict": "approved"}}
	expect(decide("identity_verification", doc), decision.Allow, "")
	if h := history(); len(h.Holds) != 0 || h.Strikes != 1 {
		t.Fatalf("after the remedy history = %d holds, %d strikes; want no holds and the strike kept", len(h.Holds), h.Strikes)
	}

	// 3. A second offence that alone would challenge is escalated by the prior strike.
	clock = clock.Add(time.Hour)
	second := decide("profile_update", nil, disposable)
	expect(second, decision.Restrict, "REPEAT_VIOLATION")
	if h := history(); h.Strikes != 2 {
		t.Fatalf("after the second offence strikes = %d, want 2", h.Strikes)
	}

	// 4. A third restricting offence with two prior strikes suspends.
	clock = clock.Add(time.Hour)
	third := decide("withdrawal", nil, sharedPayout)
	expect(third, decision.Suspend, "REPEAT_VIOLATION")
	if h := history(); !h.Suspended {
		t.Fatal("after the third offence the account is not suspended")
	}

	// 5. While suspended, any checkpoint re-asserts the suspension.
	clock = clock.Add(time.Hour)
	expect(decide("login", nil), decision.Suspend, "ACCOUNT_SUSPENDED")

	// 6. A reviewer overturns the suspension: it is lifted and its strike no longer counts.
	clock = clock.Add(time.Hour)
	appeal, err := l.FileAppeal(ctx, ledger.AppealFiling{DecisionID: third.DecisionID, Statement: "The payout account is my agency's shared account.", At: clock, Window: 180 * 24 * time.Hour})
	if err != nil {
		t.Fatalf("FileAppeal(third) error = %v", err)
	}
	if _, err := l.ResolveAppeal(ctx, ledger.AppealResolution{AppealID: appeal.AppealID, Outcome: ledger.AppealOverturned, Reviewer: "k.ito", At: clock}); err != nil {
		t.Fatalf("ResolveAppeal(overturned) error = %v", err)
	}
	if h := history(); h.Suspended || h.Strikes != 2 || h.Overturned != 1 {
		t.Fatalf("after the overturn history = suspended %v, %d strikes, %d overturned; want not suspended, 2, 1", h.Suspended, h.Strikes, h.Overturned)
	}
	expect(decide("login", nil), decision.Allow, "")

	// 7. Ninety-one days later every strike has expired: an offence is a first offence again.
	clock = clock.Add(91 * 24 * time.Hour)
	if h := history(); h.Strikes != 0 {
		t.Fatalf("after 91 days strikes = %d, want 0 (expired)", h.Strikes)
	}
	later := decide("profile_update", nil, disposable)
	expect(later, decision.Challenge, "EMAIL_DISPOSABLE")
	if slices.Contains(codesOf(later), "REPEAT_VIOLATION") {
		t.Errorf("after the strikes expired Decide = %v, want no REPEAT_VIOLATION", codesOf(later))
	}
}
