package replay_test

import (
	"context"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/internal/replay"
	"github.com/gavel/gavel/ledger"
)

// TestReplayRespectsClearing: a decision whose rule an earlier overturn
// cleared was an allow; replayed under the same policy it stays an allow,
// because the stored input carries the clearance. And a reviewer's manual
// action is skipped and counted, not re-evaluated.
func TestReplayRespectsClearing(t *testing.T) {
	l := openLedger(t)
	active := engine(t, writeBundle(t, "active-1", ""))
	clock := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	eng, err := decision.New(decision.Config{
		Checkpoints: checkpoints, FailureAction: decision.Challenge, PolicyTimeout: 5 * time.Second,
		Now: func() time.Time { clock = clock.Add(time.Second); return clock },
	}, nil, active, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	eng.SetCatalog(active)
	ctx := context.Background()
	decide := func(id string) *decision.Record {
		t.Helper()
		rec, err := eng.Decide(ctx, &decision.Request{
			RequestID: id, Checkpoint: "payout_method_change",
			Subject: decision.Subject{ID: "acct-cleared", Kind: "freelancer",
				Profile: decision.Profile{GivenName: "Amelia", FamilyName: "Laurent", Country: "FR", Email: "amelia@example.org"}},
			Context: decision.Context{IP: "192.0.2.10", DeviceID: "dev-1"},
			Signals: []decision.Signal{{Name: "model.fraud_score", Score: 0.95, Confidence: 1, Source: "model"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	first := decide("r-1")
	if first.Verdict.Action != decision.Restrict {
		t.Fatalf("first = %v, want restrict", first.Verdict.Action)
	}
	a, err := l.FileAppeal(ctx, ledger.AppealFiling{DecisionID: first.DecisionID, Statement: "it is me", At: clock, Window: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.ResolveAppeal(ctx, ledger.AppealResolution{AppealID: a.AppealID, Outcome: ledger.AppealOverturned, Reviewer: "k.ito", At: clock}); err != nil {
		t.Fatal(err)
	}
	second := decide("r-2")
	if second.Verdict.Action != decision.Allow || len(second.Verdict.Suppressed) != 1 {
		t.Fatalf("second = %v suppressed %v, want allow with MODEL_RISK suppressed", second.Verdict.Action, second.Verdict.Suppressed)
	}
	if _, err := eng.Enforce(ctx, decision.ManualAction{SubjectID: "acct-cleared", Kind: decision.ManualSuspend,
		ReasonCode: "IDENTITY_FRAUD", Note: "forged", Reviewer: "k.ito"}); err != nil {
		t.Fatalf("Enforce = %v", err)
	}

	rep, err := replay.Run(t.Context(), l, engine(t, writeBundle(t, "same-policy", "")), replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Selected != 3 || rep.Replayed != 2 || rep.Skipped.Manual != 1 {
		t.Errorf("Run = %d selected, %d replayed, %d manual skipped; want 3, 2, 1", rep.Selected, rep.Replayed, rep.Skipped.Manual)
	}
	if rep.Count(decision.Allow, decision.Allow) != 1 || rep.Count(decision.Restrict, decision.Restrict) != 1 || rep.Changed != 0 {
		t.Errorf("Run matrix %+v changed %d; want allow → allow and restrict → restrict, nothing changed", rep.Matrix, rep.Changed)
	}
}
