package ledgertest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/events"
	"github.com/gavel/gavel/ledger"
	"github.com/gavel/gavel/lists"
)

// OutboxTests are the outbox's cases, run by Run.
var outboxTests = []struct {
	name string
	run  func(t *testing.T, open Opener)
}{
	{"OutboxDecisionEvents", testOutboxDecisionEvents},
	{"OutboxNoEventsWithoutChange", testOutboxNoEvents},
	{"OutboxAppealEvents", testOutboxAppealEvents},
	{"OutboxManualEvents", testOutboxManualEvents},
	{"OutboxExpiry", testOutboxExpiry},
	{"OutboxOrderPerSubject", testOutboxOrder},
	{"OutboxLease", testOutboxLease},
	{"OutboxDeadLetters", testOutboxDeadLetters},
	{"OutboxListEvents", testOutboxListEvents},
	{"OutboxPrune", testOutboxPrune},
}

const testEndpoint = "market"

func everyEndpoint(string) []string { return []string{testEndpoint} }

// drain delivers every event in the outbox to testEndpoint, as the
// delivery loop would with a receiver that always answers 200, and returns
// them by subject in the order they were delivered.
func drain(t testing.TB, l *ledger.Ledger, now time.Time) map[string][]events.Event {
	t.Helper()
	out := map[string][]events.Event{}
	for range 1000 {
		if _, err := l.Route(ctxOf(t), everyEndpoint, 100, now); err != nil {
			t.Fatalf("Route() = %v", err)
		}
		ds, err := l.Claim(ctxOf(t), testEndpoint, 100, now, time.Minute)
		if err != nil {
			t.Fatalf("Claim() = %v", err)
		}
		if len(ds) == 0 {
			return out
		}
		var oc []events.Outcome
		for _, d := range ds {
			out[d.Event.Subject] = append(out[d.Event.Subject], d.Event)
			oc = append(oc, events.Outcome{Endpoint: d.Endpoint, Seq: d.Event.Seq, Lease: d.Lease,
				Attempts: d.Attempts + 1, Delivered: true, Status: 200, At: now})
		}
		if err := l.Record(ctxOf(t), oc); err != nil {
			t.Fatalf("Record() = %v", err)
		}
	}
	t.Fatal("drain: the outbox never emptied")
	return nil
}

func typesOf(evs []events.Event) []string {
	var ts []string
	for _, e := range evs {
		ts = append(ts, e.Type)
	}
	return ts
}

func dataOf[T any](t testing.TB, e events.Event) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(e.Data, &v); err != nil {
		t.Fatalf("event %s data %s: %v", e.Type, e.Data, err)
	}
	return v
}

func wantTypes(t testing.TB, what string, evs []events.Event, want ...string) {
	t.Helper()
	if got := typesOf(evs); !slices.Equal(got, want) {
		t.Fatalf("%s: events %v, want %v", what, got, want)
	}
}

func testOutboxDecisionEvents(t *testing.T, open Opener) {
	l := open(t)
	const s = "s-outbox"
	hold := Record(s, payout, T0, decision.Restrict, "PAYOUT_MISMATCH")
	hold.Verdict.Restrictions = []decision.Restriction{{Capability: "payouts"}, {Capability: "withdrawals", Duration: 30 * day}}
	hold.Verdict.Remedy = &decision.Remedy{Code: "verify_identity", Checkpoint: idv}
	commit(t, l, hold)
	susp := Record(s, login, T0.Add(time.Minute), decision.Suspend, "ACCOUNT_TAKEOVER")
	susp.Verdict.Duration = 7 * day
	commit(t, l, susp)
	again := Record(s, login, T0.Add(2*time.Minute), decision.Suspend, "ACCOUNT_TAKEOVER")
	commit(t, l, again) // already suspended: a restrictive decision, no second suspension
	commit(t, l, Record(s, login, T0.Add(3*time.Minute), decision.Allow))
	pass := commit(t, l, Record(s, idv, T0.Add(4*time.Minute), decision.Allow))

	got := drain(t, l, T0.Add(time.Hour))[s]
	wantTypes(t, "decisions", got,
		events.TypeDecisionRestrictive, events.TypeHoldPlaced, events.TypeHoldPlaced,
		events.TypeDecisionRestrictive, events.TypeAccountSuspended,
		events.TypeDecisionRestrictive,
		events.TypeHoldLifted, events.TypeHoldLifted)
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq || got[i].ID == got[i-1].ID || got[i].ID == "" {
			t.Errorf("events %d and %d: seq %d, %d and ids %q, %q: want increasing seqs and distinct ids", i-1, i, got[i-1].Seq, got[i].Seq, got[i-1].ID, got[i].ID)
		}
	}
	d := dataOf[events.DecisionData](t, got[0])
	if d.DecisionID != hold.DecisionID || d.Action != "restrict" || !slices.Equal(d.Reasons, []string{"PAYOUT_MISMATCH"}) ||
		len(d.Restrictions) != 2 || d.RemedyCheckpoint != idv || !d.Appealable || d.Source != decision.SourcePolicy {
		t.Errorf("restrictive decision data = %+v", d)
	}
	if !strings.Contains(string(got[0].Data), `"subject_id":"s-outbox"`) || strings.Contains(string(got[0].Data), "ada@example.com") {
		t.Errorf("restrictive decision data %s: want ids and codes, never the profile", got[0].Data)
	}
	h := dataOf[events.HoldData](t, got[2])
	if h.Capability != "withdrawals" || !h.Until.Equal(T0.Add(30*day)) || h.DecisionID != hold.DecisionID || h.RemedyCheckpoint != idv {
		t.Errorf("hold placed data = %+v", h)
	}
	sd := dataOf[events.SuspensionData](t, got[4])
	if sd.DecisionID != susp.DecisionID || !sd.Until.Equal(T0.Add(time.Minute+7*day)) || sd.Source != decision.SourcePolicy {
		t.Errorf("suspension data = %+v", sd)
	}
	for _, e := range got[6:] {
		lh := dataOf[events.HoldData](t, e)
		if lh.How != events.EndedRemedied || lh.By != pass.DecisionID || !lh.EndedAt.Equal(pass.DecidedAt) || lh.DecisionID != hold.DecisionID {
			t.Errorf("hold lifted data = %+v, want remedied by %s", lh, pass.DecisionID)
		}
	}
	if !got[0].Time.Equal(T0) {
		t.Errorf("first event time = %v, want the decision's %v", got[0].Time, T0)
	}
}

func testOutboxNoEvents(t *testing.T, open Opener) {
	l := open(t)
	const s = "s-quiet"
	dry := Record(s, login, T0, decision.Suspend, "ACCOUNT_TAKEOVER")
	dry.DryRun = true
	commit(t, l, dry)
	fb := Record(s, login, T0.Add(time.Minute), decision.Restrict, decision.ReasonPolicyUnavailable)
	fb.Fallback, fb.Cause = true, "policy timed out"
	fb.Verdict.Restrictions = []decision.Restriction{{Capability: "payouts"}}
	commit(t, l, fb)
	commit(t, l, Record(s, login, T0.Add(2*time.Minute), decision.Challenge, "NEW_DEVICE"))
	r := Record(s, login, T0.Add(3*time.Minute), decision.Restrict, "VELOCITY")
	commit(t, l, r)
	// The same request again stores nothing and writes no event.
	retry := *r
	if _, replayed, err := l.Commit(ctxOf(t), &retry, nil); err != nil || !replayed {
		t.Fatalf("Commit(retry) = replayed %v, %v; want a replay", replayed, err)
	}
	got := drain(t, l, T0.Add(time.Hour))
	wantTypes(t, "dry run, fallback, challenge, restrict and its retry", got[s], events.TypeDecisionRestrictive)
}

func testOutboxAppealEvents(t *testing.T, open Opener) {
	l := open(t)
	const s = "s-outbox-appeal"
	rec := Record(s, payout, T0, decision.Suspend, "PAYOUT_MISMATCH")
	rec.Verdict.Restrictions = []decision.Restriction{{Capability: "payouts"}}
	commit(t, l, rec)
	a, err := l.FileAppeal(ctxOf(t), ledger.AppealFiling{DecisionID: rec.DecisionID, Statement: "it was me", At: T0.Add(time.Hour), Window: 30 * day})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.ResolveAppeal(ctxOf(t), ledger.AppealResolution{AppealID: a.AppealID, Outcome: ledger.AppealOverturned,
		Reviewer: "r.okafor", At: T0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	got := drain(t, l, T0.Add(3*time.Hour))[s]
	wantTypes(t, "appeal", got,
		events.TypeDecisionRestrictive, events.TypeHoldPlaced, events.TypeAccountSuspended,
		events.TypeAppealFiled, events.TypeHoldLifted, events.TypeAccountReinstated, events.TypeAppealResolved)
	if ad := dataOf[events.AppealData](t, got[3]); ad.AppealID != a.AppealID || ad.DecisionID != rec.DecisionID || ad.Outcome != "" {
		t.Errorf("appeal filed data = %+v", ad)
	}
	if h := dataOf[events.HoldData](t, got[4]); h.How != events.EndedOverturned || h.By != a.AppealID {
		t.Errorf("hold lifted by the overturn = %+v", h)
	}
	if sd := dataOf[events.SuspensionData](t, got[5]); sd.How != events.EndedOverturned || sd.By != a.AppealID || sd.DecisionID != rec.DecisionID {
		t.Errorf("reinstated by the overturn = %+v", sd)
	}
	if ad := dataOf[events.AppealData](t, got[6]); ad.Outcome != "overturned" || !ad.ResolvedAt.Equal(T0.Add(2*time.Hour)) {
		t.Errorf("appeal resolved data = %+v", ad)
	}
	// An upheld appeal changes nothing but the appeal.
	rec2 := Record(s, login, T0.Add(4*time.Hour), decision.Restrict, "VELOCITY")
	commit(t, l, rec2)
	a2, err := l.FileAppeal(ctxOf(t), ledger.AppealFiling{DecisionID: rec2.DecisionID, Statement: "no", At: T0.Add(5 * time.Hour), Window: 30 * day})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.ResolveAppeal(ctxOf(t), ledger.AppealResolution{AppealID: a2.AppealID, Outcome: ledger.AppealUpheld,
		Reviewer: "r.okafor", At: T0.Add(6 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	got = drain(t, l, T0.Add(7*time.Hour))[s]
	wantTypes(t, "upheld appeal", got, events.TypeDecisionRestrictive, events.TypeAppealFiled, events.TypeAppealResolved)
}

func testOutboxManualEvents(t *testing.T, open Opener) {
	l := open(t)
	const s = "s-outbox-manual"
	now := time.Now()
	susp := manual(s, now.Add(-50*time.Minute), decision.ManualSuspend, decision.Suspend, decision.Manual{})
	commit(t, l, susp)
	restrict := manual(s, now.Add(-40*time.Minute), decision.ManualRestrict, decision.Restrict, decision.Manual{Capabilities: []string{"payouts", "proposals"}})
	restrict.Verdict.Restrictions = []decision.Restriction{{Capability: "payouts"}, {Capability: "proposals"}}
	commit(t, l, restrict)
	lift := manual(s, now.Add(-30*time.Minute), decision.ManualLift, decision.Allow, decision.Manual{Capabilities: []string{"payouts"}})
	commit(t, l, lift)
	reinstate := manual(s, now.Add(-20*time.Minute), decision.ManualReinstate, decision.Allow, decision.Manual{})
	commit(t, l, reinstate)
	got := drain(t, l, now)[s]
	wantTypes(t, "manual actions", got,
		events.TypeDecisionRestrictive, events.TypeAccountSuspended,
		events.TypeDecisionRestrictive, events.TypeHoldPlaced, events.TypeHoldPlaced,
		events.TypeHoldLifted,
		events.TypeHoldLifted, events.TypeAccountReinstated)
	if d := dataOf[events.DecisionData](t, got[0]); d.Source != decision.SourceManual {
		t.Errorf("manual suspension's decision data = %+v, want source manual", d)
	}
	if h := dataOf[events.HoldData](t, got[5]); h.Capability != "payouts" || h.How != events.EndedLifted || h.By != lift.DecisionID {
		t.Errorf("lifted by hand = %+v", h)
	}
	if h := dataOf[events.HoldData](t, got[6]); h.Capability != "proposals" || h.By != reinstate.DecisionID {
		t.Errorf("lifted by the reinstatement = %+v", h)
	}
	if sd := dataOf[events.SuspensionData](t, got[7]); sd.How != events.EndedLifted || sd.By != reinstate.DecisionID {
		t.Errorf("reinstated = %+v", sd)
	}
}

func testOutboxExpiry(t *testing.T, open Opener) {
	l := open(t)
	const s = "s-outbox-expiry"
	rec := Record(s, payout, T0, decision.Suspend, "PAYOUT_MISMATCH")
	rec.Verdict.Restrictions = []decision.Restriction{{Capability: "payouts", Duration: time.Hour}, {Capability: "messages"}}
	rec.Verdict.Duration = 2 * time.Hour
	commit(t, l, rec)
	drain(t, l, T0)

	if n, err := l.SweepExpired(ctxOf(t), T0.Add(30*time.Minute), 100); err != nil || n != 0 {
		t.Fatalf("SweepExpired(before anything ran out) = %d, %v; want 0", n, err)
	}
	if n, err := l.SweepExpired(ctxOf(t), T0.Add(90*time.Minute), 100); err != nil || n != 1 {
		t.Fatalf("SweepExpired(after the hold ran out) = %d, %v; want 1", n, err)
	}
	if n, err := l.SweepExpired(ctxOf(t), T0.Add(90*time.Minute), 100); err != nil || n != 0 {
		t.Fatalf("SweepExpired(again) = %d, %v; want 0: an expiry is written once", n, err)
	}
	if n, err := l.SweepExpired(ctxOf(t), T0.Add(3*time.Hour), 100); err != nil || n != 1 {
		t.Fatalf("SweepExpired(after the suspension ran out) = %d, %v; want 1", n, err)
	}
	got := drain(t, l, T0.Add(3*time.Hour))[s]
	wantTypes(t, "expiries", got, events.TypeHoldExpired, events.TypeAccountReinstated)
	if h := dataOf[events.HoldData](t, got[0]); h.Capability != "payouts" || h.How != events.EndedExpired || !h.EndedAt.Equal(T0.Add(time.Hour)) {
		t.Errorf("hold expired = %+v", h)
	}
	if !got[0].Time.Equal(T0.Add(time.Hour)) {
		t.Errorf("hold expired at %v, want %v", got[0].Time, T0.Add(time.Hour))
	}
	if sd := dataOf[events.SuspensionData](t, got[1]); sd.How != events.EndedExpired || !sd.EndedAt.Equal(T0.Add(2*time.Hour)) {
		t.Errorf("suspension expired = %+v", sd)
	}
	// Overturning a decision whose hold ran out unswept: expired, not lifted.
	rec2 := Record(s, login, T0.Add(4*time.Hour), decision.Restrict, "VELOCITY")
	rec2.Verdict.Restrictions = []decision.Restriction{{Capability: "proposals", Duration: time.Hour}, {Capability: "contracts"}}
	commit(t, l, rec2)
	if err := l.Overturn(ctxOf(t), rec2.DecisionID, "test", T0.Add(6*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got = drain(t, l, T0.Add(7*time.Hour))[s]
	wantTypes(t, "overturn after an expiry", got, events.TypeDecisionRestrictive, events.TypeHoldPlaced, events.TypeHoldPlaced,
		events.TypeHoldExpired, events.TypeHoldLifted)
	if n, err := l.SweepExpired(ctxOf(t), T0.Add(8*time.Hour), 100); err != nil || n != 0 {
		t.Fatalf("SweepExpired(after the overturn) = %d, %v; want 0", n, err)
	}
}

func testOutboxOrder(t *testing.T, open Opener) {
	l := open(t)
	now := time.Now()
	for i := range 3 {
		for _, s := range []string{"s-a", "s-b"} {
			commit(t, l, Record(s, login, now.Add(time.Duration(i)*time.Second), decision.Restrict, fmt.Sprintf("CODE_%d", i)))
		}
	}
	if _, err := l.Route(ctxOf(t), everyEndpoint, 100, now); err != nil {
		t.Fatal(err)
	}
	claim := func(at time.Time) []events.Delivery {
		t.Helper()
		ds, err := l.Claim(ctxOf(t), testEndpoint, 100, at, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	// One delivery per subject at a time: the oldest of each.
	ds := claim(now)
	if len(ds) != 2 || ds[0].Event.Subject == ds[1].Event.Subject {
		t.Fatalf("Claim() = %d deliveries %v, want the head of each of 2 subjects", len(ds), ds)
	}
	var a, b events.Delivery
	for _, d := range ds {
		if d.Event.Subject == "s-a" {
			a = d
		} else {
			b = d
		}
	}
	if got := claim(now); len(got) != 0 {
		t.Fatalf("Claim() while both heads are leased = %d deliveries, want none", len(got))
	}
	// s-a's head fails and waits for its retry; s-a's later events wait
	// behind it, s-b goes on.
	retryAt := now.Add(10 * time.Second)
	if err := l.Record(ctxOf(t), []events.Outcome{
		{Endpoint: testEndpoint, Seq: a.Event.Seq, Lease: a.Lease, Attempts: 1, NextAt: retryAt, Status: 500, Error: "500 Internal Server Error", At: now},
		{Endpoint: testEndpoint, Seq: b.Event.Seq, Lease: b.Lease, Attempts: 1, Delivered: true, Status: 200, At: now},
	}); err != nil {
		t.Fatal(err)
	}
	ds = claim(now.Add(time.Second))
	if len(ds) != 1 || ds[0].Event.Subject != "s-b" || ds[0].Event.Seq <= b.Event.Seq {
		t.Fatalf("Claim() while s-a's head waits to be retried = %+v, want s-b's next event only", ds)
	}
	ds = claim(retryAt)
	if len(ds) != 1 || ds[0].Event.Seq != a.Event.Seq || ds[0].Attempts != 1 {
		t.Fatalf("Claim() at s-a's retry = %+v, want its head again after 1 attempt", ds)
	}
}

func testOutboxLease(t *testing.T, open Opener) {
	l := open(t)
	now := time.Now()
	commit(t, l, Record("s-lease", login, now, decision.Restrict, "VELOCITY"))
	if _, err := l.Route(ctxOf(t), everyEndpoint, 100, now); err != nil {
		t.Fatal(err)
	}
	first, err := l.Claim(ctxOf(t), testEndpoint, 10, now, time.Minute)
	if err != nil || len(first) != 1 {
		t.Fatalf("Claim() = %v, %v; want 1", first, err)
	}
	if again, err := l.Claim(ctxOf(t), testEndpoint, 10, now.Add(59*time.Second), time.Minute); err != nil || len(again) != 0 {
		t.Fatalf("Claim() within the lease = %v, %v; want none", again, err)
	}
	// The lease lapsed (its holder died): another claims it.
	second, err := l.Claim(ctxOf(t), testEndpoint, 10, now.Add(61*time.Second), time.Minute)
	if err != nil || len(second) != 1 || second[0].Lease == first[0].Lease {
		t.Fatalf("Claim() after the lease = %v, %v; want it again under a new lease", second, err)
	}
	// The first holder's late result is not recorded; the second's is.
	d := first[0]
	if err := l.Record(ctxOf(t), []events.Outcome{{Endpoint: testEndpoint, Seq: d.Event.Seq, Lease: d.Lease, Attempts: 1,
		Dead: true, Error: "late", At: now.Add(62 * time.Second)}}); err != nil {
		t.Fatal(err)
	}
	st, err := l.Stats(ctxOf(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Endpoints) != 1 || st.Endpoints[0].Pending != 1 || st.Endpoints[0].Dead != 0 || st.Endpoints[0].Failed != 0 {
		t.Fatalf("Stats() after a stale result = %+v, want it still pending", st)
	}
	d = second[0]
	if err := l.Record(ctxOf(t), []events.Outcome{{Endpoint: testEndpoint, Seq: d.Event.Seq, Lease: d.Lease, Attempts: 1,
		Delivered: true, Status: 204, At: now.Add(62 * time.Second)}}); err != nil {
		t.Fatal(err)
	}
	if st, err = l.Stats(ctxOf(t)); err != nil {
		t.Fatal(err)
	}
	if e := st.Endpoints[0]; e.Pending != 0 || e.Delivered != 1 || !e.OldestPending.IsZero() {
		t.Fatalf("Stats() after delivery = %+v, want 1 delivered, none pending", e)
	}
}

func testOutboxDeadLetters(t *testing.T, open Opener) {
	l := open(t)
	now := time.Now()
	const s = "s-dead"
	first := Record(s, login, now, decision.Restrict, "VELOCITY")
	commit(t, l, first)
	commit(t, l, Record(s, login, now.Add(time.Second), decision.Restrict, "VELOCITY"))
	if n, err := l.Route(ctxOf(t), everyEndpoint, 100, now); err != nil || n != 2 {
		t.Fatalf("Route() = %d, %v; want 2", n, err)
	}
	if n, err := l.Route(ctxOf(t), everyEndpoint, 100, now); err != nil || n != 0 {
		t.Fatalf("Route() again = %d, %v; want 0", n, err)
	}
	ds, err := l.Claim(ctxOf(t), testEndpoint, 10, now, time.Minute)
	if err != nil || len(ds) != 1 {
		t.Fatalf("Claim() = %v, %v", ds, err)
	}
	d := ds[0]
	if err := l.Record(ctxOf(t), []events.Outcome{{Endpoint: testEndpoint, Seq: d.Event.Seq, Lease: d.Lease, Attempts: 5,
		Dead: true, Status: 410, Error: "410 Gone", At: now}}); err != nil {
		t.Fatal(err)
	}
	st, err := l.Stats(ctxOf(t))
	if err != nil {
		t.Fatal(err)
	}
	if e := st.Endpoints[0]; e.Dead != 1 || e.Pending != 1 || e.Failed != 1 {
		t.Fatalf("Stats() after a dead letter = %+v, want 1 dead, 1 pending, 1 failed", e)
	}
	letters, err := l.Letters(ctxOf(t), events.LetterFilter{})
	if err != nil || len(letters) != 1 {
		t.Fatalf("Letters() = %v, %v; want the dead letter", letters, err)
	}
	if x := letters[0]; x.Event.Seq != d.Event.Seq || x.Attempts != 5 || x.LastStatus != 410 || x.LastError != "410 Gone" || x.State != events.StateDead || x.Event.Type != events.TypeDecisionRestrictive {
		t.Errorf("dead letter = %+v", x)
	}
	// The dead letter no longer holds the subject's next event back.
	ds, err = l.Claim(ctxOf(t), testEndpoint, 10, now, time.Minute)
	if err != nil || len(ds) != 1 || ds[0].Event.Seq <= d.Event.Seq {
		t.Fatalf("Claim() after the dead letter = %v, %v; want the next event", ds, err)
	}
	if _, err := l.Redrive(ctxOf(t), "", []int64{d.Event.Seq + 1000}, now); !errors.Is(err, events.ErrNotFound) {
		t.Errorf("Redrive(unknown) = %v, want ErrNotFound", err)
	}
	if n, err := l.Redrive(ctxOf(t), testEndpoint, nil, now); err != nil || n != 1 {
		t.Fatalf("Redrive() = %d, %v; want 1", n, err)
	}
	if letters, err = l.Letters(ctxOf(t), events.LetterFilter{}); err != nil || len(letters) != 0 {
		t.Fatalf("Letters() after redrive = %v, %v; want none", letters, err)
	}
	pending, err := l.Letters(ctxOf(t), events.LetterFilter{State: events.StatePending, Subject: s})
	if err != nil || len(pending) != 2 || pending[0].Event.Seq != d.Event.Seq || pending[0].Attempts != 0 {
		t.Fatalf("pending after redrive = %+v, %v; want the redriven one first, attempts reset", pending, err)
	}
}

func testOutboxListEvents(t *testing.T, open Opener) {
	l := open(t)
	now := time.Now()
	x, err := l.CreateList(ctxOf(t), lists.List{Name: "fraud-domains", Kind: lists.EmailDomain, Purpose: lists.Block, Action: "restrict"}, "ops", now)
	if err != nil {
		t.Fatal(err)
	}
	es := []lists.Entry{{Key: "spam.example", AddedBy: "ops", AddedAt: now}, {Key: "junk.example", AddedBy: "ops", AddedAt: now}}
	if err := l.PutEntries(ctxOf(t), x, es, lists.OpAdd, "", "ops", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := l.RemoveEntries(ctxOf(t), x, []string{"junk.example", "absent.example"}, "ops", now.Add(2*time.Second)); err != nil || n != 1 {
		t.Fatalf("RemoveEntries = %d, %v", n, err)
	}
	if n, err := l.RemoveEntries(ctxOf(t), x, []string{"absent.example"}, "ops", now.Add(3*time.Second)); err != nil || n != 0 {
		t.Fatalf("RemoveEntries(absent) = %d, %v", n, err) // removes nothing: no event
	}
	got := drain(t, l, now.Add(time.Minute))[events.ListSubject("fraud-domains")]
	wantTypes(t, "list changes", got, events.TypeListChanged, events.TypeListChanged, events.TypeListChanged)
	var ops []string
	for _, e := range got {
		d := dataOf[events.ListData](t, e)
		ops = append(ops, fmt.Sprintf("%s:%d", d.Op, d.Entries))
		if d.List != "fraud-domains" || d.Kind != string(lists.EmailDomain) || d.Purpose != string(lists.Block) {
			t.Errorf("list event data = %+v", d)
		}
		if strings.Contains(string(e.Data), "spam.example") {
			t.Errorf("list event %s carries an entry's value", e.Data)
		}
	}
	if want := []string{"create:0", "add:2", "remove:1"}; !slices.Equal(ops, want) {
		t.Errorf("list events = %v, want %v", ops, want)
	}
}

func testOutboxPrune(t *testing.T, open Opener) {
	l := open(t)
	now := time.Now()
	commit(t, l, Record("s-prune-a", login, now, decision.Restrict, "VELOCITY"))
	commit(t, l, Record("s-prune-b", login, now, decision.Restrict, "VELOCITY"))
	if _, err := l.Route(ctxOf(t), everyEndpoint, 100, now); err != nil {
		t.Fatal(err)
	}
	ds, err := l.Claim(ctxOf(t), testEndpoint, 10, now, time.Minute)
	if err != nil || len(ds) != 2 {
		t.Fatalf("Claim() = %v, %v", ds, err)
	}
	var oc []events.Outcome
	for _, d := range ds {
		o := events.Outcome{Endpoint: d.Endpoint, Seq: d.Event.Seq, Lease: d.Lease, Attempts: 1, At: now}
		if d.Event.Subject == "s-prune-a" {
			o.Delivered, o.Status = true, 200
		} else {
			o.Dead, o.Error = true, "410 Gone"
		}
		oc = append(oc, o)
	}
	if err := l.Record(ctxOf(t), oc); err != nil {
		t.Fatal(err)
	}
	// Committed after the routing: not routed yet, so never pruned.
	commit(t, l, Record("s-prune-c", login, now, decision.Restrict, "VELOCITY"))
	if n, err := l.Prune(ctxOf(t), now.Add(-time.Hour), 100); err != nil || n != 0 {
		t.Fatalf("Prune(an hour ago) = %d, %v; want nothing that recent", n, err)
	}
	if n, err := l.Prune(ctxOf(t), now.Add(time.Hour), 100); err != nil || n != 2 {
		t.Fatalf("Prune(in an hour) = %d, %v; want s-prune-a's delivery and event", n, err)
	}
	if dead, err := l.Letters(ctxOf(t), events.LetterFilter{}); err != nil || len(dead) != 1 || dead[0].Event.Subject != "s-prune-b" {
		t.Fatalf("Letters() after Prune = %v, %v; want s-prune-b's dead letter kept", dead, err)
	}
	st, err := l.Stats(ctxOf(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Unrouted != 1 || st.Endpoints[0].Delivered != 1 || st.Endpoints[0].Dead != 1 {
		t.Errorf("Stats() after Prune = %+v, want 1 unrouted, the delivered count kept, 1 dead", st)
	}
	got := drain(t, l, now.Add(2*time.Hour))
	wantTypes(t, "after Prune", got["s-prune-c"], events.TypeDecisionRestrictive)
}
