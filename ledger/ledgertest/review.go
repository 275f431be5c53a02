package ledgertest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/events"
	"github.com/gavel/gavel/ledger"
)

// reviewed is a restrict the policy marked for review.
func reviewed(subject string, at time.Time, sla time.Duration, codes ...string) *decision.Record {
	rec := Record(subject, payout, at, decision.Restrict, codes...)
	rec.Verdict.Restrictions = []decision.Restriction{{Capability: "payouts", Duration: 30 * day}}
	rec.Verdict.Strike = true
	rec.Verdict.Review = &decision.Review{Codes: codes, SLA: sla}
	return rec
}

func queue(t testing.TB, l *ledger.Ledger, f ledger.QueueFilter) []*ledger.QueueItem {
	t.Helper()
	if f.AppealSLA == 0 {
		f.AppealSLA = 48 * time.Hour
	}
	if f.Now.IsZero() {
		f.Now = T0.Add(time.Hour)
	}
	items, _, err := l.Queue(ctxOf(t), f)
	if err != nil {
		t.Fatalf("Queue(%+v) = %v", f, err)
	}
	return items
}

func ids(items []*ledger.QueueItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

// testReviewCases: a decision marked for review opens a case in its own
// commit; a later one of the same subject joins it; dry runs, fallbacks and
// unmarked decisions open none; a retried request opens no second case.
func testReviewCases(t *testing.T, open Opener) {
	l := open(t)
	first := reviewed("s-case", T0, 24*time.Hour, "MODEL_RISK")
	commit(t, l, first)
	items := queue(t, l, ledger.QueueFilter{Kind: ledger.KindCase})
	if len(items) != 1 {
		t.Fatalf("Queue(cases) after one marked decision = %d items, want 1", len(items))
	}
	it := items[0]
	if it.Kind != ledger.KindCase || !ledger.IsCaseID(it.ID) || it.SubjectID != "s-case" || it.DecisionID != first.DecisionID ||
		it.Checkpoint != payout || it.Action != "restrict" || !slices.Equal(it.Codes, []string{"MODEL_RISK"}) ||
		!it.At.Equal(T0) || !it.Due.Equal(T0.Add(24*time.Hour)) || it.ClaimedBy != "" {
		t.Errorf("queue item = %+v", it)
	}
	// A retry of the same request stores nothing and opens nothing.
	if _, replayed, err := l.Commit(ctxOf(t), first, nil); err != nil || !replayed {
		t.Fatalf("Commit(retry) = replayed %v, %v", replayed, err)
	}
	// A later decision of the subject joins the open case, adds its codes
	// and, being due sooner, moves the due time earlier.
	second := reviewed("s-case", T0.Add(time.Hour), 2*time.Hour, "PAYOUT_HOLDER_MISMATCH")
	commit(t, l, second)
	c, err := l.GetCase(ctxOf(t), it.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != ledger.CaseOpen || !slices.Equal(c.Decisions, []string{first.DecisionID, second.DecisionID}) ||
		!slices.Equal(c.Codes, []string{"MODEL_RISK", "PAYOUT_HOLDER_MISMATCH"}) || !c.DueAt.Equal(T0.Add(3*time.Hour)) ||
		c.DecisionID != first.DecisionID || !c.OpenedAt.Equal(T0) {
		t.Errorf("GetCase after a second decision = %+v", c)
	}

	// The account's standing lists its open case.
	st, err := l.Standing(ctxOf(t), "s-case", T0.Add(2*time.Hour))
	if err != nil || len(st.OpenCases) != 1 || st.OpenCases[0].CaseID != it.ID || !st.OpenCases[0].DueAt.Equal(T0.Add(3*time.Hour)) {
		t.Errorf("Standing(s-case).OpenCases = %+v, %v; want the open case due %v", st.OpenCases, err, T0.Add(3*time.Hour))
	}

	// None of these opens a case.
	dry := reviewed("s-nocase", T0, time.Hour, "MODEL_RISK")
	dry.DryRun = true
	fb := reviewed("s-nocase", T0, time.Hour, "MODEL_RISK")
	fb.Fallback = true
	plain := Record("s-nocase", payout, T0, decision.Restrict, "MODEL_RISK")
	for _, rec := range []*decision.Record{dry, fb, plain} {
		commit(t, l, rec)
	}
	if got := queue(t, l, ledger.QueueFilter{SubjectID: "s-nocase"}); len(got) != 0 {
		t.Errorf("Queue(s-nocase) = %v, want nothing: dry runs, fallbacks and unmarked decisions open no case", ids(got))
	}
	// No SLA from the policy: the default.
	commit(t, l, reviewed("s-nosla", T0, 0, "MODEL_RISK"))
	if got := queue(t, l, ledger.QueueFilter{SubjectID: "s-nosla"}); len(got) != 1 || !got[0].Due.Equal(T0.Add(ledger.DefaultReviewSLA)) {
		t.Errorf("Queue(s-nosla) = %+v, want one case due %v", got, T0.Add(ledger.DefaultReviewSLA))
	}
	if _, err := l.GetCase(ctxOf(t), "case-unknown"); !errors.Is(err, decision.ErrNotFound) {
		t.Errorf("GetCase(unknown) = %v, want ErrNotFound", err)
	}
}

// testReviewQueue: cases and appeals in one queue, oldest first, filtered
// by kind, reason, assignee, unassigned and overdue, paged.
func testReviewQueue(t *testing.T, open Opener) {
	l := open(t)
	c1 := reviewed("s-q1", T0, 2*time.Hour, "MODEL_RISK")
	commit(t, l, c1)
	appealed := Record("s-q2", payout, T0.Add(10*time.Minute), decision.Restrict, "PAYOUT_ACCOUNT_SHARED")
	appealed.Verdict.Strike = true
	commit(t, l, appealed)
	a := fileAppeal(t, l, appealed.DecisionID, T0.Add(20*time.Minute))
	c2 := reviewed("s-q3", T0.Add(30*time.Minute), 48*time.Hour, "DOCUMENT_NAME_MISMATCH")
	commit(t, l, c2)
	all := queue(t, l, ledger.QueueFilter{})
	if len(all) != 3 || all[0].DecisionID != c1.DecisionID || all[1].ID != a.AppealID || all[2].DecisionID != c2.DecisionID {
		t.Fatalf("Queue() = %v, want case of s-q1, appeal %s, case of s-q3, oldest first", ids(all), a.AppealID)
	}
	if ap := all[1]; ap.Kind != ledger.KindAppeal || !ap.Due.Equal(a.FiledAt.Add(48*time.Hour)) ||
		!slices.Equal(ap.Codes, []string{"PAYOUT_ACCOUNT_SHARED"}) || ap.SubjectID != "s-q2" || ap.Action != "restrict" {
		t.Errorf("appeal in the queue = %+v", ap)
	}
	case1, case2 := all[0].ID, all[2].ID

	for _, c := range []struct {
		name string
		f    ledger.QueueFilter
		want []string
	}{
		{"cases", ledger.QueueFilter{Kind: ledger.KindCase}, []string{case1, case2}},
		{"appeals", ledger.QueueFilter{Kind: ledger.KindAppeal}, []string{a.AppealID}},
		{"reason of a case", ledger.QueueFilter{ReasonCode: "DOCUMENT_NAME_MISMATCH"}, []string{case2}},
		{"reason of an appeal", ledger.QueueFilter{ReasonCode: "PAYOUT_ACCOUNT_SHARED"}, []string{a.AppealID}},
		{"no such reason", ledger.QueueFilter{ReasonCode: "EMAIL_INVALID"}, nil},
		{"subject", ledger.QueueFilter{SubjectID: "s-q3"}, []string{case2}},
		// At T0+3h the first case (due T0+2h) is overdue; the appeal
		// (due filed+48h) and the second case are not.
		{"overdue", ledger.QueueFilter{Overdue: true, Now: T0.Add(3 * time.Hour)}, []string{case1}},
		{"overdue appeals", ledger.QueueFilter{Overdue: true, Now: T0.Add(48*time.Hour + 25*time.Minute)}, []string{case1, a.AppealID}},
		{"overdue with a shorter appeal SLA", ledger.QueueFilter{Overdue: true, Now: T0.Add(3 * time.Hour), AppealSLA: time.Hour}, []string{case1, a.AppealID}},
	} {
		if got := ids(queue(t, l, c.f)); !slices.Equal(got, c.want) {
			t.Errorf("Queue(%s) = %v, want %v", c.name, got, c.want)
		}
	}

	// Claims: a case and an appeal claimed by two reviewers.
	at := T0.Add(time.Hour)
	if _, err := l.ClaimCase(ctxOf(t), ledger.CaseClaim{CaseID: case2, Reviewer: "ana", At: at, For: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ClaimAppeal(ctxOf(t), ledger.AppealClaim{AppealID: a.AppealID, Reviewer: "ana", At: at, For: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if got := ids(queue(t, l, ledger.QueueFilter{Assignee: "ana", Now: at})); !slices.Equal(got, []string{a.AppealID, case2}) {
		t.Errorf("Queue(assignee ana) = %v, want the appeal and the second case", got)
	}
	if got := ids(queue(t, l, ledger.QueueFilter{Unassigned: true, Now: at})); !slices.Equal(got, []string{case1}) {
		t.Errorf("Queue(unassigned) = %v, want the first case", got)
	}
	// Once ana's claims lapse, they are no one's.
	if got := ids(queue(t, l, ledger.QueueFilter{Assignee: "ana", Now: at.Add(2 * time.Hour)})); len(got) != 0 {
		t.Errorf("Queue(assignee ana) after the claims lapsed = %v, want none", got)
	}

	// Pages of one, in order, with a token bound to its query.
	var paged []string
	token := ""
	for range 5 {
		items, next, err := l.Queue(ctxOf(t), ledger.QueueFilter{PageSize: 1, PageToken: token, Now: at, AppealSLA: 48 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, ids(items)...)
		if next == "" {
			break
		}
		token = next
	}
	if !slices.Equal(paged, ids(all)) {
		t.Errorf("Queue pages of one = %v, want %v", paged, ids(all))
	}
	_, next, err := l.Queue(ctxOf(t), ledger.QueueFilter{PageSize: 1, Now: at, AppealSLA: time.Hour})
	if err != nil || next == "" {
		t.Fatalf("Queue(page 1) = %q, %v", next, err)
	}
	if _, _, err := l.Queue(ctxOf(t), ledger.QueueFilter{Kind: ledger.KindCase, PageToken: next, Now: at, AppealSLA: time.Hour}); !errors.Is(err, ledger.ErrBadPageToken) {
		t.Errorf("Queue(token of another query) = %v, want ErrBadPageToken", err)
	}
	if _, _, err := l.Queue(ctxOf(t), ledger.QueueFilter{Kind: "ticket", Now: at, AppealSLA: time.Hour}); err == nil {
		t.Error("Queue(kind ticket) = nil error, want one")
	}
}

// testReviewResolve: claiming, upholding, and resolving by a manual
// action in the action's own transaction; the refusals.
func testReviewResolve(t *testing.T, open Opener) {
	l := open(t)
	rec := reviewed("s-resolve", T0, 24*time.Hour, "MODEL_RISK")
	commit(t, l, rec)
	id := queue(t, l, ledger.QueueFilter{SubjectID: "s-resolve"})[0].ID
	at := T0.Add(time.Hour)
	claim := func(who string, at time.Time, release bool) (*ledger.Case, error) {
		return l.ClaimCase(ctxOf(t), ledger.CaseClaim{CaseID: id, Reviewer: who, At: at, For: 30 * time.Minute, Release: release})
	}
	if c, err := claim("ana", at, false); err != nil || c.ClaimedAt(at) != "ana" {
		t.Fatalf("ClaimCase(ana) = %+v, %v", c, err)
	}
	if _, err := claim("bo", at.Add(time.Minute), false); !errors.Is(err, ledger.ErrCaseClaimed) {
		t.Errorf("ClaimCase(bo) while ana holds it = %v, want ErrCaseClaimed", err)
	}
	if _, err := l.ResolveCase(ctxOf(t), ledger.CaseResolution{CaseID: id, Reviewer: "bo", At: at.Add(time.Minute)}); !errors.Is(err, ledger.ErrCaseClaimed) {
		t.Errorf("ResolveCase(bo) while ana holds it = %v, want ErrCaseClaimed", err)
	}
	// A manual action by bo naming the case is refused whole: no decision.
	lift := manual("s-resolve", at.Add(2*time.Minute), decision.ManualLift, decision.Allow, decision.Manual{Capabilities: []string{"payouts"}, CaseID: id})
	lift.Manual.Reviewer = "bo"
	if _, _, err := l.Commit(ctxOf(t), lift, nil); !errors.Is(err, decision.ErrPrecondition) || !errors.Is(err, ledger.ErrCaseClaimed) {
		t.Errorf("Commit(lift by bo naming ana's case) = %v, want ErrPrecondition and ErrCaseClaimed", err)
	}
	if _, err := l.Get(ctxOf(t), lift.DecisionID); !errors.Is(err, decision.ErrNotFound) {
		t.Errorf("Get(refused lift) = %v, want ErrNotFound: nothing stored", err)
	}
	if h := history(t, l, "s-resolve", at.Add(3*time.Minute)); len(h.Holds) != 1 {
		t.Errorf("holds after the refused lift = %+v, want the payouts hold", h.Holds)
	}
	// ana lifts: the decision and the case's resolution commit together.
	lift = manual("s-resolve", at.Add(4*time.Minute), decision.ManualLift, decision.Allow, decision.Manual{Capabilities: []string{"payouts"}, CaseID: id, Caller: "console"})
	lift.Manual.Reviewer = "ana"
	commit(t, l, lift)
	c, err := l.GetCase(ctxOf(t), id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != ledger.CaseResolved || c.Resolution != ledger.ResolveLift || c.ActionDecisionID != lift.DecisionID ||
		c.Reviewer != "ana" || c.ResolvedBy != "console" || c.Note != "documents forged" || !c.ResolvedAt.Equal(at.Add(4*time.Minute)) || c.ClaimedBy != "" {
		t.Errorf("case after the lift = %+v", c)
	}
	if h := history(t, l, "s-resolve", at.Add(5*time.Minute)); len(h.Holds) != 0 {
		t.Errorf("holds after the lift = %+v, want none", h.Holds)
	}
	if got := queue(t, l, ledger.QueueFilter{SubjectID: "s-resolve"}); len(got) != 0 {
		t.Errorf("Queue after resolving = %v, want empty", ids(got))
	}
	// Resolving again, either way, is refused; so is claiming.
	if _, err := l.ResolveCase(ctxOf(t), ledger.CaseResolution{CaseID: id, Reviewer: "ana", At: at.Add(6 * time.Minute)}); !errors.Is(err, ledger.ErrCaseResolved) {
		t.Errorf("ResolveCase(resolved) = %v, want ErrCaseResolved", err)
	}
	susp := manual("s-resolve", at.Add(7*time.Minute), decision.ManualSuspend, decision.Suspend, decision.Manual{CaseID: id})
	if _, _, err := l.Commit(ctxOf(t), susp, nil); !errors.Is(err, decision.ErrPrecondition) || !errors.Is(err, ledger.ErrCaseResolved) {
		t.Errorf("Commit(suspend naming a resolved case) = %v, want ErrPrecondition and ErrCaseResolved", err)
	}
	if _, err := claim("ana", at.Add(8*time.Minute), false); !errors.Is(err, ledger.ErrCaseResolved) {
		t.Errorf("ClaimCase(resolved) = %v, want ErrCaseResolved", err)
	}

	// A new marked decision opens a new case, since the first is closed;
	// upholding it changes nothing on the account.
	commit(t, l, reviewed("s-resolve", at.Add(10*time.Minute), time.Hour, "MODEL_RISK"))
	items := queue(t, l, ledger.QueueFilter{SubjectID: "s-resolve", Now: at.Add(11 * time.Minute)})
	if len(items) != 1 || items[0].ID == id {
		t.Fatalf("Queue after a new marked decision = %v, want one new case", ids(items))
	}
	// A case of another subject cannot be resolved by this one's action.
	other := manual("s-other", at.Add(12*time.Minute), decision.ManualSuspend, decision.Suspend, decision.Manual{CaseID: items[0].ID})
	if _, _, err := l.Commit(ctxOf(t), other, nil); !errors.Is(err, decision.ErrPrecondition) {
		t.Errorf("Commit(suspend of s-other naming s-resolve's case) = %v, want ErrPrecondition", err)
	}
	up, err := l.ResolveCase(ctxOf(t), ledger.CaseResolution{CaseID: items[0].ID, Reviewer: "bo", ResolvedBy: "cli", Note: "model right", At: at.Add(13 * time.Minute)})
	if err != nil || up.Status != ledger.CaseResolved || up.Resolution != ledger.ResolveUphold || up.ActionDecisionID != "" || up.Reviewer != "bo" {
		t.Errorf("ResolveCase(uphold) = %+v, %v", up, err)
	}
	if h := history(t, l, "s-resolve", at.Add(14*time.Minute)); len(h.Holds) != 1 {
		t.Errorf("holds after upholding = %+v, want the new decision's hold", h.Holds)
	}
	if _, err := l.ResolveCase(ctxOf(t), ledger.CaseResolution{CaseID: "case-unknown", Reviewer: "bo", At: at}); !errors.Is(err, decision.ErrNotFound) {
		t.Errorf("ResolveCase(unknown) = %v, want ErrNotFound", err)
	}
}

// testReviewNotes: notes on cases and appeals, oldest first; unknown items
// are refused.
func testReviewNotes(t *testing.T, open Opener) {
	l := open(t)
	commit(t, l, reviewed("s-notes", T0, time.Hour, "MODEL_RISK"))
	id := queue(t, l, ledger.QueueFilter{SubjectID: "s-notes"})[0].ID
	for i, body := range []string{"called the account holder", "documents look fine"} {
		n, err := l.AddNote(ctxOf(t), ledger.Note{Kind: ledger.KindCase, ItemID: id, Author: "ana", At: T0.Add(time.Duration(i+1) * time.Minute), Body: body})
		if err != nil || n.NoteID == "" {
			t.Fatalf("AddNote(%q) = %+v, %v", body, n, err)
		}
	}
	notes, err := l.Notes(ctxOf(t), id)
	if err != nil || len(notes) != 2 || notes[0].Body != "called the account holder" || notes[1].Author != "ana" || !notes[1].At.Equal(T0.Add(2*time.Minute)) {
		t.Errorf("Notes(case) = %+v, %v", notes, err)
	}
	appealed := Record("s-notes-a", payout, T0, decision.Restrict, "PAYOUT_ACCOUNT_SHARED")
	appealed.Verdict.Strike = true
	commit(t, l, appealed)
	a := fileAppeal(t, l, appealed.DecisionID, T0.Add(time.Minute))
	if _, err := l.AddNote(ctxOf(t), ledger.Note{Kind: ledger.KindAppeal, ItemID: a.AppealID, Author: "bo", At: T0, Body: "asked for the contract"}); err != nil {
		t.Fatal(err)
	}
	if notes, err := l.Notes(ctxOf(t), a.AppealID); err != nil || len(notes) != 1 || notes[0].Kind != ledger.KindAppeal {
		t.Errorf("Notes(appeal) = %+v, %v", notes, err)
	}
	if _, err := l.AddNote(ctxOf(t), ledger.Note{Kind: ledger.KindCase, ItemID: "case-unknown", Author: "bo", At: T0, Body: "x"}); !errors.Is(err, decision.ErrNotFound) {
		t.Errorf("AddNote(unknown case) = %v, want ErrNotFound", err)
	}
	if _, err := l.AddNote(ctxOf(t), ledger.Note{Kind: ledger.KindAppeal, ItemID: id, Author: "bo", At: T0, Body: "x"}); !errors.Is(err, decision.ErrNotFound) {
		t.Errorf("AddNote(a case id as an appeal) = %v, want ErrNotFound", err)
	}
}

// testReviewEvents: a case opened and a case resolved each write their
// event in the transaction that opens or resolves the case, after the
// decision's own; a decision joining an open case writes none.
func testReviewEvents(t *testing.T, open Opener) {
	l := open(t)
	const s = "s-case-events"
	first := reviewed(s, T0, time.Hour, "MODEL_RISK")
	commit(t, l, first)
	commit(t, l, reviewed(s, T0.Add(time.Minute), time.Hour, "MODEL_RISK")) // joins: no event
	id := queue(t, l, ledger.QueueFilter{SubjectID: s})[0].ID
	lift := manual(s, T0.Add(2*time.Minute), decision.ManualLift, decision.Allow, decision.Manual{Capabilities: []string{"payouts"}, CaseID: id})
	commit(t, l, lift)
	// A second case, upheld.
	commit(t, l, reviewed(s, T0.Add(3*time.Minute), time.Hour, "PAYOUT_HOLDER_MISMATCH"))
	second := queue(t, l, ledger.QueueFilter{SubjectID: s, Now: T0.Add(4 * time.Minute)})[0].ID
	if _, err := l.ResolveCase(ctxOf(t), ledger.CaseResolution{CaseID: second, Reviewer: "ana", Note: "fine", At: T0.Add(5 * time.Minute)}); err != nil {
		t.Fatal(err)
	}

	var got []events.Event
	for _, e := range drain(t, l, T0.Add(time.Hour))[s] {
		if e.Type == events.TypeCaseOpened || e.Type == events.TypeCaseResolved {
			got = append(got, e)
		}
	}
	want := []string{events.TypeCaseOpened, events.TypeCaseResolved, events.TypeCaseOpened, events.TypeCaseResolved}
	if !slices.Equal(typesOf(got), want) {
		t.Fatalf("case events = %v, want %v", typesOf(got), want)
	}
	opened := dataOf[events.CaseData](t, got[0])
	if opened.CaseID != id || opened.SubjectID != s || opened.DecisionID != first.DecisionID ||
		!slices.Equal(opened.Reasons, []string{"MODEL_RISK"}) || opened.Resolution != "" || !opened.At.Equal(T0) {
		t.Errorf("case opened data = %+v", opened)
	}
	resolved := dataOf[events.CaseData](t, got[1])
	if resolved.CaseID != id || resolved.Resolution != ledger.ResolveLift || resolved.ResolvedBy != lift.DecisionID {
		t.Errorf("case resolved (lift) data = %+v", resolved)
	}
	upheld := dataOf[events.CaseData](t, got[3])
	if upheld.CaseID != second || upheld.Resolution != ledger.ResolveUphold || upheld.ResolvedBy != "" ||
		!slices.Equal(upheld.Reasons, []string{"PAYOUT_HOLDER_MISMATCH"}) {
		t.Errorf("case resolved (uphold) data = %+v", upheld)
	}
	// A refused resolution writes nothing: the outbox stays empty.
	if _, err := l.ResolveCase(ctxOf(t), ledger.CaseResolution{CaseID: second, Reviewer: "ana", Note: "again", At: T0.Add(6 * time.Minute)}); !errors.Is(err, ledger.ErrCaseResolved) {
		t.Fatalf("ResolveCase(again) = %v, want ErrCaseResolved", err)
	}
	if more := drain(t, l, T0.Add(2*time.Hour))[s]; len(more) != 0 {
		t.Errorf("events after a refused resolution = %v, want none", typesOf(more))
	}
}
