package tests

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	adminv1 "github.com/gavel/gavel/proto/gavel/admin/v1"
	appealv1 "github.com/gavel/gavel/proto/gavel/appeal/v1"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
	enforcementv1 "github.com/gavel/gavel/proto/gavel/enforcement/v1"
	listsv1 "github.com/gavel/gavel/proto/gavel/lists/v1"
	"github.com/gavel/gavel/proto/gavel/lists/v1/listsv1connect"
)

const (
	consoleDecideToken = "console-payouts-secret-001"
	consoleDeskToken   = "console-desk-secret-000001"
	consoleOpsToken    = "console-ops-secret-0000001"
)

// consoleGavel starts gavel with a decide-only token (payouts), a reviewer
// desk (review, read) and operations (admin, read).
func consoleGavel(t *testing.T, env ...string) *gavelProc {
	t.Helper()
	return startGavel(t, append([]string{
		"GAVEL_AUTH__TOKENS__PAYOUTS__SECRET=" + consoleDecideToken,
		"GAVEL_AUTH__TOKENS__PAYOUTS__ROLES=decide",
		"GAVEL_AUTH__TOKENS__DESK__SECRET=" + consoleDeskToken,
		"GAVEL_AUTH__TOKENS__DESK__ROLES=review,read",
		"GAVEL_AUTH__TOKENS__OPS__SECRET=" + consoleOpsToken,
		"GAVEL_AUTH__TOKENS__OPS__ROLES=admin,read",
	}, env...)...)
}

// appealedRestriction makes a restrictive, appealable decision at
// withdrawal and files an appeal of it; it returns both.
func appealedRestriction(t *testing.T, g *gavelProc, email, statement string) (*decisionv1.DecideResponse, *appealv1.Appeal) {
	t.Helper()
	ctx := ctxT(t)
	req := signup(email)
	req.Checkpoint = "withdrawal"
	req.Signals = []*decisionv1.Signal{{Name: "linkage.shared_payout_account", Score: 1, Value: "3", Confidence: 1}}
	resp, err := g.decisions(withToken(consoleDecideToken)).Decide(ctx, connect.NewRequest(req))
	if err != nil || resp.Msg.GetAction() != decisionv1.Action_ACTION_RESTRICT || len(resp.Msg.GetRestrictions()) == 0 {
		t.Fatalf("Decide(withdrawal, shared payout account) = %v, %v; want a restrict with holds", resp, err)
	}
	fa, err := g.appeals(withToken(consoleDecideToken)).FileAppeal(ctx, connect.NewRequest(&appealv1.FileAppealRequest{
		DecisionId: resp.Msg.GetDecisionId(), Statement: statement,
	}))
	if err != nil {
		t.Fatalf("FileAppeal = %v", err)
	}
	return resp.Msg, fa.Msg.GetAppeal()
}

func signIn(t *testing.T, ctx context.Context, base, token, reviewer string) {
	t.Helper()
	navigate(t, ctx, base+"/console/sign-in")
	step(t, ctx, chromedp.SendKeys(chromedp.ID("token"), token))
	if reviewer != "" {
		step(t, ctx, chromedp.SendKeys(chromedp.ID("reviewer"), reviewer))
	}
	submit(t, ctx, chromedp.Click(chromedp.CSS(`form.signin button[type=submit]`)))
}

// TestConsoleReviewer works the queue in Chromium as a reviewer: sign in,
// open the oldest appeal from the keyboard, see its evidence, overturn it,
// and find through the API that the decision's holds are lifted; then the
// bad input a reviewer can meet.
func TestConsoleReviewer(t *testing.T) {
	g := consoleGavel(t)
	oldDecision, oldest := appealedRestriction(t, g, "first.appellant@mailinator.com", "The payout account belongs to my agency.")
	_, newer := appealedRestriction(t, g, "second.appellant@mailinator.com", "My colleague and I share an office device.")
	b := newBrowser(t)
	ctx := b.user(t)

	// Not signed in: the sign-in page.
	navigate(t, ctx, g.addr+"/console/queue")
	if got := location(t, ctx); got != "/console/sign-in" {
		t.Fatalf("/console/queue without a session went to %s, want /console/sign-in", got)
	}
	b.check(t, ctx, "signin")
	// A token gavel does not know.
	signIn(t, ctx, g.addr, "not-a-token", "")
	if got := text(t, ctx, ".error"); !strings.Contains(got, "not one gavel knows") {
		t.Errorf("sign-in with an unknown token says %q", got)
	}

	signIn(t, ctx, g.addr, consoleDeskToken, "Rita Okafor")
	if got := location(t, ctx); got != "/console/queue" {
		t.Fatalf("after sign-in the reviewer is at %s, want /console/queue", got)
	}
	// The restrictions may also open cases (reasons marked for review):
	// the appeals are the rows that link to appeals.
	rows := eval[[]string](t, ctx, `[...document.querySelectorAll("a.row-link[href^='/console/appeals/']")].map(a => a.pathname)`)
	if len(rows) != 2 || rows[0] != "/console/appeals/"+oldest.GetAppealId() || rows[1] != "/console/appeals/"+newer.GetAppealId() {
		t.Fatalf("queue rows = %v, want the two appeals oldest first (%s, %s)", rows, oldest.GetAppealId(), newer.GetAppealId())
	}
	b.check(t, ctx, "queue")
	queueTiming := pageTiming(t, ctx)

	// The keyboard, on the queue of appeals: j moves to the first appeal,
	// Enter opens it, c claims it.
	navigate(t, ctx, g.addr+"/console/queue?kind=appeal")
	step(t, ctx, chromedp.KeyEvent("j"))
	if got := eval[string](t, ctx, `document.activeElement.pathname || ""`); got != rows[0] {
		t.Fatalf("after j the focus is on %q, want the oldest appeal's link", got)
	}
	submit(t, ctx, chromedp.KeyEvent("\r"))
	if got := location(t, ctx); got != rows[0] {
		t.Fatalf("Enter on the oldest appeal went to %s", got)
	}
	submit(t, ctx, chromedp.KeyEvent("c"))
	if got := text(t, ctx, ".notice"); !strings.Contains(got, "claimed") {
		t.Errorf("after c the page says %q, want the claim confirmed", got)
	}
	claimed, err := g.appeals(withToken(consoleDeskToken)).GetAppeal(ctxT(t), connect.NewRequest(&appealv1.GetAppealRequest{AppealId: oldest.GetAppealId()}))
	if err != nil || claimed.Msg.GetAppeal().GetClaimedBy() != "Rita Okafor" {
		t.Errorf("GetAppeal after the claim = %v, %v; want claimed by Rita Okafor", claimed.Msg.GetAppeal(), err)
	}

	// The evidence, the model's features, the detectors, the statement.
	if got := text(t, ctx, "pre.evidence"); !strings.Contains(got, "linkage.shared_payout_account") {
		t.Errorf("evidence on the appeal page = %q, want the shared payout account signal", got)
	}
	for css, what := range map[string]string{
		"svg.bars rect":            "the model's feature contributions chart",
		"#det-h":                   "the detectors",
		"#sor-h":                   "the statement of reasons",
		"ul.holds li":              "the decision's holds",
		".explanation":             "the catalog's internal explanation",
		"blockquote.statement":     "the appeal statement",
		"form#resolve textarea":    "the resolution note",
		"input#outcome-upheld":     "the uphold choice",
		"input#outcome-overturned": "the overturn choice",
	} {
		if n := eval[int](t, ctx, `document.querySelectorAll(`+jsString(css)+`).length`); n == 0 {
			t.Errorf("the appeal page does not show %s (%s)", what, css)
		}
	}
	if got := text(t, ctx, "ul.holds"); !strings.Contains(got, "hold: payouts") || !strings.Contains(got, "in force") {
		t.Errorf("effects before the overturn = %q, want the payouts hold in force", got)
	}
	b.check(t, ctx, "appeal")
	appealTiming := pageTiming(t, ctx)

	// o chooses overturn and puts the cursor in the note.
	step(t, ctx, chromedp.KeyEvent("o"))
	if got := eval[string](t, ctx, `document.activeElement.id`); got != "note" {
		t.Errorf("after o the focus is on %q, want the note", got)
	}
	// DevTools' synthetic key events insert o's character into the note the
	// handler focused (a real keydown's preventDefault stops it): clear it.
	step(t, ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("note").value = ""`), chromedp.KeyEvent("Agency account; contract on file."))
	if code := submit(t, ctx, chromedp.Click(chromedp.ID("resolve-submit"))); code != http.StatusOK {
		t.Errorf("resolve answered %d", code)
	}
	if got := text(t, ctx, ".notice"); !strings.Contains(got, "overturned") {
		t.Errorf("after resolving the page says %q, want overturned", got)
	}

	// Through the API: the appeal is overturned by the named reviewer, the
	// decision overturned, its holds lifted.
	api := g.appeals(withToken(consoleDeskToken))
	got, err := api.GetAppeal(ctxT(t), connect.NewRequest(&appealv1.GetAppealRequest{AppealId: oldest.GetAppealId()}))
	if err != nil {
		t.Fatal(err)
	}
	if a := got.Msg.GetAppeal(); a.GetStatus() != appealv1.AppealStatus_APPEAL_STATUS_OVERTURNED || a.GetReviewer() != "Rita Okafor" ||
		a.GetNote() != "Agency account; contract on file." || a.GetResolvedBy() != "desk" {
		t.Errorf("GetAppeal after the overturn = %v", a)
	}
	checkHoldsLifted(t, g, oldDecision)
	if got := text(t, ctx, "ul.holds"); !strings.Contains(got, "overturned") || strings.Contains(got, "in force") {
		t.Errorf("effects on the page after the overturn = %q, want every one overturned", got)
	}

	// Resolving it again from the browser: the page says so, nothing changes.
	step(t, ctx, chromedp.Evaluate[chromedp.Void](`(() => {
		const f = document.createElement("form"); f.method = "post"; f.action = location.pathname + "/resolve";
		for (const [k, v] of [["csrf", document.querySelector("input[name=csrf]").value], ["outcome", "upheld"], ["reviewer", "Someone Else"]]) {
			const i = document.createElement("input"); i.type = "hidden"; i.name = k; i.value = v; f.appendChild(i); }
		document.body.appendChild(f); f.submit(); })()`))
	step(t, ctx, chromedp.WaitVisible(chromedp.CSS(".error")))
	if got := text(t, ctx, ".error"); !strings.Contains(got, "Nothing changed") || !strings.Contains(got, "already resolved") {
		t.Errorf("resolving a resolved appeal says %q, want nothing changed, already resolved", got)
	}
	if again, err := api.GetAppeal(ctxT(t), connect.NewRequest(&appealv1.GetAppealRequest{AppealId: oldest.GetAppealId()})); err != nil ||
		again.Msg.GetAppeal().GetStatus() != appealv1.AppealStatus_APPEAL_STATUS_OVERTURNED || again.Msg.GetAppeal().GetReviewer() != "Rita Okafor" {
		t.Errorf("the second resolution changed the appeal: %v, %v", again.Msg.GetAppeal(), err)
	}

	// The decision page in the reviewer view.
	navigate(t, ctx, g.addr+"/console/decisions/"+oldDecision.GetDecisionId())
	if got := text(t, ctx, ".verdict"); !strings.Contains(got, "overturned") {
		t.Errorf("decision page verdict = %q, want it marked overturned", got)
	}
	b.check(t, ctx, "decision")
	decisionTiming := pageTiming(t, ctx)

	// The rules page: the overturned rule first, with its sparkline drawn.
	navigate(t, ctx, g.addr+"/console/rules?period=7d")
	first := eval[[]string](t, ctx, `[...document.querySelectorAll("table.rules tbody tr:first-child > *")].map(c => c.textContent.trim())`)
	if len(first) < 4 || !slices.Contains(codes(oldDecision), first[0]) || first[3] != "1" {
		t.Errorf("the first rule is %q, want one of the overturned decision's codes %v, with 1 overturned", first, codes(oldDecision))
	}
	step(t, ctx, chromedp.WaitReady(chromedp.CSS(".spark canvas")))
	b.check(t, ctx, "rules")
	rulesTiming := pageTiming(t, ctx)

	// n from the queue of appeals claims and opens the next unclaimed appeal.
	navigate(t, ctx, g.addr+"/console/queue?kind=appeal")
	submit(t, ctx, chromedp.KeyEvent("n"))
	if got := location(t, ctx); got != "/console/appeals/"+newer.GetAppealId() {
		t.Errorf("n opened %s, want the remaining appeal %s", got, newer.GetAppealId())
	}

	// Forged requests: no CSRF token, or another origin, are refused and
	// change nothing.
	cookies := browserCookies(t, ctx)
	forged := func(form url.Values, origin string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, g.addr+"/console/appeals/"+newer.GetAppealId()+"/resolve", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	csrf := eval[string](t, ctx, `document.querySelector("input[name=csrf]").value`)
	if code, body := forged(url.Values{"outcome": {"overturned"}, "reviewer": {"Mallory"}}, ""); code != http.StatusForbidden || !strings.Contains(body, "refused") {
		t.Errorf("POST without the CSRF token = %d, want 403 refused", code)
	}
	if code, _ := forged(url.Values{"outcome": {"overturned"}, "reviewer": {"Mallory"}, "csrf": {"forged"}}, ""); code != http.StatusForbidden {
		t.Errorf("POST with a forged CSRF token = %d, want 403", code)
	}
	if code, _ := forged(url.Values{"outcome": {"overturned"}, "reviewer": {"Mallory"}, "csrf": {csrf}}, "http://attacker.example"); code != http.StatusForbidden {
		t.Errorf("POST from another origin = %d, want 403", code)
	}
	if a, err := api.GetAppeal(ctxT(t), connect.NewRequest(&appealv1.GetAppealRequest{AppealId: newer.GetAppealId()})); err != nil || a.Msg.GetAppeal().GetStatus() != appealv1.AppealStatus_APPEAL_STATUS_OPEN {
		t.Errorf("after forged requests the appeal is %v, %v; want still open", a.Msg.GetAppeal(), err)
	}

	// CSP on every page, and no inline script in any.
	for _, path := range []string{"/console/queue", "/console/appeals/" + newer.GetAppealId(), "/console/decisions/" + oldDecision.GetDecisionId(), "/console/rules", "/console/sign-in"} {
		req, _ := http.NewRequest(http.MethodGet, g.addr+path, nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: Content-Security-Policy = %q", path, csp)
		}
		if inline := regexp.MustCompile(`<script(\s[^>]*)?>`).FindAllString(string(body), -1); len(inline) > 0 {
			for _, tag := range inline {
				if !strings.Contains(tag, "src=") {
					t.Errorf("%s has an inline script: %s", path, tag)
				}
			}
		}
		if strings.Contains(string(body), " style=") || strings.Contains(string(body), " on") && regexp.MustCompile(`\son[a-z]+=`).MatchString(string(body)) {
			t.Errorf("%s has inline styles or event handlers", path)
		}
	}

	// The session cookie: HttpOnly, SameSite=Strict, scoped to the console.
	for _, c := range browserCDPCookies(t, ctx) {
		if c.Name == "gavel_console" && (!c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Path != "/console/") {
			t.Errorf("session cookie = %+v, want HttpOnly, SameSite=Strict, Path=/console/", c)
		}
	}

	// A forged session is the sign-in page; so is the console after sign-out.
	other := b.user(t)
	navigate(t, other, g.addr+"/console/sign-in")
	step(t, other, chromedp.Evaluate[chromedp.Void](`document.cookie = "gavel_console=forged-session; path=/console/"`))
	navigate(t, other, g.addr+"/console/queue")
	if got := location(t, other); got != "/console/sign-in" {
		t.Errorf("a forged session cookie reached %s, want /console/sign-in", got)
	}
	submit(t, ctx, chromedp.Click(chromedp.CSS(`form.who button`)))
	navigate(t, ctx, g.addr+"/console/queue")
	if got := location(t, ctx); got != "/console/sign-in" {
		t.Errorf("after sign-out /console/queue went to %s, want /console/sign-in", got)
	}

	// Personal data stays out of gavel's logs: the console logs neither the
	// statements, nor the reviewer's note, nor the emails.
	for _, personal := range []string{"first.appellant", "Agency account", "belongs to my agency", consoleDeskToken} {
		if strings.Contains(g.Logs(), personal) {
			t.Errorf("gavel's logs contain %q", personal)
		}
	}
	t.Logf("timings on a small ledger (ms): queue %+v, appeal %+v, decision %+v, rules %+v", queueTiming, appealTiming, decisionTiming, rulesTiming)
}

// checkHoldsLifted checks through the API that an overturned decision's
// holds are no longer in force: the account's standing holds none of them,
// and the decision reports each of its effects overturned.
func checkHoldsLifted(t *testing.T, g *gavelProc, d *decisionv1.DecideResponse) {
	t.Helper()
	got, err := g.decisions(withToken(consoleDeskToken)).GetDecision(ctxT(t), connect.NewRequest(&decisionv1.GetDecisionRequest{
		DecisionId: d.GetDecisionId(), View: decisionv1.View_VIEW_REVIEWER,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Msg.GetDecision().GetOverturned() {
		t.Errorf("GetDecision after the overturn: overturned = false")
	}
	for _, e := range got.Msg.GetDecision().GetEffects() {
		if e.GetState() != "overturned" {
			t.Errorf("after the overturn the decision's %s %s is %s", e.GetKind(), e.GetCapability(), e.GetState())
		}
	}
	st, err := g.consoleEnforcement(consoleDeskToken).GetStanding(ctxT(t), connect.NewRequest(&enforcementv1.GetStandingRequest{SubjectId: d.GetSubjectId()}))
	if err != nil {
		t.Fatalf("GetStanding = %v", err)
	}
	for _, h := range st.Msg.GetStanding().GetHolds() {
		if h.GetDecisionId() == d.GetDecisionId() {
			t.Errorf("after the overturn GetStanding still holds %s for decision %s", h.GetCapability(), d.GetDecisionId())
		}
	}
}

// TestConsoleDecideOnlyRefused signs in with a token that may only ask for
// decisions: the console shows it no page and the server refuses the queue.
func TestConsoleDecideOnlyRefused(t *testing.T) {
	g := consoleGavel(t)
	appealedRestriction(t, g, "third.appellant@mailinator.com", "Please look again.")
	b := newBrowser(t)
	ctx := b.user(t)
	signIn(t, ctx, g.addr, consoleDecideToken, "")
	if got := text(t, ctx, ".error"); !strings.Contains(got, "no role the console serves") {
		t.Errorf("decide-only sign-in says %q", got)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("header nav a").length`); n != 0 {
		t.Errorf("decide-only token sees %d pages in the navigation, want none", n)
	}
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(g.addr+"/console/queue"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusForbidden {
		t.Errorf("/console/queue for a decide-only token = %d, want 403", resp.Status)
	}
	if got := text(t, ctx, ".error"); !strings.Contains(got, "does not have the role") {
		t.Errorf("the refused queue says %q", got)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("a.row-link").length`); n != 0 {
		t.Errorf("the refused page shows %d appeals", n)
	}
	b.check(t, ctx, "refused")
}

// TestConsolePolicyReplay uploads a candidate bundle on the Policy page as
// operations, waits for the replay's report, and tries the uploads that
// must be refused: not a bundle, and a period without decisions.
func TestConsolePolicyReplay(t *testing.T) {
	// The repository's policies as the shadow, so the page has a shadow
	// report to show.
	g := consoleGavel(t, "GAVEL_POLICY__SHADOW__SOURCE="+filepath.Join(repoRoot(t), "policies"))
	for _, email := range []string{"a.one@mailinator.com", "b.two@gmail.com", "c.three@example.org"} {
		appealedRestriction(t, g, email, "Please look again.")
	}
	candidate := filepath.Join(t.TempDir(), "candidate.tar.gz")
	if r := gavelCLI(t, "bundle", "build", filepath.Join(repoRoot(t), "policies"), "-r", "candidate-1", "-o", candidate); r.code != 0 {
		t.Fatalf("gavel bundle build: %v", r)
	}
	notBundle := filepath.Join(t.TempDir(), "notes.tar.gz")
	if err := os.WriteFile(notBundle, []byte("these are meeting notes, not a bundle"), 0o644); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t)
	ctx := b.user(t)
	signIn(t, ctx, g.addr, consoleOpsToken, "")
	navigate(t, ctx, g.addr+"/console/policy")
	if got := text(t, ctx, "#act-h + dl"); !strings.Contains(got, "dev+") {
		t.Errorf("policy page bundles = %q, want the active revision", got)
	}
	if got := text(t, ctx, "#sh-h + p"); !strings.Contains(got, "decisions shadowed") {
		t.Errorf("policy page shadow report = %q", got)
	}
	b.check(t, ctx, "policy")

	upload := func(file, since, until string) {
		t.Helper()
		step(t, ctx, chromedp.SetUploadFiles(chromedp.ID("bundle"), []string{file}),
			chromedp.SetValue(chromedp.ID("since"), since), chromedp.SetValue(chromedp.ID("until"), until))
		submit(t, ctx, chromedp.Click(chromedp.ID("replay-submit")))
	}

	// Not a bundle: a clear message, nothing replayed.
	upload(notBundle, "", "")
	if got := text(t, ctx, ".error"); !strings.Contains(got, "not a policy bundle") || !strings.Contains(got, "nothing activated") {
		t.Errorf("uploading a text file says %q", got)
	}

	// The real candidate over today: progress, then the report.
	today := time.Now().UTC()
	upload(candidate, today.AddDate(0, 0, -1).Format("2006-01-02"), today.AddDate(0, 0, 1).Format("2006-01-02"))
	if got := location(t, ctx); !strings.HasPrefix(got, "/console/policy/replays/") {
		t.Fatalf("after the upload the page is %s, want a replay", got)
	}
	step(t, ctx, chromedp.WaitVisible(chromedp.ID("report")))
	if got := text(t, ctx, "#report"); !strings.Contains(got, "3 decisions selected, 3 replayed") {
		t.Errorf("replay report = %q, want the 3 decisions replayed", got)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("table.matrix td.heat-4").length`); n == 0 {
		t.Errorf("the report's matrix has no filled cell")
	}
	b.check(t, ctx, "replay")

	// A period without decisions: an empty report that says so.
	navigate(t, ctx, g.addr+"/console/policy")
	upload(candidate, "2020-01-01", "2020-01-02")
	step(t, ctx, chromedp.WaitVisible(chromedp.ID("report")))
	if got := text(t, ctx, "#report"); !strings.Contains(got, "No decisions were made in this period") {
		t.Errorf("replay of an empty period says %q", got)
	}

	// The active bundle did not change: the candidate was only replayed.
	st, err := g.admin(withToken(consoleOpsToken)).GetStatus(ctxT(t), connect.NewRequest(&adminv1.GetStatusRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, bs := range st.Msg.GetBundles() {
		if bs.GetRevision() == "candidate-1" {
			t.Errorf("the candidate became the %s bundle", bs.GetRole())
		}
	}

	navigate(t, ctx, g.addr+"/console/system")
	if n := eval[int](t, ctx, `document.querySelectorAll("#det-h ~ div table tbody tr").length`); n == 0 {
		t.Errorf("the system page lists no detector")
	}
	// Running detectors are shown healthy, not as failures.
	if bad := eval[[]string](t, ctx, `[...document.querySelectorAll("#det-h ~ div tbody tr")].filter(r => r.querySelector(".tag.bad")).map(r => r.textContent.trim().split(/\s+/)[0])`); len(bad) > 0 {
		t.Errorf("the system page marks detectors %v as failing", bad)
	}
	b.check(t, ctx, "system")
}

func browserCDPCookies(t *testing.T, ctx context.Context) []*network.Cookie {
	t.Helper()
	cs, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatal(err)
	}
	return cs.Cookies
}

func browserCookies(t *testing.T, ctx context.Context) []*http.Cookie {
	t.Helper()
	var out []*http.Cookie
	for _, c := range browserCDPCookies(t, ctx) {
		out = append(out, &http.Cookie{Name: c.Name, Value: c.Value})
	}
	return out
}

func jsString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "\\'") + "'"
}

// TestConsoleReplayRefusals: where signing is required, an unsigned
// candidate is refused and a signed one replayed; a file over the size
// limit is refused by the console before it reaches the API. Nothing is
// ever activated.
func TestConsoleReplayRefusals(t *testing.T) {
	priv, pub := keyPair(t, "release")
	active := buildSigned(t, filepath.Join(repoRoot(t), "policies"), "active-1", priv, "release")
	g := consoleGavel(t, append(signingEnv("release", pub), "GAVEL_POLICY__SOURCE=file://"+active, "GAVEL_REPLAY__MAX_BUNDLE_BYTES=1048576")...)
	appealedRestriction(t, g, "fifth.appellant@mailinator.com", "Please look again.")

	unsigned := filepath.Join(t.TempDir(), "unsigned.tar.gz")
	if r := gavelCLI(t, "bundle", "build", filepath.Join(repoRoot(t), "policies"), "-r", "unsigned-1", "-o", unsigned); r.code != 0 {
		t.Fatalf("gavel bundle build: %v", r)
	}
	signed := buildSigned(t, filepath.Join(repoRoot(t), "policies"), "signed-2", priv, "release")
	big := filepath.Join(t.TempDir(), "big.tar.gz")
	if err := os.WriteFile(big, append([]byte{0x1f, 0x8b}, make([]byte, 2<<20)...), 0o644); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t)
	ctx := b.user(t)
	signIn(t, ctx, g.addr, consoleOpsToken, "")
	upload := func(file string) {
		t.Helper()
		navigate(t, ctx, g.addr+"/console/policy")
		step(t, ctx, chromedp.SetUploadFiles(chromedp.ID("bundle"), []string{file}))
		submit(t, ctx, chromedp.Click(chromedp.ID("replay-submit")))
	}
	upload(unsigned)
	if got := text(t, ctx, ".error"); !strings.Contains(got, "nothing activated") || !strings.Contains(strings.ToLower(got), "sign") {
		t.Errorf("an unsigned candidate where signing is required says %q", got)
	}
	upload(big)
	if got := text(t, ctx, ".error"); !strings.Contains(got, "limit") {
		t.Errorf("a candidate over the size limit says %q", got)
	}
	upload(signed)
	step(t, ctx, chromedp.WaitVisible(chromedp.ID("report")))
	if got := text(t, ctx, "#report"); !strings.Contains(got, "signed-2") {
		t.Errorf("the signed candidate's report = %q, want its revision", got)
	}
	st, err := g.admin(withToken(consoleOpsToken)).GetStatus(ctxT(t), connect.NewRequest(&adminv1.GetStatusRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, bs := range st.Msg.GetBundles() {
		if bs.GetRole() == "active" && bs.GetRevision() != "active-1" {
			t.Errorf("the active bundle is %s after the replays, want active-1", bs.GetRevision())
		}
	}
}

// TestConsoleSearchAndLists: find decisions by action and reason on the
// Search page and open one; open an account by its id; add and remove a
// runtime list's entries on the Lists page and find the change through the
// API and in the list's audit trail.
func TestConsoleSearchAndLists(t *testing.T) {
	g := consoleGavel(t)
	dec, _ := appealedRestriction(t, g, "sixth.appellant@mailinator.com", "Please look again.")
	lists := listsv1connect.NewListServiceClient(h2cClient(), g.addr, withToken(consoleOpsToken))
	if _, err := lists.CreateList(ctxT(t), connect.NewRequest(&listsv1.CreateListRequest{
		Name: "abuse-ranges", Kind: "ip", Purpose: listsv1.Purpose_PURPOSE_BLOCK, Action: "suspend", Description: "abuse desk",
	})); err != nil {
		t.Fatalf("CreateList = %v", err)
	}

	b := newBrowser(t)
	ctx := b.user(t)
	signIn(t, ctx, g.addr, consoleDeskToken, "Rita Okafor")

	navigate(t, ctx, g.addr+"/console/search")
	b.check(t, ctx, "search")
	step(t, ctx, chromedp.SetValue(chromedp.ID("action"), "restrict"), chromedp.SendKeys(chromedp.ID("reason"), "PAYOUT_ACCOUNT_SHARED"))
	submit(t, ctx, chromedp.Click(chromedp.CSS(`form.search-form button[type=submit]`)))
	if got := location(t, ctx); strings.Contains(got, dec.GetSubjectId()) || strings.Contains(got, "mailinator") {
		t.Errorf("the search URL %s carries the account", got)
	}
	hits := eval[[]string](t, ctx, `[...document.querySelectorAll("main table tbody a")].map(a => a.pathname)`)
	if !slices.Contains(hits, "/console/decisions/"+dec.GetDecisionId()) {
		t.Fatalf("search for restrict + PAYOUT_ACCOUNT_SHARED found %v, want decision %s", hits, dec.GetDecisionId())
	}
	b.check(t, ctx, "search-results")
	navigate(t, ctx, g.addr+"/console/search?action=allow&reason=PAYOUT_ACCOUNT_SHARED")
	if got := text(t, ctx, "main"); !strings.Contains(got, "No decision matches") {
		t.Errorf("a search with no match says %q", got)
	}

	// An account by its id, by POST: the page it lands on names a decision, not the account.
	step(t, ctx, chromedp.SendKeys(chromedp.ID("account"), dec.GetSubjectId()))
	submit(t, ctx, chromedp.Click(chromedp.CSS(`form.account-find button`)))
	if got := location(t, ctx); got != "/console/accounts/"+dec.GetDecisionId() {
		t.Errorf("opening the account went to %s, want /console/accounts/%s", got, dec.GetDecisionId())
	}

	navigate(t, ctx, g.addr+"/console/lists")
	if got := text(t, ctx, "main table"); !strings.Contains(got, "abuse-ranges") {
		t.Fatalf("the lists page = %q, want abuse-ranges", got)
	}
	b.check(t, ctx, "lists")
	navigate(t, ctx, g.addr+"/console/lists/abuse-ranges")
	step(t, ctx, chromedp.SendKeys(chromedp.ID("add-values"), "203.0.113.0/24\n198.51.100.7"), chromedp.SendKeys(chromedp.ID("add-note"), "ticket 4411"))
	submit(t, ctx, chromedp.Click(chromedp.CSS(`form[action$="/add"] button`)))
	if got := text(t, ctx, ".notice"); !strings.Contains(got, "2 added") {
		t.Errorf("adding two entries says %q", got)
	}
	entries := func() []string {
		resp, err := lists.ListEntries(ctxT(t), connect.NewRequest(&listsv1.ListEntriesRequest{List: "abuse-ranges"}))
		if err != nil {
			t.Fatalf("ListEntries = %v", err)
		}
		var out []string
		for _, e := range resp.Msg.GetEntries() {
			out = append(out, e.GetValue())
		}
		return out
	}
	if got := entries(); len(got) != 2 {
		t.Errorf("ListEntries after adding = %v, want two entries", got)
	}
	step(t, ctx, chromedp.SendKeys(chromedp.ID("rm-values"), "198.51.100.7"))
	submit(t, ctx, chromedp.Click(chromedp.CSS(`form[action$="/remove"] button`)))
	if got := text(t, ctx, ".notice"); !strings.Contains(got, "1 removed") {
		t.Errorf("removing an entry says %q", got)
	}
	if got := entries(); len(got) != 1 {
		t.Errorf("ListEntries after removing = %v, want one entry", got)
	}
	if got := text(t, ctx, "#ch-h ~ div table tbody"); !strings.Contains(got, "desk") {
		t.Errorf("the list's audit trail = %q, want the desk's changes", got)
	}
	b.check(t, ctx, "list")
}
