package tests

import (
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/chromedp/chromedp"

	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
	enforcementv1 "github.com/gavel/gavel/proto/gavel/enforcement/v1"
	reviewv1 "github.com/gavel/gavel/proto/gavel/review/v1"
)

// TestConsoleReviewQueue works cases in Chromium: the queue lists the cases
// the policy opened beside an appeal, oldest first; the kind filter keeps
// the cases; a reviewer opens a case, claims it, adds a note and lifts its
// holds; a lift with nothing to lift is refused on the page; n claims and
// opens the next item.
func TestConsoleReviewQueue(t *testing.T) {
	g := consoleGavel(t, detectorsOff(t)...)
	c := g.decisions(withToken(consoleDecideToken))
	first := decideOK(t, c, at("acct-console-case-1", "payout_method_change", fraudScore(0.95)))
	second := decideOK(t, c, at("acct-console-case-2", "login", fraudScore(0.8)))
	_, appeal := appealedRestriction(t, g, "queue.appellant@example.org", "The payout account is my agency's.")
	api := g.review(withToken(consoleDeskToken))
	items, err := api.ListQueue(ctxT(t), connect.NewRequest(&reviewv1.ListQueueRequest{}))
	if err != nil || len(items.Msg.GetItems()) != 3 {
		t.Fatalf("ListQueue = %v, %v; want two cases and an appeal", items, err)
	}
	case1, case2 := items.Msg.GetItems()[0].GetId(), items.Msg.GetItems()[1].GetId()

	b := newBrowser(t)
	ctx := b.user(t)
	signIn(t, ctx, g.addr, consoleDeskToken, "Rita Okafor")
	navigate(t, ctx, g.addr+"/console/queue")
	rows := eval[[]string](t, ctx, `[...document.querySelectorAll("a.row-link")].map(a => a.pathname)`)
	want := []string{"/console/cases/" + case1, "/console/cases/" + case2, "/console/appeals/" + appeal.GetAppealId()}
	if strings.Join(rows, " ") != strings.Join(want, " ") {
		t.Fatalf("queue rows = %v, want %v", rows, want)
	}
	if got := text(t, ctx, "table.queue tbody tr:first-child"); !strings.Contains(got, "case") || !strings.Contains(got, "MODEL_RISK") || !strings.Contains(got, "restrict") {
		t.Errorf("first queue row = %q, want a case, restrict, MODEL_RISK", got)
	}
	b.check(t, ctx, "queue-cases")

	// Only cases.
	step(t, ctx, chromedp.SetValue(chromedp.ID("kind"), "case"))
	submit(t, ctx, chromedp.Click(chromedp.ID("filter")))
	if rows := eval[[]string](t, ctx, `[...document.querySelectorAll("a.row-link")].map(a => a.pathname)`); len(rows) != 2 || rows[0] != want[0] || rows[1] != want[1] {
		t.Errorf("queue rows filtered to cases = %v, want the two cases", rows)
	}
	if got := location(t, ctx); !strings.Contains(got, "kind=case") {
		t.Errorf("filtered queue at %s, want kind=case in the URL", got)
	}

	// The first case: its reasons and decision, then claim, note, lift.
	submit(t, ctx, chromedp.Click(chromedp.CSS(`a.row-link[href="`+want[0]+`"]`)))
	if got := text(t, ctx, "#case-h + p"); !strings.Contains(got, "MODEL_RISK") {
		t.Errorf("case page reasons = %q, want MODEL_RISK", got)
	}
	if got := text(t, ctx, "#dec-h + p.verdict"); !strings.Contains(strings.ToLower(got), "restrict") {
		t.Errorf("case page decision = %q, want the restrict", got)
	}
	b.check(t, ctx, "case")
	submit(t, ctx, chromedp.Click(chromedp.ID("claim")))
	if got := text(t, ctx, ".notice"); !strings.Contains(got, "claimed") {
		t.Errorf("after claiming the page says %q", got)
	}
	step(t, ctx, chromedp.SendKeys(chromedp.ID("body"), "Payout change from a new device; called the account holder."))
	submit(t, ctx, chromedp.Click(chromedp.ID("note-submit")))
	if got := text(t, ctx, "ul.notes"); !strings.Contains(got, "called the account holder") || !strings.Contains(got, "Rita Okafor") {
		t.Errorf("notes after adding one = %q", got)
	}
	step(t, ctx, chromedp.Click(chromedp.ID("resolution-lift")), chromedp.SendKeys(chromedp.ID("note"), "Changed banks; confirmed by phone."))
	if code := submit(t, ctx, chromedp.Click(chromedp.ID("resolve-submit"))); code != http.StatusOK {
		t.Errorf("resolve answered %d", code)
	}
	if got := text(t, ctx, "h1"); !strings.Contains(got, "resolved: lifted") {
		t.Errorf("case heading after the lift = %q, want resolved: lifted", got)
	}
	b.check(t, ctx, "case-resolved")
	item, err := api.GetItem(ctxT(t), connect.NewRequest(&reviewv1.GetItemRequest{Id: case1}))
	if err != nil || item.Msg.GetItem().GetResolution() != reviewv1.Resolution_RESOLUTION_LIFT || item.Msg.GetItem().GetReviewer() != "Rita Okafor" ||
		len(item.Msg.GetNotes()) != 1 {
		t.Errorf("GetItem after the lift = %v, %v", item.Msg, err)
	}
	st, err := g.enforcement(withToken(consoleDeskToken)).GetStanding(ctxT(t), connect.NewRequest(&enforcementv1.GetStandingRequest{SubjectId: first.GetSubjectId()}))
	if err != nil || len(st.Msg.GetStanding().GetHolds()) != 0 {
		t.Errorf("standing after the lift = %v, %v; want no hold", st.Msg.GetStanding().GetHolds(), err)
	}

	// The second case is a challenge: nothing to lift, and the page says so.
	navigate(t, ctx, g.addr+"/console/cases/"+case2)
	step(t, ctx, chromedp.Click(chromedp.ID("resolution-lift")), chromedp.SendKeys(chromedp.ID("note"), "Looks fine."))
	if code := submit(t, ctx, chromedp.Click(chromedp.ID("resolve-submit"))); code != http.StatusConflict {
		t.Errorf("lifting a case with nothing to lift answered %d, want 409", code)
	}
	if got := text(t, ctx, ".error"); !strings.Contains(got, "nothing to lift") {
		t.Errorf("lifting a case with nothing to lift says %q", got)
	}
	if second.GetAction() != decisionv1.Action_ACTION_CHALLENGE {
		t.Errorf("second decision = %v, want challenge", second.GetAction())
	}

	// n from the queue claims and opens the oldest item no one else holds.
	navigate(t, ctx, g.addr+"/console/queue")
	submit(t, ctx, chromedp.KeyEvent("n"))
	if got := location(t, ctx); got != "/console/cases/"+case2 {
		t.Errorf("n opened %s, want the second case", got)
	}
	item, err = api.GetItem(ctxT(t), connect.NewRequest(&reviewv1.GetItemRequest{Id: case2}))
	if err != nil || item.Msg.GetItem().GetClaimedBy() != "Rita Okafor" {
		t.Errorf("GetItem(second case) after n = %v, %v; want claimed by Rita Okafor", item.Msg.GetItem(), err)
	}
}
