package tests

import (
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/chromedp/chromedp"

	enforcementv1 "github.com/gavel/gavel/proto/gavel/enforcement/v1"
	"github.com/gavel/gavel/proto/gavel/enforcement/v1/enforcementv1connect"
)

func (p *gavelProc) consoleEnforcement(token string) enforcementv1connect.EnforcementServiceClient {
	return enforcementv1connect.NewEnforcementServiceClient(h2cClient(), p.addr, withToken(token))
}

// TestConsoleAccount overturns an appeal in the browser and finds through
// GetStanding that the decision's holds are no longer in force; then
// suspends the account by hand from its Account page and finds the
// suspension through the API.
func TestConsoleAccount(t *testing.T) {
	g := consoleGavel(t)
	dec, appeal := appealedRestriction(t, g, "fourth.appellant@mailinator.com", "The payout account is my employer's.")
	subject := dec.GetSubjectId()
	standing := func() *enforcementv1.Standing {
		t.Helper()
		st, err := g.consoleEnforcement(consoleDeskToken).GetStanding(ctxT(t), connect.NewRequest(&enforcementv1.GetStandingRequest{SubjectId: subject}))
		if err != nil {
			t.Fatalf("GetStanding = %v", err)
		}
		return st.Msg.GetStanding()
	}
	heldBy := func(st *enforcementv1.Standing) int {
		n := 0
		for _, h := range st.GetHolds() {
			if h.GetDecisionId() == dec.GetDecisionId() {
				n++
			}
		}
		return n
	}
	if n := heldBy(standing()); n == 0 {
		t.Fatalf("before the overturn GetStanding shows no hold of decision %s", dec.GetDecisionId())
	}

	b := newBrowser(t)
	ctx := b.user(t)
	signIn(t, ctx, g.addr, consoleDeskToken, "Rita Okafor")
	navigate(t, ctx, g.addr+"/console/appeals/"+appeal.GetAppealId())
	step(t, ctx, chromedp.Click(chromedp.ID("outcome-overturned")), chromedp.SendKeys(chromedp.ID("note"), "Employer's account, verified."))
	submit(t, ctx, chromedp.Click(chromedp.ID("resolve-submit")))
	if n := heldBy(standing()); n != 0 {
		t.Errorf("after the overturn GetStanding still shows %d hold(s) of decision %s", n, dec.GetDecisionId())
	}

	// The Account page, reached through the decision, and a manual suspension.
	navigate(t, ctx, g.addr+"/console/accounts/"+dec.GetDecisionId())
	if got := text(t, ctx, "#st-h + dl"); !strings.Contains(got, "Suspension") {
		t.Fatalf("account page standing = %q", got)
	}
	b.check(t, ctx, "account")
	// Each manual action's idempotency key is one the API accepts.
	if rid := eval[string](t, ctx, `document.querySelector('form[action$="/suspend"] input[name=request_id]').value`); !strings.HasPrefix(rid, "console-") || !strings.HasSuffix(rid, "-suspend") {
		t.Errorf("the suspend form's request_id = %q, want console-…-suspend", rid)
	}
	step(t, ctx, chromedp.Click(chromedp.CSS(`details:first-of-type summary`)),
		chromedp.SendKeys(chromedp.ID("suspend-code"), "IDENTITY_FRAUD"),
		chromedp.SendKeys(chromedp.ID("suspend-note"), "Selfie does not match the document."))
	submit(t, ctx, chromedp.Click(chromedp.CSS(`form[action$="/suspend"] button`)))
	if got := text(t, ctx, ".notice"); !strings.Contains(got, "suspended") {
		t.Errorf("after the suspension the page says %q", got)
	}
	b.check(t, ctx, "account-suspended")
	st := standing()
	if st.GetSuspension() == nil || st.GetSuspension().GetSource() != "manual" {
		t.Errorf("GetStanding after the manual suspension = %v, want a manual suspension", st.GetSuspension())
	}
	// The manual suspension is on the account's timeline, marked manual.
	if got := strings.ToLower(text(t, ctx, "#tl-h + div table tbody tr")); !strings.Contains(got, "manual") || !strings.Contains(got, "suspend") {
		t.Errorf("the newest decision on the timeline = %q, want the manual suspension", got)
	}
}
