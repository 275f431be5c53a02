package ledgertest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
)

const appealWindow = 30 * day

func fileAppeal(t testing.TB, l *ledger.Ledger, decisionID string, at time.Time) *ledger.Appeal {
	t.Helper()
	a, err := l.FileAppeal(ctxOf(t), ledger.AppealFiling{
		DecisionID: decisionID, Statement: "I share the payout account with my agency.", FiledBy: "marketplace", At: at, Window: appealWindow,
	})
	if err != nil {
		t.Fatalf("FileAppeal(%s) = %v", decisionID, err)
	}
	return a
}

func testFileAppeal(t *testing.T, open Opener) {
	l := open(t)
	const s = "s-appeal-file"
	rec := Record(s, payout, T0, decision.Restrict, "PAYOUT_ACCOUNT_SHARED", "PHONE_VOIP")
	rec.Verdict.Restrictions = []decision.Restriction{{Capability: "payouts", Duration: 7 * day}}
	rec.Verdict.Strike = true
	commit(t, l, rec)

	a := fileAppeal(t, l, rec.DecisionID, T0.Add(time.Hour))
	if a.AppealID == "" || a.DecisionID != rec.DecisionID || a.SubjectID != s || a.Status != ledger.AppealOpen ||
		a.Checkpoint != payout || !slices.Equal(a.Codes, []string{"PAYOUT_ACCOUNT_SHARED", "PHONE_VOIP"}) ||
		!a.FiledAt.Equal(T0.Add(time.Hour)) || !a.DecidedAt.Equal(T0) || !a.ResolvedAt.IsZero() || a.FiledBy != "marketplace" {
		t.Errorf("FileAppeal = %+v", a)
	}
	if _, err := l.FileAppeal(ctxOf(t), ledger.AppealFiling{DecisionID: rec.DecisionID, Statement: "again", At: T0.Add(2 * time.Hour), Window: appealWindow}); !errors.Is(err, ledger.ErrAppealExists) {
		t.Errorf("FileAppeal twice = %v, want ErrAppealExists", err)
	}
	got, grec, err := l.GetAppeal(ctxOf(t), a.AppealID)
	if err != nil || got.Statement != a.Statement || grec.DecisionID != rec.DecisionID || grec.AppealID != a.AppealID || grec.AppealStatus != "open" {
		t.Errorf("GetAppeal(%s) = %+v, %v, %v", a.AppealID, got, grec, err)
	}
	d, err := l.Get(ctxOf(t), rec.DecisionID)
	if err != nil || d.AppealID != a.AppealID || d.AppealStatus != "open" || d.Overturned {
		t.Errorf("Get(%s) appeal = %q %q overturned %v, %v; want %s open false", rec.DecisionID, d.AppealID, d.AppealStatus, d.Overturned, err, a.AppealID)
	}
	if _, _, err := l.GetAppeal(ctxOf(t), uuid.NewString()); !errors.Is(err, decision.ErrNotFound) {
		t.Errorf("GetAppeal(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := l.FileAppeal(ctxOf(t), ledger.AppealFiling{DecisionID: uuid.NewString(), Statement: "x", At: T0, Window: appealWindow}); !errors.Is(err, decision.ErrNotFound) {
		t.Errorf("FileAppeal(unknown decision) = %v, want ErrNotFound", err)
	}
}

func testAppealRefusals(t *testing.T, open Opener) {
	l := open(t)
	const s = "s-appeal-refuse"
	allow := commit(t, l, Record(s, login, T0, decision.Allow))
	warn := Record(s, login, T0, decision.Warn, "HOSTING_NETWORK")
	commit(t, l, warn)
	dry := Record(s, payout, T0, decision.Restrict, "PAYOUT_ACCOUNT_SHARED")
	dry.DryRun = true
	commit(t, l, dry)
	fb := Record(s, payout, T0, decision.Restrict, decision.ReasonPolicyUnavailable)
	fb.Fallback = true
	commit(t, l, fb)
	closed := Record(s, payout, T0, decision.Suspend, "DOCUMENT_REUSED")
	commit(t, l, closed)
	unappealable := Record(s, payout, T0, decision.Restrict, "DETECTOR_UNAVAILABLE_FAIL_CLOSED")
	unappealable.Verdict.Reasons[0].Appealable = false
	commit(t, l, unappealable)

	for _, c := range []struct {
		name string
		id   string
		at   time.Time
		want error
	}{
		{"allow", allow.DecisionID, T0, ledger.ErrNotAppealable},
		{"warn without strike", warn.DecisionID, T0, ledger.ErrNotAppealable},
		{"dry run", dry.DecisionID, T0, ledger.ErrNotAppealable},
		{"fallback", fb.DecisionID, T0, ledger.ErrNotAppealable},
		{"not appealable grounds", unappealable.DecisionID, T0, ledger.ErrNotAppealable},
		{"window closed", closed.DecisionID, T0.Add(appealWindow + time.Second), ledger.ErrAppealWindowClosed},
	} {
		_, err := l.FileAppeal(ctxOf(t), ledger.AppealFiling{DecisionID: c.id, Statement: "please", At: c.at, Window: appealWindow})
		if !errors.Is(err, c.want) {
			t.Errorf("FileAppeal(%s) = %v, want %v", c.name, err, c.want)
		}
	}
	// The last moment of the window is still inside it.
	fileAppeal(t, l, closed.DecisionID, T0.Add(appealWindow))
	if as, _, err := l.ListAppeals(ctxOf(t), ledger.AppealFilter{}); err != nil || len(as) != 1 {
		t.Errorf("ListAppeals after refusals = %d appeals, %v; want 1 (nothing stored by a refusal)", len(as), err)
	}
}

func testResolveAppeal(t *testing.T, open Opener) {
	l := open(t)
	const s = "s-appeal-resolve"
	rec := Record(s, payout, T0, decision.Restrict, "PAYOUT_ACCOUNT_SHARED")
	rec.Verdict.Restrictions = []decision.Restriction{{Capability: "payouts"}, {Capability: "withdrawals"}}
	rec.Verdict.Strike = true
	commit(t, l, rec)
	kept := Record(s, login, T0.Add(time.Minute), decision.Suspend, "DOCUMENT_REUSED")
	kept.Verdict.Strike = true
	commit(t, l, kept)
	if h := history(t, l, s, T0.Add(time.Hour)); h.Strikes != 2 || len(h.Holds) != 2 || !h.Suspended {
		t.Fatalf("History before the appeals = %+v", h)
	}

	over := fileAppeal(t, l, rec.DecisionID, T0.Add(time.Hour))
	upheld := fileAppeal(t, l, kept.DecisionID, T0.Add(time.Hour))
	if _, err := l.ResolveAppeal(ctxOf(t), ledger.AppealResolution{AppealID: over.AppealID, Outcome: ledger.AppealOverturned, At: T0}); err == nil {
		t.Errorf("ResolveAppeal without a reviewer = nil error")
	}
	got, err := l.ResolveAppeal(ctxOf(t), ledger.AppealResolution{
		AppealID: over.AppealID, Outcome: ledger.AppealOverturned, Reviewer: "r.okafor", ResolvedBy: "appeals-desk",
		Note: "agency account, documented", At: T0.Add(2 * time.Hour),
	})
	if err != nil {
		t.Fatalf("ResolveAppeal(overturned) = %v", err)
	}
	if got.Status != ledger.AppealOverturned || got.Reviewer != "r.okafor" || got.ResolvedBy != "appeals-desk" ||
		!got.ResolvedAt.Equal(T0.Add(2*time.Hour)) || got.Note != "agency account, documented" {
		t.Errorf("ResolveAppeal(overturned) = %+v", got)
	}
	if _, err := l.ResolveAppeal(ctxOf(t), ledger.AppealResolution{AppealID: over.AppealID, Outcome: ledger.AppealUpheld, Reviewer: "x", At: T0}); !errors.Is(err, ledger.ErrAlreadyResolved) {
		t.Errorf("ResolveAppeal twice = %v, want ErrAlreadyResolved", err)
	}
	if _, err := l.ResolveAppeal(ctxOf(t), ledger.AppealResolution{AppealID: uuid.NewString(), Outcome: ledger.AppealUpheld, Reviewer: "x", At: T0}); !errors.Is(err, decision.ErrNotFound) {
		t.Errorf("ResolveAppeal(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := l.ResolveAppeal(ctxOf(t), ledger.AppealResolution{AppealID: upheld.AppealID, Outcome: ledger.AppealUpheld, Reviewer: "r.okafor", At: T0.Add(2 * time.Hour)}); err != nil {
		t.Fatalf("ResolveAppeal(upheld) = %v", err)
	}

	h := history(t, l, s, T0.Add(3*time.Hour))
	if h.Strikes != 1 || !slices.Equal(h.StrikeCode, []string{"DOCUMENT_REUSED"}) || len(h.Holds) != 0 || !h.Suspended || h.Overturned != 1 {
		t.Errorf("History after the appeals = %d strikes %v, %d holds, suspended %v, %d overturned; want 1 [DOCUMENT_REUSED], 0, true, 1",
			h.Strikes, h.StrikeCode, len(h.Holds), h.Suspended, h.Overturned)
	}
	recs, _, err := l.List(ctxOf(t), s, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		wantOver, wantStatus := r.DecisionID == rec.DecisionID, "upheld"
		if wantOver {
			wantStatus = "overturned"
		}
		if r.Overturned != wantOver || r.AppealStatus != wantStatus {
			t.Errorf("List: %s overturned %v appeal %q, want %v %q", r.DecisionID, r.Overturned, r.AppealStatus, wantOver, wantStatus)
		}
	}
	// Overturned: nothing left to appeal. Upheld: may be appealed again.
	if _, err := l.FileAppeal(ctxOf(t), ledger.AppealFiling{DecisionID: rec.DecisionID, Statement: "x", At: T0.Add(4 * time.Hour), Window: appealWindow}); !errors.Is(err, ledger.ErrNotAppealable) {
		t.Errorf("FileAppeal(overturned decision) = %v, want ErrNotAppealable", err)
	}
	fileAppeal(t, l, kept.DecisionID, T0.Add(4*time.Hour))
}

func testConcurrentResolve(t *testing.T, open Opener) {
	l := open(t)
	rec := Record("s-appeal-race", payout, T0, decision.Restrict, "PAYOUT_ACCOUNT_SHARED")
	rec.Verdict.Strike = true
	commit(t, l, rec)
	a := fileAppeal(t, l, rec.DecisionID, T0)
	var (
		wg              sync.WaitGroup
		mu              sync.Mutex
		resolved, twice int
	)
	for i := range 8 {
		wg.Go(func() {
			outcome := ledger.AppealUpheld
			if i%2 == 0 {
				outcome = ledger.AppealOverturned
			}
			_, err := l.ResolveAppeal(ctxOf(t), ledger.AppealResolution{AppealID: a.AppealID, Outcome: outcome, Reviewer: "r", At: T0})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				resolved++
			case errors.Is(err, ledger.ErrAlreadyResolved):
				twice++
			default:
				t.Errorf("ResolveAppeal #%d = %v", i, err)
			}
		})
	}
	wg.Wait()
	if resolved != 1 || twice != 7 {
		t.Errorf("8 concurrent resolutions: %d resolved, %d already resolved; want 1 and 7", resolved, twice)
	}
}

func testListAppeals(t *testing.T, open Opener) {
	l := open(t)
	var ids []string
	for i := range 5 {
		cp, code := payout, "PAYOUT_ACCOUNT_SHARED"
		if i%2 == 1 {
			cp, code = login, "DEVICE_SHARED"
		}
		rec := Record("s-queue", cp, T0, decision.Restrict, code)
		rec.Verdict.Strike = true
		commit(t, l, rec)
		// Filed newest first, so queue order is not insertion order.
		ids = append(ids, fileAppeal(t, l, rec.DecisionID, T0.Add(time.Duration(5-i)*time.Minute)).AppealID)
	}
	var got []string
	token := ""
	for range 5 {
		as, next, err := l.ListAppeals(ctxOf(t), ledger.AppealFilter{PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatalf("ListAppeals(page %q) = %v", token, err)
		}
		for _, a := range as {
			got = append(got, a.AppealID)
		}
		if token = next; token == "" {
			break
		}
	}
	want := slices.Clone(ids)
	slices.Reverse(want)
	if !slices.Equal(got, want) {
		t.Errorf("ListAppeals pages = %v, want oldest first %v", got, want)
	}
	if as, _, err := l.ListAppeals(ctxOf(t), ledger.AppealFilter{Checkpoint: login}); err != nil || len(as) != 2 {
		t.Errorf("ListAppeals(checkpoint login) = %d, %v; want 2", len(as), err)
	}
	if as, _, err := l.ListAppeals(ctxOf(t), ledger.AppealFilter{ReasonCode: "PAYOUT_ACCOUNT_SHARED"}); err != nil || len(as) != 3 {
		t.Errorf("ListAppeals(code PAYOUT_ACCOUNT_SHARED) = %d, %v; want 3", len(as), err)
	}
	if as, _, err := l.ListAppeals(ctxOf(t), ledger.AppealFilter{Status: ledger.AppealOverturned}); err != nil || len(as) != 0 {
		t.Errorf("ListAppeals(overturned) = %d, %v; want 0", len(as), err)
	}
	_, next, _ := l.ListAppeals(ctxOf(t), ledger.AppealFilter{PageSize: 1})
	if _, _, err := l.ListAppeals(ctxOf(t), ledger.AppealFilter{Checkpoint: login, PageToken: next}); !errors.Is(err, ledger.ErrBadPageToken) {
		t.Errorf("ListAppeals(token of another filter) = %v, want ErrBadPageToken", err)
	}
}

func testRuleStats(t *testing.T, open Opener) {
	l := open(t)
	const s = "s-stats"
	mk := func(action decision.Action, codes ...string) *decision.Record {
		rec := Record(s, payout, T0, action, codes...)
		rec.Verdict.Strike = action >= decision.Restrict
		return commit(t, l, rec)
	}
	a := mk(decision.Restrict, "PAYOUT_ACCOUNT_SHARED", "PHONE_VOIP")
	b := mk(decision.Restrict, "PAYOUT_ACCOUNT_SHARED")
	mk(decision.Restrict, "PAYOUT_ACCOUNT_SHARED")
	mk(decision.Warn, "PHONE_VOIP")
	dry := Record(s, payout, T0, decision.Restrict, "PAYOUT_ACCOUNT_SHARED")
	dry.DryRun = true
	commit(t, l, dry)

	pa := fileAppeal(t, l, a.DecisionID, T0.Add(time.Hour))
	pb := fileAppeal(t, l, b.DecisionID, T0.Add(time.Hour))
	for _, r := range []ledger.AppealResolution{
		{AppealID: pa.AppealID, Outcome: ledger.AppealOverturned, Reviewer: "r", At: T0.Add(2 * time.Hour)},
		{AppealID: pb.AppealID, Outcome: ledger.AppealUpheld, Reviewer: "r", At: T0.Add(2 * time.Hour)},
	} {
		if _, err := l.ResolveAppeal(ctxOf(t), r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := l.RuleStats(ctxOf(t), time.Time{})
	if err != nil {
		t.Fatalf("RuleStats = %v", err)
	}
	want := []ledger.RuleStat{
		{Code: "PAYOUT_ACCOUNT_SHARED", Fired: 3, Appealed: 2, Overturned: 1},
		{Code: "PHONE_VOIP", Fired: 2, Appealed: 1, Overturned: 1},
	}
	if !slices.Equal(got, want) {
		t.Errorf("RuleStats = %+v, want %+v", got, want)
	}
	if got, err := l.RuleStats(ctxOf(t), T0.Add(time.Second)); err != nil || len(got) != 0 {
		t.Errorf("RuleStats(since after every decision) = %+v, %v; want none", got, err)
	}
	if got, err := l.RuleStatsBetween(ctxOf(t), time.Time{}, T0); err != nil || len(got) != 0 {
		t.Errorf("RuleStatsBetween(until the first decision) = %+v, %v; want none", got, err)
	}
	// A hit on the next day lands in its own bucket.
	mk(decision.Warn, "PHONE_VOIP")
	next := Record(s, payout, T0.Add(24*time.Hour), decision.Warn, "PHONE_VOIP")
	commit(t, l, next)
	days, err := l.RuleDaily(ctxOf(t), T0.Add(-time.Hour), T0.Add(48*time.Hour))
	if err != nil {
		t.Fatalf("RuleDaily = %v", err)
	}
	d0, d1 := T0.UTC().Format("2006-01-02"), T0.Add(24*time.Hour).UTC().Format("2006-01-02")
	wantDays := []ledger.RuleDay{
		{Code: "PAYOUT_ACCOUNT_SHARED", Day: d0, Fired: 3, Appealed: 2, Overturned: 1},
		{Code: "PHONE_VOIP", Day: d0, Fired: 3, Appealed: 1, Overturned: 1},
		{Code: "PHONE_VOIP", Day: d1, Fired: 1},
	}
	if !slices.Equal(days, wantDays) {
		t.Errorf("RuleDaily = %+v, want %+v", days, wantDays)
	}
	// Summed over the days, the daily counts are the period's.
	total, err := l.RuleStatsBetween(ctxOf(t), T0.Add(-time.Hour), T0.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var summed []ledger.RuleStat
	for _, d := range days {
		if len(summed) == 0 || summed[len(summed)-1].Code != d.Code {
			summed = append(summed, ledger.RuleStat{Code: d.Code})
		}
		s := &summed[len(summed)-1]
		s.Fired, s.Appealed, s.Overturned = s.Fired+d.Fired, s.Appealed+d.Appealed, s.Overturned+d.Overturned
	}
	if !slices.Equal(summed, total) {
		t.Errorf("RuleDaily summed = %+v, RuleStatsBetween = %+v", summed, total)
	}
}

func testRestrictive(t *testing.T, open Opener) {
	l := open(t)
	const s = "s-sor"
	var want []string
	for i := range 5 {
		rec := Record(s, payout, T0.Add(time.Duration(i)*time.Minute), decision.Restrict, "PAYOUT_ACCOUNT_SHARED")
		rec.Verdict.Restrictions = []decision.Restriction{{Capability: "payouts"}}
		commit(t, l, rec)
		want = append(want, rec.DecisionID)
	}
	strike := Record(s, idv, T0.Add(10*time.Minute), decision.Challenge, "DOCUMENT_REJECTED")
	strike.Verdict.Strike = true
	commit(t, l, strike)
	want = append(want, strike.DecisionID)
	commit(t, l, Record(s, login, T0.Add(11*time.Minute), decision.Challenge, "COUNTRY_MISMATCH"))
	dry := Record(s, payout, T0.Add(12*time.Minute), decision.Suspend, "DOCUMENT_REUSED")
	dry.DryRun = true
	commit(t, l, dry)
	fb := Record(s, payout, T0.Add(13*time.Minute), decision.Restrict, decision.ReasonPolicyUnavailable)
	fb.Fallback = true
	commit(t, l, fb)
	late := Record(s, payout, T0.Add(day), decision.Suspend, "DOCUMENT_REUSED")
	commit(t, l, late)

	var got []string
	token := ""
	for range 10 {
		recs, next, err := l.Restrictive(ctxOf(t), T0, T0.Add(time.Hour), 2, token)
		if err != nil {
			t.Fatalf("Restrictive = %v", err)
		}
		for _, r := range recs {
			got = append(got, r.DecisionID)
		}
		if token = next; token == "" {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("Restrictive(T0, T0+1h) = %v, want %v", got, want)
	}
}
