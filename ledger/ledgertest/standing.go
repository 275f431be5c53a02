package ledgertest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
)

// The standing suite: what became of each effect, rules cleared by
// overturns, manual actions and their reversal, per-subject serialisation,
// and superseded fallbacks.

func effectsOf(t *testing.T, l *ledger.Ledger, id string) map[string]decision.Effect {
	t.Helper()
	rec, err := l.Get(ctxOf(t), id)
	if err != nil {
		t.Fatalf("Get(%s) = %v", id, err)
	}
	out := map[string]decision.Effect{}
	for _, e := range rec.Effects {
		out[e.Kind+":"+e.Capability] = e
	}
	return out
}

func testEffects(t *testing.T, open Opener) {
	l := open(t)
	const s = "s-effects"
	now := time.Now()
	rec := Record(s, payout, now.Add(-time.Hour), decision.Restrict, "MODEL_RISK")
	rec.Verdict.Restrictions = []decision.Restriction{
		{Capability: "payouts", Duration: 720 * time.Hour},
		{Capability: "withdrawals", Duration: time.Minute}, // expired by now
	}
	rec.Verdict.Remedy = &decision.Remedy{Code: "verify_identity", Checkpoint: "identity_verification"}
	rec.Verdict.Strike = true
	commit(t, l, rec)

	got := effectsOf(t, l, rec.DecisionID)
	if e := got["hold:payouts"]; e.State != decision.StateInForce {
		t.Errorf("payouts hold = %+v, want in force", e)
	}
	if e := got["hold:withdrawals"]; e.State != decision.StateExpired || !e.StateAt.Equal(e.Until) {
		t.Errorf("withdrawals hold = %+v, want expired at its until", e)
	}
	if e := got["strike:"]; e.State != decision.StateInForce {
		t.Errorf("strike = %+v, want in force", e)
	}

	// A passing decision at the remedy checkpoint remedies the hold in force.
	pass := Record(s, "identity_verification", now.Add(-time.Minute), decision.Allow)
	commit(t, l, pass)
	if e := effectsOf(t, l, rec.DecisionID)["hold:payouts"]; e.State != decision.StateRemedied || e.By != pass.DecisionID {
		t.Errorf("payouts hold after the remedy = %+v, want remedied by %s", e, pass.DecisionID)
	}

	st, err := l.Standing(ctxOf(t), s, now)
	if err != nil {
		t.Fatalf("Standing(%s) = %v", s, err)
	}
	if len(st.Holds) != 0 || st.Suspension != nil || len(st.Strikes) != 1 || st.Strikes[0].DecisionID != rec.DecisionID || len(st.Recent) != 2 {
		t.Errorf("Standing = %+v, want no hold, no suspension, the one strike, two recent decisions", st)
	}
	if _, err := l.Standing(ctxOf(t), "s-nobody", now); !errors.Is(err, decision.ErrNotFound) {
		t.Errorf("Standing(unknown subject) = %v, want ErrNotFound", err)
	}
}

func testOverturnClearsRules(t *testing.T, open Opener) {
	l := open(t)
	const s = "s-clear"
	now := time.Now()
	rec := Record(s, payout, now.Add(-time.Hour), decision.Restrict, "MODEL_RISK", "DEVICE_SHARED")
	rec.Verdict.Reasons[1].Evidence = []map[string]any{{"signal": "linkage.shared_device", "value": "3", "accounts": 3.0}}
	rec.Verdict.Restrictions = []decision.Restriction{{Capability: "payouts", Duration: 720 * time.Hour}}
	rec.Verdict.Strike = true
	commit(t, l, rec)

	a := fileAppeal(t, l, rec.DecisionID, now.Add(-50*time.Minute))
	at := now.Add(-30 * time.Minute)
	if _, err := l.ResolveAppeal(ctxOf(t), ledger.AppealResolution{
		AppealID: a.AppealID, Outcome: ledger.AppealOverturned, Reviewer: "r.okafor", At: at, ClearFor: 24 * time.Hour,
	}); err != nil {
		t.Fatalf("ResolveAppeal = %v", err)
	}
	h := history(t, l, s, now)
	want := []decision.Cleared{
		{Code: "MODEL_RISK", Rule: "data.gavel.enforcement.model_risk", Evidence: []map[string]any{{"signal": "email_risk", "score": 0.93}},
			Until: at.Add(24 * time.Hour).UTC().Truncate(time.Microsecond), AppealID: a.AppealID, DecisionID: rec.DecisionID},
		{Code: "DEVICE_SHARED", Rule: "data.gavel.enforcement.device_shared", Evidence: []map[string]any{{"signal": "linkage.shared_device", "value": "3", "accounts": 3.0}},
			Until: at.Add(24 * time.Hour).UTC().Truncate(time.Microsecond), AppealID: a.AppealID, DecisionID: rec.DecisionID},
	}
	slices.SortFunc(h.Cleared, func(x, y decision.Cleared) int { return -cmpString(x.Code, y.Code) })
	if diff := cmp.Diff(want, h.Cleared); diff != "" {
		t.Errorf("History.Cleared (-want +got):\n%s", diff)
	}
	if len(h.Holds) != 0 || h.Strikes != 0 {
		t.Errorf("History after the overturn = %+v, want no hold and no strike", h)
	}
	if later := history(t, l, s, at.Add(25*time.Hour)); len(later.Cleared) != 0 {
		t.Errorf("History.Cleared after ClearFor = %+v, want none", later.Cleared)
	}
	got := effectsOf(t, l, rec.DecisionID)
	if e := got["hold:payouts"]; e.State != decision.StateOverturned || e.By != a.AppealID {
		t.Errorf("hold after the overturn = %+v, want overturned by %s", e, a.AppealID)
	}
	if e := got["strike:"]; e.State != decision.StateOverturned || e.By != a.AppealID {
		t.Errorf("strike after the overturn = %+v, want overturned by %s", e, a.AppealID)
	}
	if r, _ := l.Get(ctxOf(t), rec.DecisionID); r.OverturnedBy != a.AppealID {
		t.Errorf("OverturnedBy = %q, want %s", r.OverturnedBy, a.AppealID)
	}
	// The appeal's view of the decision says what is true now too.
	_, appealed, err := l.GetAppeal(ctxOf(t), a.AppealID)
	if err != nil {
		t.Fatalf("GetAppeal = %v", err)
	}
	if i := slices.IndexFunc(appealed.Effects, func(e decision.Effect) bool { return e.Kind == decision.EffectHold }); i < 0 || appealed.Effects[i].State != decision.StateOverturned {
		t.Errorf("GetAppeal decision effects = %+v, want the hold overturned", appealed.Effects)
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// manual returns a reviewer's action as the engine records it.
func manual(subject string, at time.Time, kind decision.ManualKind, action decision.Action, m decision.Manual) *decision.Record {
	rec := Record(subject, decision.ManualCheckpoint, at, action, "IDENTITY_FRAUD")
	rec.Source = decision.SourceManual
	m.Kind, m.ReasonCode, m.Reviewer, m.Note = kind, "IDENTITY_FRAUD", "r.okafor", "documents forged"
	rec.Manual = &m
	return rec
}

func testManualActions(t *testing.T, open Opener) {
	l := open(t)
	const s = "s-manual"
	now := time.Now()
	commit(t, l, Record(s, "signup", now.Add(-time.Hour), decision.Allow))

	susp := manual(s, now.Add(-50*time.Minute), decision.ManualSuspend, decision.Suspend, decision.Manual{})
	susp.Verdict.Strike = true
	commit(t, l, susp)
	h := history(t, l, s, now)
	if !h.Suspended || h.SuspensionSource != decision.SourceManual || h.SuspendedBy != susp.DecisionID || h.Strikes != 1 {
		t.Fatalf("History after a manual suspension = %+v", h)
	}
	restrict := manual(s, now.Add(-40*time.Minute), decision.ManualRestrict, decision.Restrict, decision.Manual{Capabilities: []string{"payouts", "proposals"}})
	restrict.Verdict.Restrictions = []decision.Restriction{{Capability: "payouts"}, {Capability: "proposals"}}
	commit(t, l, restrict)

	lift := manual(s, now.Add(-30*time.Minute), decision.ManualLift, decision.Allow, decision.Manual{Capabilities: []string{"payouts"}})
	commit(t, l, lift)
	h = history(t, l, s, now)
	if len(h.Holds) != 1 || h.Holds[0].Capability != "proposals" || !h.Suspended {
		t.Fatalf("History after lifting payouts = %+v, want the proposals hold and the suspension", h)
	}
	if e := effectsOf(t, l, restrict.DecisionID)["hold:payouts"]; e.State != decision.StateLifted || e.By != lift.DecisionID || e.Reviewer != "r.okafor" {
		t.Errorf("payouts hold after the lift = %+v, want lifted by %s, r.okafor", e, lift.DecisionID)
	}

	reinstate := manual(s, now.Add(-20*time.Minute), decision.ManualReinstate, decision.Allow, decision.Manual{})
	commit(t, l, reinstate)
	h = history(t, l, s, now)
	if h.Suspended || len(h.Holds) != 0 {
		t.Fatalf("History after reinstatement = %+v, want no suspension and no hold", h)
	}
	if e := effectsOf(t, l, susp.DecisionID)["suspension:"]; e.State != decision.StateLifted || e.By != reinstate.DecisionID {
		t.Errorf("suspension after reinstatement = %+v, want lifted by %s", e, reinstate.DecisionID)
	}
	stats, err := l.RuleStats(ctxOf(t), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(stats, func(r ledger.RuleStat) bool { return r.Code == "IDENTITY_FRAUD" }); i < 0 || stats[i].Fired != 4 {
		t.Errorf("RuleStats IDENTITY_FRAUD = %+v, want fired 4 (the manual decisions count)", stats)
	}
}

// testSerialisedCommits commits many decisions of one subject at once, each
// made on the history it read and made again at commit when that history
// is stale: each must see its own ordinal among the strikes, as if the
// decisions ran one after another.
func testSerialisedCommits(t *testing.T, open Opener) {
	l := open(t)
	const s = "s-serial"
	const n = 24
	now := time.Now()
	seen := make([]int, n)
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx := ctxOf(t)
			rec := Record(s, "login", now.Add(-time.Duration(n-i)*time.Millisecond), decision.Restrict, "MODEL_RISK")
			ids[i] = rec.DecisionID
			rec.Verdict.Strike = true
			decide := func(_ context.Context, h decision.History) error {
				seen[i] = h.Strikes
				rec.Verdict.Reasons[0].Evidence = []map[string]any{{"prior_strikes": float64(h.Strikes)}}
				return nil
			}
			h, err := l.History(ctx, s, now)
			if err != nil {
				t.Errorf("History = %v", err)
				return
			}
			_ = decide(ctx, h)
			if _, _, err := l.Commit(ctx, rec, &decision.Basis{Version: h.Version, Redo: decide}); err != nil {
				t.Errorf("Commit %d = %v", i, err)
			}
		})
	}
	wg.Wait()
	slices.Sort(seen)
	for i, got := range seen {
		if got != i {
			t.Fatalf("prior strikes seen by the %d concurrent decisions = %v, want each of 0..%d once", n, seen, n-1)
		}
	}
	if h := history(t, l, s, time.Now()); h.Strikes != n {
		t.Errorf("strikes after %d decisions = %d", n, h.Strikes)
	}
	// What is stored is each decision as made last: as made again at
	// commit when its history was stale.
	stored := make([]int, n)
	for i, id := range ids {
		got, err := l.Get(ctxOf(t), id)
		if err != nil {
			t.Fatalf("Get(%s) = %v", id, err)
		}
		prior, _ := got.Verdict.Reasons[0].Evidence[0]["prior_strikes"].(float64)
		stored[i] = int(prior)
	}
	slices.Sort(stored)
	if !slices.Equal(stored, seen) {
		t.Errorf("prior strikes in the %d stored decisions = %v, want each of 0..%d once, as made at commit", n, stored, n-1)
	}

	// A redo that refuses aborts the commit: nothing is stored.
	rec := Record(s, "login", now, decision.Allow)
	refused := errors.New("no longer applies")
	_, _, err := l.Commit(ctxOf(t), rec, &decision.Basis{Version: -1, Redo: func(context.Context, decision.History) error { return refused }})
	if !errors.Is(err, refused) {
		t.Errorf("Commit with a refusing redo = %v, want %v", err, refused)
	}
	if _, err := l.Get(ctxOf(t), rec.DecisionID); !errors.Is(err, decision.ErrNotFound) {
		t.Errorf("Get(refused decision) = %v, want ErrNotFound", err)
	}
}

// testOvertaken: a decision of a subject can be overtaken by a later one
// (started after it, committed before it read its history). Its history,
// read as of its own earlier time, then leaves out the later decision's
// strike while its standing version already counts it; the commit must
// make it again on the standing that includes that strike, as if the two
// had run one after the other.
func testOvertaken(t *testing.T, open Opener) {
	l := open(t)
	const s = "s-overtaken"
	now := time.Now()
	earlier := Record(s, "withdrawal", now.Add(-time.Second), decision.Restrict, "PAYOUT_MISMATCH")
	earlier.Verdict.Strike = true
	later := Record(s, "withdrawal", now.Add(-500*time.Millisecond), decision.Restrict, "PAYOUT_MISMATCH")
	later.Verdict.Strike = true
	commit(t, l, later)
	h := history(t, l, s, earlier.DecidedAt)
	if h.Strikes != 0 || h.Version == 0 {
		t.Fatalf("history as of the earlier decision's time = %d strikes, version %d; want 0 strikes and a version that counts the later decision", h.Strikes, h.Version)
	}
	var redone *decision.History
	redo := func(_ context.Context, h decision.History) error {
		redone = &h
		return nil
	}
	if _, _, err := l.Commit(ctxOf(t), earlier, &decision.Basis{Version: h.Version, Redo: redo}); err != nil {
		t.Fatal(err)
	}
	if redone == nil || redone.Strikes != 1 {
		t.Errorf("the overtaken decision was made again on %+v; want it made again on the one strike committed before it", redone)
	}
	if !earlier.DecidedAt.After(later.DecidedAt) {
		t.Errorf("the overtaken decision is dated %v, before the decision it counts (%v)", earlier.DecidedAt, later.DecidedAt)
	}
	got, err := l.Get(ctxOf(t), earlier.DecisionID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.DecidedAt.After(later.DecidedAt) {
		t.Errorf("the overtaken decision is stored dated %v, before the decision it counts (%v)", got.DecidedAt, later.DecidedAt)
	}
}

func testSupersede(t *testing.T, open Opener) {
	l := open(t)
	rec := commit(t, l, Record("s-supersede", "login", T0, decision.Warn, "EMAIL_RANDOM_LOCAL_PART"))
	fallback := uuid.NewString()
	if err := l.Supersede(ctxOf(t), fallback, rec.RequestID, rec.DecisionID, T0.Add(time.Hour)); err != nil {
		t.Fatalf("Supersede = %v", err)
	}
	got, err := l.Get(ctxOf(t), fallback)
	if err != nil {
		t.Fatalf("Get(superseded fallback) = %v", err)
	}
	if got.DecisionID != rec.DecisionID || got.SupersededID != fallback {
		t.Errorf("Get(superseded fallback) = decision %s superseded %q, want %s superseded %s", got.DecisionID, got.SupersededID, rec.DecisionID, fallback)
	}
	if _, err := l.Get(ctxOf(t), uuid.NewString()); !errors.Is(err, decision.ErrNotFound) {
		t.Errorf("Get(unknown) = %v, want ErrNotFound", err)
	}
}
