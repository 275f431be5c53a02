package tests

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	appealv1 "github.com/gavel/gavel/proto/gavel/appeal/v1"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
	"github.com/gavel/gavel/proto/gavel/decision/v1/decisionv1connect"
	enforcementv1 "github.com/gavel/gavel/proto/gavel/enforcement/v1"
	"github.com/gavel/gavel/proto/gavel/enforcement/v1/enforcementv1connect"
)

func (p *gavelProc) enforcement(opts ...connect.ClientOption) enforcementv1connect.EnforcementServiceClient {
	return enforcementv1connect.NewEnforcementServiceClient(h2cClient(), p.addr, opts...)
}

// at is a request for subject at checkpoint with caller signals.
func at(subject, checkpoint string, signals ...*decisionv1.Signal) *decisionv1.DecideRequest {
	req := signup("amelia.laurent@gmail.com")
	req.Subject.Id, req.Checkpoint, req.Signals = subject, checkpoint, signals
	req.Context.DeviceId = "dev-" + subject
	return req
}

func fraudScore(s float64) *decisionv1.Signal {
	return &decisionv1.Signal{Name: "model.fraud_score", Score: s, Confidence: 1}
}

func decideOK(t *testing.T, c decisionv1connect.DecisionServiceClient, req *decisionv1.DecideRequest) *decisionv1.DecideResponse {
	t.Helper()
	resp, err := c.Decide(ctxT(t), connect.NewRequest(req))
	if err != nil {
		t.Fatalf("Decide(%s at %s) = %v", req.GetSubject().GetId(), req.GetCheckpoint(), err)
	}
	if resp.Msg.GetFallback() {
		t.Fatalf("Decide(%s at %s) fell back: %v", req.GetSubject().GetId(), req.GetCheckpoint(), codes(resp.Msg))
	}
	return resp.Msg
}

func effectState(d *decisionv1.DecideResponse, kind, capability string) string {
	for _, e := range d.GetEffects() {
		if e.GetKind() == kind && e.GetCapability() == capability {
			return e.GetState()
		}
	}
	return "none"
}

// TestHoldEnforcedUntilRemedy is the sequence a Trust & Safety team runs on:
// a restrict holds withdrawals, a withdrawal is then restricted by the hold,
// verifying identity lifts it, and the next withdrawal is allowed.
func TestHoldEnforcedUntilRemedy(t *testing.T) {
	g := startGavel(t, detectorsOff(t)...)
	c := g.decisions()
	const s = "acct-hold-e2e"

	first := decideOK(t, c, at(s, "payout_method_change", fraudScore(0.95)))
	if first.GetAction() != decisionv1.Action_ACTION_RESTRICT || !first.GetStrike() {
		t.Fatalf("payout_method_change with a 0.95 fraud score = %v %v strike %v, want a restrict with a strike", first.GetAction(), codes(first), first.GetStrike())
	}
	if !slices.ContainsFunc(first.GetRestrictions(), func(r *decisionv1.Restriction) bool { return r.GetCapability() == "withdrawals" }) {
		t.Fatalf("restrictions = %v, want withdrawals held", first.GetRestrictions())
	}

	held := decideOK(t, c, at(s, "withdrawal"))
	if held.GetAction() != decisionv1.Action_ACTION_RESTRICT || !slices.Equal(codes(held), []string{"HOLD_ACTIVE"}) || held.GetStrike() {
		t.Fatalf("withdrawal while held = %v %v strike %v, want restrict for HOLD_ACTIVE alone, no strike", held.GetAction(), codes(held), held.GetStrike())
	}
	if r := held.GetRestrictions(); len(r) != 1 || r[0].GetCapability() != "withdrawals" || r[0].GetDecisionId() != first.GetDecisionId() || r[0].GetUntil() == nil {
		t.Errorf("withdrawal while held restrictions = %v, want the withdrawals hold of %s with its until", r, first.GetDecisionId())
	}
	rev, err := c.GetDecision(ctxT(t), connect.NewRequest(&decisionv1.GetDecisionRequest{DecisionId: held.GetDecisionId(), View: decisionv1.View_VIEW_REVIEWER}))
	if err != nil {
		t.Fatal(err)
	}
	ev := rev.Msg.GetDecision().GetReasons()[0].GetEvidence()[0].AsMap()
	if ev["decision_id"] != first.GetDecisionId() || ev["capability"] != "withdrawals" || ev["until"] == "" {
		t.Errorf("HOLD_ACTIVE evidence = %v, want the placing decision %s, the capability and until", ev, first.GetDecisionId())
	}

	// The remedy checkpoint is not held: verifying identity passes and lifts the holds.
	verified := decideOK(t, c, at(s, "identity_verification"))
	if verified.GetAction() != decisionv1.Action_ACTION_ALLOW {
		t.Fatalf("identity_verification while held = %v %v, want allow", verified.GetAction(), codes(verified))
	}
	after := decideOK(t, c, at(s, "withdrawal"))
	if after.GetAction() != decisionv1.Action_ACTION_ALLOW {
		t.Fatalf("withdrawal after the remedy = %v %v, want allow", after.GetAction(), codes(after))
	}
	got, err := c.GetDecision(ctxT(t), connect.NewRequest(&decisionv1.GetDecisionRequest{DecisionId: first.GetDecisionId()}))
	if err != nil {
		t.Fatal(err)
	}
	if st := effectState(got.Msg.GetDecision(), "hold", "withdrawals"); st != "remedied" {
		t.Errorf("GetDecision(first) withdrawals hold state = %s, want remedied", st)
	}
	for _, e := range got.Msg.GetDecision().GetEffects() {
		if e.GetBy() != "" {
			t.Errorf("user view effect %v names who ended it; that is for reviewers", e)
		}
		if e.GetKind() == "hold" && !strings.Contains(e.GetDescription(), "verification") {
			t.Errorf("user view hold description = %q, want it in the account holder's words", e.GetDescription())
		}
	}
	st, err := g.enforcement().GetStanding(ctxT(t), connect.NewRequest(&enforcementv1.GetStandingRequest{SubjectId: s}))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Msg.GetStanding().GetHolds()) != 0 || len(st.Msg.GetStanding().GetStrikes()) != 1 {
		t.Errorf("standing after the remedy = %v, want no hold and the one strike", st.Msg.GetStanding())
	}
}

// TestOverturnSticks: after an appeal overturns a restrict, the same rule on
// the same evidence does not fire again for the account; new evidence does.
func TestOverturnSticks(t *testing.T) {
	g := startGavel(t, detectorsOff(t)...)
	c := g.decisions()
	const s = "acct-overturn-e2e"

	first := decideOK(t, c, at(s, "payout_method_change", fraudScore(0.95)))
	if first.GetAction() != decisionv1.Action_ACTION_RESTRICT {
		t.Fatalf("first = %v %v, want restrict", first.GetAction(), codes(first))
	}
	fa, err := g.appeals().FileAppeal(ctxT(t), connect.NewRequest(&appealv1.FileAppealRequest{DecisionId: first.GetDecisionId(), Statement: "I am who I say I am."}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.appeals().ResolveAppeal(ctxT(t), connect.NewRequest(&appealv1.ResolveAppealRequest{
		AppealId: fa.Msg.GetAppeal().GetAppealId(), Outcome: appealv1.Outcome_OUTCOME_OVERTURNED, Reviewer: "r.okafor", Note: "documents verified by phone"})); err != nil {
		t.Fatal(err)
	}

	same := decideOK(t, c, at(s, "payout_method_change", fraudScore(0.95)))
	if same.GetAction() != decisionv1.Action_ACTION_ALLOW || same.GetStrike() {
		t.Fatalf("same evidence after the overturn = %v %v strike %v, want allow without a strike", same.GetAction(), codes(same), same.GetStrike())
	}
	rev, err := c.GetDecision(ctxT(t), connect.NewRequest(&decisionv1.GetDecisionRequest{DecisionId: same.GetDecisionId(), View: decisionv1.View_VIEW_REVIEWER}))
	if err != nil {
		t.Fatal(err)
	}
	sup := rev.Msg.GetSuppressed()
	if len(sup) != 1 || sup[0].GetCode() != "MODEL_RISK" || sup[0].GetClearedByAppeal() != fa.Msg.GetAppeal().GetAppealId() || sup[0].GetOverturnedDecision() != first.GetDecisionId() {
		t.Errorf("reviewer view suppressed = %v, want MODEL_RISK cleared by appeal %s", sup, fa.Msg.GetAppeal().GetAppealId())
	}

	different := decideOK(t, c, at(s, "payout_method_change", fraudScore(0.97)))
	if different.GetAction() != decisionv1.Action_ACTION_RESTRICT || !slices.Contains(codes(different), "MODEL_RISK") {
		t.Errorf("new evidence after the overturn = %v %v, want MODEL_RISK to restrict again", different.GetAction(), codes(different))
	}

	got, err := c.GetDecision(ctxT(t), connect.NewRequest(&decisionv1.GetDecisionRequest{DecisionId: first.GetDecisionId()}))
	if err != nil {
		t.Fatal(err)
	}
	d := got.Msg.GetDecision()
	if d.GetAppealable() {
		t.Errorf("GetDecision(overturned) appealable = true, want false: there is nothing left to appeal")
	}
	if !d.GetOverturned() || effectState(d, "hold", "withdrawals") != "overturned" || effectState(d, "strike", "") != "overturned" {
		t.Errorf("GetDecision(overturned) = overturned %v effects %v, want every effect overturned", d.GetOverturned(), d.GetEffects())
	}
}

// TestManualSuspendEveryCheckpoint: a reviewer suspends by hand, every
// checkpoint is suspended, then the reviewer reinstates; and the bad
// requests a console or script would send are refused clearly.
func TestManualSuspendEveryCheckpoint(t *testing.T) {
	const (
		decideToken = "marketplace-secret-0000001"
		deskToken   = "review-desk-secret-000001"
		readToken   = "analytics-secret-00000001"
	)
	env := append(detectorsOff(t),
		"GAVEL_AUTH__TOKENS__MARKET__SECRET="+decideToken, "GAVEL_AUTH__TOKENS__MARKET__ROLES=decide",
		"GAVEL_AUTH__TOKENS__DESK__SECRET="+deskToken, "GAVEL_AUTH__TOKENS__DESK__ROLES=review,read",
		"GAVEL_AUTH__TOKENS__READER__SECRET="+readToken, "GAVEL_AUTH__TOKENS__READER__ROLES=read",
	)
	g := startGavel(t, env...)
	market, desk, reader := withToken(decideToken), withToken(deskToken), withToken(readToken)
	c := g.decisions(market)
	const s = "acct-manual-e2e"
	decideOK(t, c, at(s, "signup"))

	suspend := func(opt connect.ClientOption, m *enforcementv1.SuspendRequest) (*enforcementv1.SuspendResponse, error) {
		resp, err := g.enforcement(opt).Suspend(ctxT(t), connect.NewRequest(m))
		if err != nil {
			return nil, err
		}
		return resp.Msg, nil
	}
	good := &enforcementv1.SuspendRequest{SubjectId: s, ReasonCode: "IDENTITY_FRAUD", Note: "selfie does not match the document", Reviewer: "k.ito"}
	for _, tc := range []struct {
		name  string
		opt   connect.ClientOption
		req   *enforcementv1.SuspendRequest
		code  connect.Code
		field string
	}{
		{"decide role", market, good, connect.CodePermissionDenied, ""},
		{"read role", reader, good, connect.CodePermissionDenied, ""},
		{"no note", desk, &enforcementv1.SuspendRequest{SubjectId: s, ReasonCode: "IDENTITY_FRAUD", Reviewer: "k.ito"}, connect.CodeInvalidArgument, "note"},
		{"no reviewer", desk, &enforcementv1.SuspendRequest{SubjectId: s, ReasonCode: "IDENTITY_FRAUD", Note: "x"}, connect.CodeInvalidArgument, "reviewer"},
		{"no reason", desk, &enforcementv1.SuspendRequest{SubjectId: s, Note: "x", Reviewer: "k.ito"}, connect.CodeInvalidArgument, "reason_code"},
		{"unknown reason", desk, &enforcementv1.SuspendRequest{SubjectId: s, ReasonCode: "BAD_VIBES", Note: "x", Reviewer: "k.ito"}, connect.CodeInvalidArgument, "reason_code"},
		{"unknown subject", desk, &enforcementv1.SuspendRequest{SubjectId: "acct-nobody", ReasonCode: "IDENTITY_FRAUD", Note: "x", Reviewer: "k.ito"}, connect.CodeNotFound, ""},
	} {
		if _, err := suspend(tc.opt, tc.req); connect.CodeOf(err) != tc.code || !strings.Contains(fmt.Sprint(err), tc.field) {
			t.Errorf("Suspend(%s) = %v, want %v naming %q", tc.name, err, tc.code, tc.field)
		}
	}

	// A manual action on a subject mid-appeal is allowed and recorded against the appeal.
	restricted := decideOK(t, c, at(s, "payout_method_change", fraudScore(0.95)))
	fa, err := g.appeals(market).FileAppeal(ctxT(t), connect.NewRequest(&appealv1.FileAppealRequest{DecisionId: restricted.GetDecisionId(), Statement: "mistake"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.enforcement(desk).Lift(ctxT(t), connect.NewRequest(&enforcementv1.LiftRequest{
		SubjectId: s, ReasonCode: "REINSTATED", Note: "x", Reviewer: "k.ito", Capabilities: []string{"messaging"}})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("Lift(messaging, not held) = %v, want FailedPrecondition", err)
	}
	if _, err := g.enforcement(desk).Lift(ctxT(t), connect.NewRequest(&enforcementv1.LiftRequest{
		SubjectId: s, ReasonCode: "REINSTATED", Note: "x", Reviewer: "k.ito", Suspension: true})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("Lift(suspension, not suspended) = %v, want FailedPrecondition", err)
	}
	done, err := suspend(desk, good)
	if err != nil {
		t.Fatalf("Suspend = %v", err)
	}
	md := done.GetDecision()
	if md.GetAction() != decisionv1.Action_ACTION_SUSPEND || md.GetSource() != "manual" || !md.GetAppealable() || !md.GetStrike() ||
		md.GetStatement().GetAutomatedDecision() != "AUTOMATED_DECISION_NOT_AUTOMATED" || done.GetStanding().GetSuspension().GetSource() != "manual" {
		t.Fatalf("Suspend = %v source %s appealable %v strike %v statement %v standing %v", md.GetAction(), md.GetSource(), md.GetAppealable(), md.GetStrike(), md.GetStatement(), done.GetStanding())
	}
	got, err := g.decisions(desk).GetDecision(ctxT(t), connect.NewRequest(&decisionv1.GetDecisionRequest{DecisionId: md.GetDecisionId(), View: decisionv1.View_VIEW_REVIEWER}))
	if err != nil {
		t.Fatal(err)
	}
	if m := got.Msg.GetManual(); m.GetReviewer() != "k.ito" || m.GetCaller() != "desk" || !slices.Contains(m.GetAppealIds(), fa.Msg.GetAppeal().GetAppealId()) {
		t.Errorf("reviewer view manual = %v, want k.ito through desk, recorded against appeal %s", m, fa.Msg.GetAppeal().GetAppealId())
	}
	if _, err := suspend(desk, good); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("Suspend(already suspended) = %v, want FailedPrecondition", err)
	}

	for _, cp := range checkpoints {
		d := decideOK(t, c, at(s, cp))
		if d.GetAction() != decisionv1.Action_ACTION_SUSPEND || !slices.Contains(codes(d), "ACCOUNT_SUSPENDED") {
			t.Errorf("Decide(%s) while suspended by hand = %v %v, want suspend", cp, d.GetAction(), codes(d))
		}
	}

	re, err := g.enforcement(desk).Reinstate(ctxT(t), connect.NewRequest(&enforcementv1.ReinstateRequest{
		SubjectId: s, ReasonCode: "REINSTATED", Note: "identity confirmed on a video call", Reviewer: "k.ito"}))
	if err != nil {
		t.Fatalf("Reinstate = %v", err)
	}
	if st := re.Msg.GetStanding(); st.GetSuspension() != nil || len(st.GetHolds()) != 0 {
		t.Errorf("standing after Reinstate = %v, want no suspension and no hold", st)
	}
	if d := decideOK(t, c, at(s, "login")); d.GetAction() != decisionv1.Action_ACTION_ALLOW {
		t.Errorf("login after Reinstate = %v %v, want allow", d.GetAction(), codes(d))
	}

	// A hold placed by hand binds the checkpoint that uses it until lifted by hand.
	if _, err := g.enforcement(desk).Restrict(ctxT(t), connect.NewRequest(&enforcementv1.RestrictRequest{
		SubjectId: s, ReasonCode: "POLICY_VIOLATION", Note: "withdrawals paused during a chargeback review", Reviewer: "k.ito", Capabilities: []string{"withdrawals"}})); err != nil {
		t.Fatalf("Restrict(withdrawals) = %v", err)
	}
	if d := decideOK(t, c, at(s, "withdrawal")); d.GetAction() != decisionv1.Action_ACTION_RESTRICT || !slices.Contains(codes(d), "HOLD_ACTIVE") {
		t.Errorf("withdrawal under a manual hold = %v %v, want restrict for HOLD_ACTIVE", d.GetAction(), codes(d))
	}
	if _, err := g.enforcement(desk).Lift(ctxT(t), connect.NewRequest(&enforcementv1.LiftRequest{
		SubjectId: s, ReasonCode: "REINSTATED", Note: "chargeback resolved", Reviewer: "k.ito", Capabilities: []string{"withdrawals"}})); err != nil {
		t.Fatalf("Lift(withdrawals) = %v", err)
	}
	if d := decideOK(t, c, at(s, "withdrawal")); d.GetAction() != decisionv1.Action_ACTION_ALLOW {
		t.Errorf("withdrawal after the manual hold was lifted = %v %v, want allow", d.GetAction(), codes(d))
	}
	got, err = g.decisions(reader).GetDecision(ctxT(t), connect.NewRequest(&decisionv1.GetDecisionRequest{DecisionId: md.GetDecisionId()}))
	if err != nil {
		t.Fatal(err)
	}
	if st := effectState(got.Msg.GetDecision(), "suspension", ""); st != "lifted" {
		t.Errorf("GetDecision(manual suspension) suspension state = %s, want lifted", st)
	}
	if _, err := g.enforcement(reader).GetStanding(ctxT(t), connect.NewRequest(&enforcementv1.GetStandingRequest{SubjectId: s})); err != nil {
		t.Errorf("GetStanding with the read role = %v", err)
	}
	if _, err := g.enforcement(market).GetStanding(ctxT(t), connect.NewRequest(&enforcementv1.GetStandingRequest{SubjectId: s})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("GetStanding with the decide role = %v, want PermissionDenied", err)
	}
}

// TestSuspensionSeenByNextDecision: a suspension placed by hand reaches the
// linkage detector before the reply, so a signup from the same device the
// very next moment is linked to a suspended account.
func TestSuspensionSeenByNextDecision(t *testing.T) {
	var env []string
	for _, d := range builtinDetectors(t) {
		if d != "linkage" {
			env = append(env, fmt.Sprintf("GAVEL_DETECTORS__PLUGINS__%s__ENABLED=false", upper(d)))
		}
	}
	g := startGavel(t, env...)
	c := g.decisions()
	first := at("acct-farm-1", "signup")
	first.Context.DeviceId = "dev-farm-shared"
	if d := decideOK(t, c, first); d.GetAction() != decisionv1.Action_ACTION_ALLOW {
		t.Fatalf("first signup = %v %v, want allow", d.GetAction(), codes(d))
	}
	if _, err := g.enforcement().Suspend(ctxT(t), connect.NewRequest(&enforcementv1.SuspendRequest{
		SubjectId: "acct-farm-1", ReasonCode: "IDENTITY_FRAUD", Note: "synthetic identity", Reviewer: "k.ito"})); err != nil {
		t.Fatalf("Suspend = %v", err)
	}
	second := at("acct-farm-2", "signup")
	second.Context.DeviceId = "dev-farm-shared"
	d := decideOK(t, c, second)
	if !slices.Contains(codes(d), "LINKED_TO_SUSPENDED_ACCOUNT") {
		t.Errorf("signup on the suspended account's device right after the suspension = %v %v, want LINKED_TO_SUSPENDED_ACCOUNT", d.GetAction(), codes(d))
	}
}

// TestStandingCLI is issue 8's sequence as a new user types it: a restrict,
// a held withdrawal, the account's standing, a manual suspension and a
// reinstatement, and the text views of get and status.
func TestStandingCLI(t *testing.T) {
	g := startGavel(t, detectorsOff(t)...)
	addr := strings.TrimPrefix(g.addr, "http://") // host:port, as GAVEL_ADDR is often given
	run := func(args ...string) string {
		t.Helper()
		r := gavelCLI(t, append(args, "--addr", addr)...)
		if r.code != 0 {
			t.Fatalf("gavel %v: %v", args, r)
		}
		return r.stdout
	}
	first := run("decide", "--checkpoint", "payout_method_change", "--subject", "acct-cli", "--signal", "model.fraud_score=0.95")
	if !strings.Contains(first, "RESTRICT") || !strings.Contains(first, "restricted withdrawals until") {
		t.Fatalf("gavel decide (restrict) printed:\n%s", first)
	}
	id := strings.Fields(strings.SplitN(first, "\n", 2)[0])[1]
	held := run("decide", "--checkpoint", "withdrawal", "--subject", "acct-cli")
	if !strings.Contains(held, "HOLD_ACTIVE") || !strings.Contains(held, "held since decision "+id) {
		t.Errorf("gavel decide (withdrawal while held) printed:\n%s", held)
	}
	standing := run("standing", "acct-cli")
	if !strings.Contains(standing, "hold       withdrawals") || !strings.Contains(standing, "placed by decision "+id) || !strings.Contains(standing, "strikes    1") {
		t.Errorf("gavel standing printed:\n%s", standing)
	}
	susp := run("enforce", "suspend", "acct-cli", "--reason", "IDENTITY_FRAUD", "--note", "selfie does not match", "--reviewer", "k.ito")
	if !strings.Contains(susp, "SUSPEND") || !strings.Contains(susp, "source     manual") || !strings.Contains(susp, "by manual decision") {
		t.Errorf("gavel enforce suspend printed:\n%s", susp)
	}
	if r := gavelCLI(t, "enforce", "suspend", "acct-cli", "--reason", "IDENTITY_FRAUD", "--reviewer", "k.ito", "--addr", addr); r.code == 0 || !strings.Contains(r.stderr, "note") {
		t.Errorf("gavel enforce suspend without --note: %v; want a failure naming note", r)
	}
	re := run("enforce", "reinstate", "acct-cli", "--reason", "REINSTATED", "--note", "confirmed on a video call", "--reviewer", "k.ito")
	if !strings.Contains(re, "suspended  no") || !strings.Contains(re, "holds      none") {
		t.Errorf("gavel enforce reinstate printed:\n%s", re)
	}
	got := run("get", "--reviewer", id)
	for _, want := range []string{"effects now", "hold withdrawals", "lifted", "input (the document the policy evaluated)"} {
		if !strings.Contains(got, want) {
			t.Errorf("gavel get --reviewer lacks %q:\n%s", want, got)
		}
	}
	// protojson varies its spacing on purpose: match the input's checkpoint loosely.
	if !regexp.MustCompile(`"checkpoint":\s+"payout_method_change"`).MatchString(got) {
		t.Errorf("gavel get --reviewer shows no input checkpoint:\n%s", got)
	}
	if st := run("status"); !strings.Contains(st, "ledger ok, journal: 0 decisions") {
		t.Errorf("gavel status printed:\n%s", st)
	}
}
