package ledgertest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
)

// testSearch commits a small history and checks every filter of
// SearchDecisions, alone and combined, against the decisions it should
// select, newest first.
func testSearch(t *testing.T, open Opener) {
	l := open(t)
	ctx := ctxOf(t)
	type made struct {
		id  string
		rec *decision.Record
	}
	var all []made
	add := func(subject, cp string, at time.Time, a decision.Action, codes ...string) string {
		rec := Record(subject, cp, at, a, codes...)
		rec.Verdict.BundleRevision = "r1"
		if at.After(T0.Add(5 * time.Hour)) {
			rec.Verdict.BundleRevision = "r2"
		}
		got := commit(t, l, rec)
		all = append(all, made{got.DecisionID, got})
		return got.DecisionID
	}
	s1 := add("s-1", signup, T0, decision.Suspend, "MODEL_RISK")
	w1 := add("s-2", login, T0.Add(time.Hour), decision.Warn, "EMAIL_DISPOSABLE")
	r1 := add("s-3", payout, T0.Add(2*time.Hour), decision.Restrict, "PAYOUT_ACCOUNT_SHARED", "MODEL_RISK")
	fbRec := Record("s-4", signup, T0.Add(3*time.Hour), decision.Challenge, decision.ReasonPolicyUnavailable)
	fbRec.Fallback = true
	fb := commit(t, l, fbRec).DecisionID
	s2 := add("s-1", login, T0.Add(6*time.Hour), decision.Suspend, "ACCOUNT_SUSPENDED")
	a1 := add("s-5", signup, T0.Add(7*time.Hour), decision.Allow)
	r2 := add("s-6", signup, T0.Add(8*time.Hour), decision.Restrict, "MODEL_RISK")
	m1 := commit(t, l, manual("s-7", T0.Add(8*time.Hour+time.Minute), decision.ManualSuspend, decision.Suspend, decision.Manual{})).DecisionID

	// Appeals: r1 open, r2 overturned.
	fileAppeal(t, l, r1, T0.Add(9*time.Hour))
	ap := fileAppeal(t, l, r2, T0.Add(9*time.Hour))
	if _, err := l.ResolveAppeal(ctx, ledger.AppealResolution{AppealID: ap.AppealID, Outcome: ledger.AppealOverturned,
		Reviewer: "Rita", ResolvedBy: "desk", At: T0.Add(10 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// The shadow disagrees with a1 and agrees with w1.
	if err := l.RecordShadow(ctx, a1, decision.ShadowVerdict{Verdict: decision.Verdict{Action: decision.Challenge, BundleRevision: "cand"}, EvaluatedAt: T0.Add(7 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := l.RecordShadow(ctx, w1, decision.ShadowVerdict{Verdict: decision.Verdict{Action: decision.Warn, BundleRevision: "cand"}, EvaluatedAt: T0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	yes, no := true, false
	cases := []struct {
		name string
		f    ledger.SearchFilter
		want []string
	}{
		{"everything", ledger.SearchFilter{}, []string{m1, r2, a1, s2, fb, r1, w1, s1}},
		{"since", ledger.SearchFilter{Since: T0.Add(2 * time.Hour)}, []string{m1, r2, a1, s2, fb, r1}},
		{"until", ledger.SearchFilter{Until: T0.Add(2 * time.Hour)}, []string{w1, s1}},
		{"range", ledger.SearchFilter{Since: T0.Add(time.Hour), Until: T0.Add(7 * time.Hour)}, []string{s2, fb, r1, w1}},
		{"checkpoint", ledger.SearchFilter{Checkpoint: signup}, []string{r2, a1, fb, s1}},
		{"action", ledger.SearchFilter{Action: decision.Suspend}, []string{m1, s2, s1}},
		{"reason", ledger.SearchFilter{ReasonCode: "MODEL_RISK"}, []string{r2, r1, s1}},
		{"reason and action", ledger.SearchFilter{ReasonCode: "MODEL_RISK", Action: decision.Suspend}, []string{s1}},
		{"suspend at signup since", ledger.SearchFilter{Action: decision.Suspend, Checkpoint: signup, Since: T0.Add(-time.Hour)}, []string{s1}},
		{"subject", ledger.SearchFilter{SubjectID: "s-1"}, []string{s2, s1}},
		{"revision", ledger.SearchFilter{BundleRevision: "r2"}, []string{r2, a1, s2}},
		{"fallback", ledger.SearchFilter{Fallback: &yes}, []string{fb}},
		{"not fallback", ledger.SearchFilter{Fallback: &no, Checkpoint: signup}, []string{r2, a1, s1}},
		{"appeal open", ledger.SearchFilter{Appeal: ledger.AppealOpen}, []string{r1}},
		{"appeal overturned", ledger.SearchFilter{Appeal: ledger.AppealOverturned}, []string{r2}},
		{"appealed", ledger.SearchFilter{Appeal: ledger.AppealAny}, []string{r2, r1}},
		{"never appealed restricts", ledger.SearchFilter{Appeal: ledger.AppealNone, Action: decision.Restrict}, nil},
		{"shadow disagrees", ledger.SearchFilter{ShadowDisagrees: true}, []string{a1}},
		{"nothing", ledger.SearchFilter{Checkpoint: "withdrawal"}, nil},
		{"automated", ledger.SearchFilter{Source: decision.SourcePolicy, Action: decision.Suspend}, []string{s2, s1}},
		{"manual", ledger.SearchFilter{Source: decision.SourceManual}, []string{m1}},
	}
	for _, c := range cases {
		recs, next, err := l.SearchDecisions(ctx, c.f, 50, "")
		if err != nil {
			t.Errorf("SearchDecisions(%s) = %v", c.name, err)
			continue
		}
		var got []string
		for _, r := range recs {
			got = append(got, r.DecisionID)
		}
		if d := cmp.Diff(c.want, got); d != "" || next != "" {
			t.Errorf("SearchDecisions(%s) next %q (-want +got):\n%s", c.name, next, d)
		}
	}
	// Records come annotated with what became of them.
	recs, _, err := l.SearchDecisions(ctx, ledger.SearchFilter{Appeal: ledger.AppealOverturned}, 10, "")
	if err != nil || len(recs) != 1 || !recs[0].Overturned || recs[0].AppealStatus != "overturned" {
		t.Errorf("SearchDecisions(overturned) = %+v, %v; want it marked overturned", recs, err)
	}
	if _, _, err := l.SearchDecisions(ctx, ledger.SearchFilter{Appeal: "maybe"}, 10, ""); !errors.Is(err, ledger.ErrBadFilter) {
		t.Errorf("SearchDecisions(appeal maybe) = %v, want ErrBadFilter", err)
	}
	_ = all
}

// testSearchPaging pages through one filter and checks that pages join
// into the whole result once, in order, stable under inserts, and that a
// token of one query is refused by another.
func testSearchPaging(t *testing.T, open Opener) {
	l := open(t)
	ctx := ctxOf(t)
	var want []string
	for i := range 23 {
		cp := signup
		if i%3 == 0 {
			cp = login
		}
		// Two decisions share each time: the id breaks the tie.
		rec := commit(t, l, Record(fmt.Sprintf("p-%d", i), cp, T0.Add(time.Duration(i/2)*time.Minute), decision.Restrict, "MODEL_RISK"))
		if cp == signup {
			want = append([]string{rec.DecisionID}, want...)
		}
	}
	// Newest first, ties broken by id descending.
	recs, _, err := l.SearchDecisions(ctx, ledger.SearchFilter{Checkpoint: signup}, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	want = want[:0]
	for _, r := range recs {
		want = append(want, r.DecisionID)
	}
	if len(want) != 15 {
		t.Fatalf("%d signup decisions, want 15", len(want))
	}
	for i, f := range []ledger.SearchFilter{{Checkpoint: signup}, {Checkpoint: signup, ReasonCode: "MODEL_RISK"}} {
		all, _, err := l.SearchDecisions(ctx, f, 100, "")
		if err != nil {
			t.Fatal(err)
		}
		want := want[:0:0]
		for _, r := range all {
			want = append(want, r.DecisionID)
		}
		if len(want) != 15+i {
			t.Errorf("search %+v found %d, want %d", f, len(want), 15+i)
		}
		var got []string
		token := ""
		for page := 0; ; page++ {
			recs, next, err := l.SearchDecisions(ctx, f, 4, token)
			if err != nil {
				t.Fatalf("page %d: %v", page, err)
			}
			for _, r := range recs {
				got = append(got, r.DecisionID)
			}
			if page == 0 {
				// A newer decision arriving between pages shifts nothing.
				commit(t, l, Record("late", signup, T0.Add(time.Hour), decision.Restrict, "MODEL_RISK"))
			}
			if next == "" {
				break
			}
			token = next
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("paged search %+v (-want +got):\n%s", f, d)
		}
	}
	_, next, err := l.SearchDecisions(ctx, ledger.SearchFilter{Checkpoint: signup}, 2, "")
	if err != nil || next == "" {
		t.Fatalf("first page: %v, next %q", err, next)
	}
	if _, _, err := l.SearchDecisions(ctx, ledger.SearchFilter{Checkpoint: login}, 2, next); !errors.Is(err, ledger.ErrBadPageToken) {
		t.Errorf("token of another query = %v, want ErrBadPageToken", err)
	}
}

// testListAppealsAll lists every appeal, whatever its status, oldest first.
func testListAppealsAll(t *testing.T, open Opener) {
	l := open(t)
	ctx := ctxOf(t)
	var ids []string
	for i := range 3 {
		rec := commit(t, l, Record(fmt.Sprintf("aa-%d", i), payout, T0, decision.Restrict, "PAYOUT_ACCOUNT_SHARED"))
		ids = append(ids, fileAppeal(t, l, rec.DecisionID, T0.Add(time.Duration(i+1)*time.Hour)).AppealID)
	}
	if _, err := l.ResolveAppeal(ctx, ledger.AppealResolution{AppealID: ids[1], Outcome: ledger.AppealUpheld,
		Reviewer: "Rita", ResolvedBy: "desk", At: T0.Add(5 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	as, _, err := l.ListAppeals(ctx, ledger.AppealFilter{Status: ledger.AppealAny})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range as {
		got = append(got, a.AppealID)
	}
	if d := cmp.Diff(ids, got); d != "" {
		t.Errorf("ListAppeals(any) (-want +got):\n%s", d)
	}
	open2, _, err := l.ListAppeals(ctx, ledger.AppealFilter{})
	if err != nil || len(open2) != 2 {
		t.Errorf("ListAppeals(open) = %d, %v; want 2", len(open2), err)
	}
}
