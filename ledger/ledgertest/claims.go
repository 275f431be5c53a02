package ledgertest

import (
	"errors"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
)

func testClaimAppeal(t *testing.T, open Opener) {
	l := open(t)
	rec := Record("s-claim", payout, T0, decision.Restrict, "PAYOUT_ACCOUNT_SHARED")
	rec.Verdict.Strike = true
	rec = commit(t, l, rec)
	a := fileAppeal(t, l, rec.DecisionID, T0.Add(time.Hour))
	claim := func(who string, at time.Time, release bool) (*ledger.Appeal, error) {
		return l.ClaimAppeal(ctxOf(t), ledger.AppealClaim{AppealID: a.AppealID, Reviewer: who, At: at, For: 30 * time.Minute, Release: release})
	}
	t1 := T0.Add(2 * time.Hour)

	got, err := claim("ana", t1, false)
	if err != nil {
		t.Fatalf("ClaimAppeal(ana) = %v", err)
	}
	if got.ClaimedBy != "ana" || !got.ClaimedUntil.Equal(t1.Add(30*time.Minute)) || got.ClaimedAt(t1) != "ana" {
		t.Errorf("ClaimAppeal(ana) = claimed by %q until %v, want ana until %v", got.ClaimedBy, got.ClaimedUntil, t1.Add(30*time.Minute))
	}
	if _, err := claim("bo", t1.Add(time.Minute), false); !errors.Is(err, ledger.ErrClaimed) {
		t.Errorf("ClaimAppeal(bo) while ana's claim is live = %v, want ErrClaimed", err)
	}
	// The same reviewer extends the claim.
	if got, err := claim("ana", t1.Add(10*time.Minute), false); err != nil || !got.ClaimedUntil.Equal(t1.Add(40*time.Minute)) {
		t.Errorf("ClaimAppeal(ana again) = %v, %v; want the claim extended to %v", got, err, t1.Add(40*time.Minute))
	}
	// Once the claim lapses, another reviewer may take it.
	if got, err := claim("bo", t1.Add(41*time.Minute), false); err != nil || got.ClaimedBy != "bo" {
		t.Errorf("ClaimAppeal(bo) after ana's claim lapsed = %v, %v; want bo's claim", got, err)
	}
	// Releasing someone else's claim changes nothing; one's own drops it.
	if got, err := claim("ana", t1.Add(42*time.Minute), true); err != nil || got.ClaimedBy != "bo" {
		t.Errorf("release by ana = %v, %v; want bo's claim kept", got, err)
	}
	if got, err := claim("bo", t1.Add(42*time.Minute), true); err != nil || got.ClaimedBy != "" {
		t.Errorf("release by bo = %v, %v; want no claim", got, err)
	}
	if _, err := l.ResolveAppeal(ctxOf(t), ledger.AppealResolution{AppealID: a.AppealID, Outcome: ledger.AppealUpheld, Reviewer: "bo", At: t1.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := claim("ana", t1.Add(2*time.Hour), false); !errors.Is(err, ledger.ErrAlreadyResolved) {
		t.Errorf("ClaimAppeal(resolved appeal) = %v, want ErrAlreadyResolved", err)
	}
	if _, err := l.ClaimAppeal(ctxOf(t), ledger.AppealClaim{AppealID: "no-such-appeal", Reviewer: "ana", At: t1, For: time.Minute}); !errors.Is(err, decision.ErrNotFound) {
		t.Errorf("ClaimAppeal(unknown) = %v, want decision.ErrNotFound", err)
	}
}
