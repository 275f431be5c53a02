package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"

	adminv1 "github.com/gavel/gavel/proto/gavel/admin/v1"
	appealv1 "github.com/gavel/gavel/proto/gavel/appeal/v1"
	"github.com/gavel/gavel/proto/gavel/appeal/v1/appealv1connect"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

func withToken(token string) connect.ClientOption {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	}))
}

func (p *gavelProc) appeals(opts ...connect.ClientOption) appealv1connect.AppealServiceClient {
	return appealv1connect.NewAppealServiceClient(h2cClient(), p.addr, opts...)
}

// TestAppealOverturnsRestriction follows one restrictive decision through
// its statement of reasons, an appeal, a reviewer's overturn, the subject's
// next decision, the rule's track record and the DSA export.
func TestAppealOverturnsRestriction(t *testing.T) {
	const (
		decideToken = "payouts-service-secret-0001"
		deskToken   = "appeals-desk-secret-000001"
		opsToken    = "operations-secret-000000001"
	)
	g := startGavel(t,
		"GAVEL_AUTH__TOKENS__PAYOUTS__SECRET="+decideToken,
		"GAVEL_AUTH__TOKENS__PAYOUTS__ROLES=decide",
		"GAVEL_AUTH__TOKENS__DESK__SECRET="+deskToken,
		"GAVEL_AUTH__TOKENS__DESK__ROLES=review,read",
		"GAVEL_AUTH__TOKENS__OPS__SECRET="+opsToken,
		"GAVEL_AUTH__TOKENS__OPS__ROLES=admin,read",
	)
	decider, desk, ops := withToken(decideToken), withToken(deskToken), withToken(opsToken)
	ctx := ctxT(t)

	req := signup("marek.novak@example.org")
	subject := req.Subject.Id
	req.Checkpoint = "withdrawal"
	req.Subject.Profile.GivenName, req.Subject.Profile.FamilyName = "Marek", "Novak"
	req.Signals = []*decisionv1.Signal{{Name: "linkage.shared_payout_account", Score: 1, Value: "3", Confidence: 1}}
	resp, err := g.decisions(decider).Decide(ctx, connect.NewRequest(req))
	if err != nil {
		t.Fatalf("Decide(withdrawal, shared payout account) = %v", err)
	}
	d := resp.Msg
	if d.GetAction() != decisionv1.Action_ACTION_RESTRICT || !d.GetStrike() || !d.GetAppealable() {
		t.Fatalf("Decide = %v strike %v appealable %v (%v), want a restrict with a strike, appealable", d.GetAction(), d.GetStrike(), d.GetAppealable(), codes(d))
	}
	sor := d.GetStatement()
	if sor.GetPuid() == "" || sor.GetDecisionMonetary() != "DECISION_MONETARY_SUSPENSION" || sor.GetAutomatedDecision() != "AUTOMATED_DECISION_FULLY" ||
		sor.GetCategory() != "STATEMENT_CATEGORY_SCAMS_AND_FRAUD" || len(sor.GetCategorySpecification()) == 0 || len(sor.GetRedress()) != 3 {
		t.Errorf("Decide statement of reasons = %v", sor)
	}

	// File, then file again.
	fa, err := g.appeals(decider).FileAppeal(ctx, connect.NewRequest(&appealv1.FileAppealRequest{
		DecisionId: d.GetDecisionId(), Statement: "The payout account belongs to my agency; the other accounts are my colleagues.",
	}))
	if err != nil {
		t.Fatalf("FileAppeal = %v", err)
	}
	appeal := fa.Msg.GetAppeal()
	if appeal.GetStatus() != appealv1.AppealStatus_APPEAL_STATUS_OPEN || appeal.GetFiledBy() != "payouts" {
		t.Errorf("FileAppeal = %v, want open, filed by payouts", appeal)
	}
	if _, err := g.appeals(decider).FileAppeal(ctx, connect.NewRequest(&appealv1.FileAppealRequest{DecisionId: d.GetDecisionId(), Statement: "again"})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("FileAppeal twice error = %v, want FailedPrecondition", err)
	}
	if _, err := g.appeals(decider).FileAppeal(ctx, connect.NewRequest(&appealv1.FileAppealRequest{DecisionId: d.GetDecisionId()})); connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "statement") {
		t.Errorf("FileAppeal without a statement error = %v, want InvalidArgument naming statement", err)
	}

	// Only a reviewer resolves, and names the human who decided.
	resolve := &appealv1.ResolveAppealRequest{AppealId: appeal.GetAppealId(), Outcome: appealv1.Outcome_OUTCOME_OVERTURNED, Reviewer: "r.okafor", Note: "agency account, contract on file"}
	if _, err := g.appeals(decider).ResolveAppeal(ctx, connect.NewRequest(resolve)); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("ResolveAppeal with the decide token error = %v, want PermissionDenied", err)
	}
	if _, err := g.appeals(ops).ResolveAppeal(ctx, connect.NewRequest(resolve)); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("ResolveAppeal with the admin token error = %v, want PermissionDenied", err)
	}
	noReviewer := &appealv1.ResolveAppealRequest{AppealId: appeal.GetAppealId(), Outcome: appealv1.Outcome_OUTCOME_OVERTURNED}
	if _, err := g.appeals(desk).ResolveAppeal(ctx, connect.NewRequest(noReviewer)); connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "reviewer") {
		t.Errorf("ResolveAppeal without a reviewer error = %v, want InvalidArgument naming reviewer", err)
	}
	queue, err := g.appeals(desk).ListAppeals(ctx, connect.NewRequest(&appealv1.ListAppealsRequest{}))
	if err != nil || len(queue.Msg.GetAppeals()) != 1 || queue.Msg.GetAppeals()[0].GetAppealId() != appeal.GetAppealId() {
		t.Errorf("ListAppeals(open) = %v, %v; want the one appeal", queue.Msg.GetAppeals(), err)
	}
	ra, err := g.appeals(desk).ResolveAppeal(ctx, connect.NewRequest(resolve))
	if err != nil {
		t.Fatalf("ResolveAppeal(overturned) by the desk = %v", err)
	}
	if got := ra.Msg.GetAppeal(); got.GetStatus() != appealv1.AppealStatus_APPEAL_STATUS_OVERTURNED || got.GetReviewer() != "r.okafor" || got.GetResolvedBy() != "desk" {
		t.Errorf("ResolveAppeal = %v", got)
	}
	if _, err := g.appeals(desk).ResolveAppeal(ctx, connect.NewRequest(resolve)); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("ResolveAppeal twice error = %v, want FailedPrecondition", err)
	}
	shown, err := g.appeals(desk).GetAppeal(ctx, connect.NewRequest(&appealv1.GetAppealRequest{AppealId: appeal.GetAppealId()}))
	if err != nil || shown.Msg.GetDecision().GetView() != decisionv1.View_VIEW_REVIEWER || !shown.Msg.GetDecision().GetDecision().GetOverturned() {
		t.Errorf("GetAppeal = %v, %v; want the overturned decision in the reviewer view", shown.Msg, err)
	}

	// The subject's history shows the overturn; the strike no longer counts.
	list, err := g.decisions(desk).ListDecisions(ctx, connect.NewRequest(&decisionv1.ListDecisionsRequest{SubjectId: subject}))
	if err != nil || len(list.Msg.GetDecisions()) != 1 {
		t.Fatalf("ListDecisions = %v, %v", list.Msg.GetDecisions(), err)
	}
	if got := list.Msg.GetDecisions()[0]; !got.GetOverturned() || got.GetAppealId() != appeal.GetAppealId() || got.GetAppealStatus() != "overturned" {
		t.Errorf("ListDecisions[0] overturned %v appeal %q %q, want true %s overturned", got.GetOverturned(), got.GetAppealId(), got.GetAppealStatus(), appeal.GetAppealId())
	}
	next := signup("marek.novak@example.org")
	next.Subject.Id = subject
	next.Checkpoint = "login"
	nresp, err := g.decisions(decider).Decide(ctx, connect.NewRequest(next))
	if err != nil {
		t.Fatalf("Decide(next) = %v", err)
	}
	rv, err := g.decisions(desk).GetDecision(ctx, connect.NewRequest(&decisionv1.GetDecisionRequest{DecisionId: nresp.Msg.GetDecisionId(), View: decisionv1.View_VIEW_REVIEWER}))
	if err != nil {
		t.Fatalf("GetDecision(next, reviewer) = %v", err)
	}
	hist := rv.Msg.GetInput().GetFields()["history"].GetStructValue().GetFields()
	if n := hist["strikes"].GetStructValue().GetFields()["count"].GetNumberValue(); n != 0 {
		t.Errorf("next decision's input.history.strikes.count = %v, want 0 after the overturn", n)
	}
	if n := hist["overturned"].GetNumberValue(); n != 1 {
		t.Errorf("next decision's input.history.overturned = %v, want 1", n)
	}

	// The rule's track record.
	stats, err := g.admin(ops).GetRuleStats(ctx, connect.NewRequest(&adminv1.GetRuleStatsRequest{}))
	if err != nil {
		t.Fatalf("GetRuleStats = %v", err)
	}
	var found bool
	for _, r := range stats.Msg.GetRules() {
		if r.GetCode() == "PAYOUT_ACCOUNT_SHARED" {
			found = true
			if r.GetFired() != 1 || r.GetAppealed() != 1 || r.GetOverturned() != 1 || r.GetOverturnRate() != 1 {
				t.Errorf("GetRuleStats PAYOUT_ACCOUNT_SHARED = %v, want fired 1, appealed 1, overturned 1", r)
			}
		}
	}
	if !found {
		t.Errorf("GetRuleStats = %v, want PAYOUT_ACCOUNT_SHARED", stats.Msg.GetRules())
	}

	// The DSA export, through the command.
	out := filepath.Join(t.TempDir(), "sor.jsonl")
	cmd := exec.Command(filepath.Join(binDir, "gavel"), "sor", "export", "--addr", g.addr, "--out", out)
	cmd.Env = append(os.Environ(), "GAVEL_TOKEN="+opsToken)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gavel sor export = %v\n%s", err, b)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines int
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines++
		var st map[string]any
		if err := json.Unmarshal(sc.Bytes(), &st); err != nil {
			t.Fatalf("export line %d is not JSON: %v", lines, err)
		}
		if st["puid"] == sor.GetPuid() && st["decision_monetary"] != "DECISION_MONETARY_SUSPENSION" {
			t.Errorf("exported statement = %v", st)
		}
		low := strings.ToLower(sc.Text())
		for _, personal := range []string{"marek", "novak", "example.org", req.Context.Ip, subject, d.GetDecisionId()} {
			if strings.Contains(low, strings.ToLower(personal)) {
				t.Errorf("exported statement contains %q: %s", personal, sc.Text())
			}
		}
	}
	if lines != 1 {
		t.Errorf("gavel sor export wrote %d statements, want 1 (the restrict; the login was not restrictive)", lines)
	}
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), sor.GetPuid()) {
		t.Errorf("export does not hold the decision's statement %s:\n%s", sor.GetPuid(), b)
	}
}
