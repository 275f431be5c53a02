package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/gavel/gavel/events"
	"github.com/gavel/gavel/events/eventstest"
	"github.com/gavel/gavel/internal/pgtest"
	appealv1 "github.com/gavel/gavel/proto/gavel/appeal/v1"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
	enforcementv1 "github.com/gavel/gavel/proto/gavel/enforcement/v1"
	reviewv1 "github.com/gavel/gavel/proto/gavel/review/v1"
	"github.com/gavel/gavel/proto/gavel/review/v1/reviewv1connect"
)

func (p *gavelProc) review(opts ...connect.ClientOption) reviewv1connect.ReviewServiceClient {
	return reviewv1connect.NewReviewServiceClient(h2cClient(), p.addr, opts...)
}

func itemIDs(items []*reviewv1.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.GetId()
	}
	return out
}

// wantCode fails unless err is a Connect error with code and a message
// containing each of the parts.
func wantCode(t *testing.T, what string, err error, code connect.Code, parts ...string) {
	t.Helper()
	if connect.CodeOf(err) != code {
		t.Errorf("%s = %v, want %v", what, err, code)
		return
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s = %q, want it to say %q", what, err, p)
		}
	}
}

// TestReviewQueue walks the queue as reviewers do: decisions the policy
// marks for review open cases, an appeal joins them in one queue; a
// reviewer filters, claims, notes and resolves (uphold, lift, suspend,
// and an appeal upheld); refusals and bad input get the right codes; then
// the same through the CLI. On PostgreSQL when the test server is
// configured, else SQLite.
func TestReviewQueue(t *testing.T) {
	const (
		decideToken = "payouts-service-secret-0001"
		deskToken   = "review-desk-secret-0000001"
		readToken   = "read-only-secret-000000001"
		opsToken    = "operations-secret-000000001"
	)
	env := append(detectorsOff(t),
		"GAVEL_AUTH__TOKENS__PAYOUTS__SECRET="+decideToken,
		"GAVEL_AUTH__TOKENS__PAYOUTS__ROLES=decide",
		"GAVEL_AUTH__TOKENS__DESK__SECRET="+deskToken,
		"GAVEL_AUTH__TOKENS__DESK__ROLES=review,read",
		"GAVEL_AUTH__TOKENS__READER__SECRET="+readToken,
		"GAVEL_AUTH__TOKENS__READER__ROLES=read",
		"GAVEL_AUTH__TOKENS__OPS__SECRET="+opsToken,
		"GAVEL_AUTH__TOKENS__OPS__ROLES=admin,read",
	)
	if os.Getenv(pgtest.Env) != "" {
		env = append(env, "GAVEL_LEDGER__DRIVER=postgres", "GAVEL_LEDGER__DSN="+pgtest.Schema(t, "gavel_e2e_queue"))
	} else {
		env = append(env, "GAVEL_LEDGER__PATH="+filepath.Join(t.TempDir(), "queue.db"))
	}
	g := startGavel(t, env...)
	decider, desk, reader, ops := withToken(decideToken), withToken(deskToken), withToken(readToken), withToken(opsToken)
	c := g.decisions(decider)
	ctx := ctxT(t)
	rq := g.review(desk)

	// A restrict on MODEL_RISK (marked for review, SLA 24h) opens a case;
	// so does a challenge on it. A restrict on an unmarked reason opens
	// none, and its appeal joins the queue. A dry run opens nothing.
	a := decideOK(t, c, at("acct-queue-a", "payout_method_change", fraudScore(0.95)))
	if a.GetAction() != decisionv1.Action_ACTION_RESTRICT {
		t.Fatalf("payout_method_change with a 0.95 fraud score = %v %v, want restrict", a.GetAction(), codes(a))
	}
	b := decideOK(t, c, at("acct-queue-b", "login", fraudScore(0.8)))
	if b.GetAction() != decisionv1.Action_ACTION_CHALLENGE {
		t.Fatalf("login with a 0.8 fraud score = %v %v, want challenge", b.GetAction(), codes(b))
	}
	shared := &decisionv1.Signal{Name: "linkage.shared_payout_account", Score: 1, Value: "3", Confidence: 1}
	cdec := decideOK(t, c, at("acct-queue-c", "withdrawal", shared))
	if cdec.GetAction() != decisionv1.Action_ACTION_RESTRICT {
		t.Fatalf("withdrawal on a shared payout account = %v %v, want restrict", cdec.GetAction(), codes(cdec))
	}
	fa, err := g.appeals(decider).FileAppeal(ctx, connect.NewRequest(&appealv1.FileAppealRequest{
		DecisionId: cdec.GetDecisionId(), Statement: "The payout account is my agency's.",
	}))
	if err != nil {
		t.Fatalf("FileAppeal = %v", err)
	}
	appealID := fa.Msg.GetAppeal().GetAppealId()
	dry := at("acct-queue-dry", "payout_method_change", fraudScore(0.95))
	dry.DryRun = true
	decideOK(t, c, dry)

	rev, err := g.decisions(desk).GetDecision(ctx, connect.NewRequest(&decisionv1.GetDecisionRequest{DecisionId: a.GetDecisionId(), View: decisionv1.View_VIEW_REVIEWER}))
	if err != nil || !slices.Equal(rev.Msg.GetDecision().GetReviewCodes(), []string{"MODEL_RISK"}) {
		t.Errorf("GetDecision(reviewer view).review_codes = %v, %v; want [MODEL_RISK]", rev.Msg.GetDecision().GetReviewCodes(), err)
	}

	list := func(client reviewv1connect.ReviewServiceClient, req *reviewv1.ListQueueRequest) []*reviewv1.Item {
		t.Helper()
		resp, err := client.ListQueue(ctx, connect.NewRequest(req))
		if err != nil {
			t.Fatalf("ListQueue(%v) = %v", req, err)
		}
		return resp.Msg.GetItems()
	}
	all := list(g.review(reader), &reviewv1.ListQueueRequest{})
	if len(all) != 3 || all[0].GetDecisionId() != a.GetDecisionId() || all[1].GetDecisionId() != b.GetDecisionId() || all[2].GetId() != appealID {
		t.Fatalf("ListQueue() = %v, want the case of a, the case of b, the appeal of c, oldest first", itemIDs(all))
	}
	caseA, caseB := all[0], all[1]
	if caseA.GetKind() != reviewv1.Kind_KIND_CASE || !strings.HasPrefix(caseA.GetId(), "case-") || caseA.GetSubjectId() != "acct-queue-a" ||
		caseA.GetAction() != decisionv1.Action_ACTION_RESTRICT || !slices.Equal(caseA.GetReasonCodes(), []string{"MODEL_RISK"}) ||
		caseA.GetDueAt().AsTime().Sub(caseA.GetOpenedAt().AsTime()) != 24*time.Hour || caseA.GetOverdue() || caseA.GetAge() == nil || caseA.GetStatus() != "open" {
		t.Errorf("case of a = %v", caseA)
	}
	if ap := all[2]; ap.GetKind() != reviewv1.Kind_KIND_APPEAL || ap.GetDueAt().AsTime().Sub(ap.GetOpenedAt().AsTime()) != 48*time.Hour ||
		!slices.Equal(ap.GetReasonCodes(), []string{"PAYOUT_ACCOUNT_SHARED"}) {
		t.Errorf("appeal of c = %v", ap)
	}
	for _, tc := range []struct {
		name string
		req  *reviewv1.ListQueueRequest
		want []string
	}{
		{"cases", &reviewv1.ListQueueRequest{Kind: reviewv1.Kind_KIND_CASE}, []string{caseA.GetId(), caseB.GetId()}},
		{"appeals", &reviewv1.ListQueueRequest{Kind: reviewv1.Kind_KIND_APPEAL}, []string{appealID}},
		{"reason MODEL_RISK", &reviewv1.ListQueueRequest{ReasonCode: "MODEL_RISK"}, []string{caseA.GetId(), caseB.GetId()}},
		{"reason PAYOUT_ACCOUNT_SHARED", &reviewv1.ListQueueRequest{ReasonCode: "PAYOUT_ACCOUNT_SHARED"}, []string{appealID}},
		{"overdue", &reviewv1.ListQueueRequest{Overdue: true}, []string{}},
	} {
		if got := itemIDs(list(rq, tc.req)); !slices.Equal(got, tc.want) {
			t.Errorf("ListQueue(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}

	// Another marked decision of b joins b's open case.
	decideOK(t, c, at("acct-queue-b", "login", fraudScore(0.85)))
	if got := list(rq, &reviewv1.ListQueueRequest{SubjectId: "acct-queue-b"}); len(got) != 1 || got[0].GetId() != caseB.GetId() {
		t.Errorf("ListQueue(b) after a second marked decision = %v, want b's one case", itemIDs(got))
	}

	// The account's standing lists its open case.
	if st, err := g.enforcement(reader).GetStanding(ctx, connect.NewRequest(&enforcementv1.GetStandingRequest{SubjectId: "acct-queue-a"})); err != nil ||
		len(st.Msg.GetStanding().GetOpenCases()) != 1 || st.Msg.GetStanding().GetOpenCases()[0].GetCaseId() != caseA.GetId() {
		t.Errorf("GetStanding(a).open_cases = %v, %v; want a's case", st.Msg.GetStanding().GetOpenCases(), err)
	}

	// Roles.
	_, err = g.review(decider).ListQueue(ctx, connect.NewRequest(&reviewv1.ListQueueRequest{}))
	wantCode(t, "ListQueue with a decide token", err, connect.CodePermissionDenied)
	_, err = g.review(reader).Claim(ctx, connect.NewRequest(&reviewv1.ClaimRequest{Id: caseA.GetId(), Reviewer: "ana"}))
	wantCode(t, "Claim with a read token", err, connect.CodePermissionDenied)
	_, err = g.review(ops).Claim(ctx, connect.NewRequest(&reviewv1.ClaimRequest{Id: appealID, Reviewer: "ops"}))
	wantCode(t, "Claim of an appeal with an admin token", err, connect.CodePermissionDenied, "review role")

	// Bad input names the field.
	_, err = rq.ListQueue(ctx, connect.NewRequest(&reviewv1.ListQueueRequest{Kind: reviewv1.Kind(9)}))
	wantCode(t, "ListQueue(kind 9)", err, connect.CodeInvalidArgument, "kind")
	_, err = rq.ListQueue(ctx, connect.NewRequest(&reviewv1.ListQueueRequest{ReasonCode: "model risk"}))
	wantCode(t, "ListQueue(reason_code \"model risk\")", err, connect.CodeInvalidArgument, "reason_code")
	_, err = rq.ListQueue(ctx, connect.NewRequest(&reviewv1.ListQueueRequest{PageSize: 500}))
	wantCode(t, "ListQueue(page_size 500)", err, connect.CodeInvalidArgument, "page_size")
	_, err = rq.ListQueue(ctx, connect.NewRequest(&reviewv1.ListQueueRequest{PageToken: "garbage"}))
	wantCode(t, "ListQueue(page_token garbage)", err, connect.CodeInvalidArgument, "page_token")
	_, err = rq.ListQueue(ctx, connect.NewRequest(&reviewv1.ListQueueRequest{Assignee: "ana", Unassigned: true}))
	wantCode(t, "ListQueue(assignee and unassigned)", err, connect.CodeInvalidArgument, "unassigned")
	_, err = rq.Claim(ctx, connect.NewRequest(&reviewv1.ClaimRequest{Id: caseA.GetId()}))
	wantCode(t, "Claim without a reviewer", err, connect.CodeInvalidArgument, "reviewer")
	_, err = rq.GetItem(ctx, connect.NewRequest(&reviewv1.GetItemRequest{}))
	wantCode(t, "GetItem without an id", err, connect.CodeInvalidArgument, "id")
	_, err = rq.GetItem(ctx, connect.NewRequest(&reviewv1.GetItemRequest{Id: "case-0000"}))
	wantCode(t, "GetItem(unknown case)", err, connect.CodeNotFound)
	_, err = rq.Resolve(ctx, connect.NewRequest(&reviewv1.ResolveRequest{Id: caseA.GetId(), Resolution: reviewv1.Resolution_RESOLUTION_OVERTURN, Reviewer: "ana", Note: "x"}))
	wantCode(t, "Resolve(case, overturn)", err, connect.CodeInvalidArgument, "resolution")
	_, err = rq.Resolve(ctx, connect.NewRequest(&reviewv1.ResolveRequest{Id: caseA.GetId(), Resolution: reviewv1.Resolution_RESOLUTION_LIFT, Reviewer: "ana"}))
	wantCode(t, "Resolve without a note", err, connect.CodeInvalidArgument, "note")
	_, err = rq.Resolve(ctx, connect.NewRequest(&reviewv1.ResolveRequest{Id: caseA.GetId(), Resolution: reviewv1.Resolution_RESOLUTION_SUSPEND, Reviewer: "ana", Note: "x", ReasonCode: "NOT_A_CODE"}))
	wantCode(t, "Resolve(suspend, reason NOT_A_CODE)", err, connect.CodeInvalidArgument, "reason_code")
	_, err = rq.AddNote(ctx, connect.NewRequest(&reviewv1.AddNoteRequest{Id: caseA.GetId(), Author: "ana", Body: strings.Repeat("x", 4001)}))
	wantCode(t, "AddNote(4001 characters)", err, connect.CodeInvalidArgument, "body")

	// ana claims a's case; bo can neither claim nor resolve it.
	cl, err := rq.Claim(ctx, connect.NewRequest(&reviewv1.ClaimRequest{Id: caseA.GetId(), Reviewer: "ana"}))
	if err != nil || cl.Msg.GetItem().GetClaimedBy() != "ana" {
		t.Fatalf("Claim(a, ana) = %v, %v", cl, err)
	}
	_, err = rq.Claim(ctx, connect.NewRequest(&reviewv1.ClaimRequest{Id: caseA.GetId(), Reviewer: "bo"}))
	wantCode(t, "Claim(a, bo) while ana holds it", err, connect.CodeFailedPrecondition, "claimed by ana")
	_, err = rq.Resolve(ctx, connect.NewRequest(&reviewv1.ResolveRequest{Id: caseA.GetId(), Resolution: reviewv1.Resolution_RESOLUTION_UPHOLD, Reviewer: "bo", Note: "fine"}))
	wantCode(t, "Resolve(a, bo) while ana holds it", err, connect.CodeFailedPrecondition, "claimed by ana")
	if got := itemIDs(list(rq, &reviewv1.ListQueueRequest{Assignee: "ana"})); !slices.Equal(got, []string{caseA.GetId()}) {
		t.Errorf("ListQueue(assignee ana) = %v, want a's case", got)
	}
	if got := itemIDs(list(rq, &reviewv1.ListQueueRequest{Unassigned: true})); !slices.Equal(got, []string{caseB.GetId(), appealID}) {
		t.Errorf("ListQueue(unassigned) = %v, want b's case and the appeal", got)
	}
	if _, err := rq.AddNote(ctx, connect.NewRequest(&reviewv1.AddNoteRequest{Id: caseA.GetId(), Author: "ana", Body: "Payout change from a new device; model score 0.95."})); err != nil {
		t.Fatal(err)
	}
	item, err := rq.GetItem(ctx, connect.NewRequest(&reviewv1.GetItemRequest{Id: caseA.GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	if n := item.Msg.GetNotes(); len(n) != 1 || n[0].GetAuthor() != "ana" {
		t.Errorf("GetItem(a).notes = %v, want ana's note", n)
	}
	if d := item.Msg.GetDecisions(); len(d) != 1 || d[0].GetView() != decisionv1.View_VIEW_REVIEWER || d[0].GetDecision().GetDecisionId() != a.GetDecisionId() || len(d[0].GetSignals()) == 0 {
		t.Errorf("GetItem(a).decisions = %v, want a's decision in the reviewer view", d)
	}

	// ana lifts: a manual lift of a's holds, recorded with the case's
	// resolution in one transaction.
	res, err := rq.Resolve(ctx, connect.NewRequest(&reviewv1.ResolveRequest{
		Id: caseA.GetId(), Resolution: reviewv1.Resolution_RESOLUTION_LIFT, Reviewer: "ana", Note: "The account holder changed banks; verified by phone.",
	}))
	if err != nil {
		t.Fatalf("Resolve(a, lift) = %v", err)
	}
	if it := res.Msg.GetItem(); it.GetStatus() != "resolved" || it.GetResolution() != reviewv1.Resolution_RESOLUTION_LIFT ||
		it.GetActionDecisionId() == "" || it.GetActionDecisionId() != res.Msg.GetDecision().GetDecisionId() || it.GetReviewer() != "ana" {
		t.Errorf("Resolve(a, lift) item = %v", it)
	}
	if d := res.Msg.GetDecision(); d.GetSource() != "manual" || d.GetAction() != decisionv1.Action_ACTION_ALLOW || !slices.Equal(codes(d), []string{"REINSTATED"}) {
		t.Errorf("Resolve(a, lift) decision = %v", d)
	}
	if got, err := g.decisions(desk).GetDecision(ctx, connect.NewRequest(&decisionv1.GetDecisionRequest{
		DecisionId: res.Msg.GetItem().GetActionDecisionId(), View: decisionv1.View_VIEW_REVIEWER,
	})); err != nil || got.Msg.GetManual().GetCaseId() != caseA.GetId() || got.Msg.GetManual().GetKind() != "lift" {
		t.Errorf("GetDecision(the lift).manual = %v, %v; want a lift naming case %s", got.Msg.GetManual(), err, caseA.GetId())
	}
	st, err := g.enforcement(desk).GetStanding(ctx, connect.NewRequest(&enforcementv1.GetStandingRequest{SubjectId: "acct-queue-a"}))
	if err != nil || len(st.Msg.GetStanding().GetHolds()) != 0 {
		t.Errorf("standing of a after the lift = %v, %v; want no hold", st.Msg.GetStanding().GetHolds(), err)
	}
	_, err = rq.Resolve(ctx, connect.NewRequest(&reviewv1.ResolveRequest{Id: caseA.GetId(), Resolution: reviewv1.Resolution_RESOLUTION_UPHOLD, Reviewer: "ana", Note: "again"}))
	wantCode(t, "Resolve(a) again", err, connect.CodeFailedPrecondition, "already resolved")
	_, err = rq.Claim(ctx, connect.NewRequest(&reviewv1.ClaimRequest{Id: caseA.GetId(), Reviewer: "ana"}))
	wantCode(t, "Claim(a) once resolved", err, connect.CodeFailedPrecondition, "already resolved")

	// b's case is a challenge: nothing to lift; the reviewer suspends.
	_, err = rq.Resolve(ctx, connect.NewRequest(&reviewv1.ResolveRequest{Id: caseB.GetId(), Resolution: reviewv1.Resolution_RESOLUTION_LIFT, Reviewer: "bo", Note: "x"}))
	wantCode(t, "Resolve(b, lift) with no hold in force", err, connect.CodeFailedPrecondition, "nothing to lift")
	res, err = rq.Resolve(ctx, connect.NewRequest(&reviewv1.ResolveRequest{
		Id: caseB.GetId(), Resolution: reviewv1.Resolution_RESOLUTION_SUSPEND, Reviewer: "bo", Note: "Two logins from a device farm; the model is right.",
	}))
	if err != nil {
		t.Fatalf("Resolve(b, suspend) = %v", err)
	}
	if d := res.Msg.GetDecision(); d.GetAction() != decisionv1.Action_ACTION_SUSPEND || !slices.Equal(codes(d), []string{"MODEL_RISK"}) {
		t.Errorf("Resolve(b, suspend) decision = %v %v, want a suspension on MODEL_RISK", d.GetAction(), codes(d))
	}
	if it := res.Msg.GetItem(); len(it.GetDecisionIds()) != 2 || it.GetResolution() != reviewv1.Resolution_RESOLUTION_SUSPEND {
		t.Errorf("Resolve(b, suspend) item = %v, want two decisions, resolved by suspension", it)
	}
	st, err = g.enforcement(desk).GetStanding(ctx, connect.NewRequest(&enforcementv1.GetStandingRequest{SubjectId: "acct-queue-b"}))
	if err != nil || st.Msg.GetStanding().GetSuspension() == nil {
		t.Errorf("standing of b after the suspension = %v, %v; want suspended", st.Msg.GetStanding(), err)
	}

	// The appeal, through the same queue: an admin may not resolve it, a
	// reviewer upholds it.
	_, err = g.review(ops).Resolve(ctx, connect.NewRequest(&reviewv1.ResolveRequest{Id: appealID, Resolution: reviewv1.Resolution_RESOLUTION_UPHOLD, Reviewer: "ops", Note: "x"}))
	wantCode(t, "Resolve(appeal) with an admin token", err, connect.CodePermissionDenied)
	_, err = rq.Resolve(ctx, connect.NewRequest(&reviewv1.ResolveRequest{Id: appealID, Resolution: reviewv1.Resolution_RESOLUTION_LIFT, Reviewer: "ana", Note: "x"}))
	wantCode(t, "Resolve(appeal, lift)", err, connect.CodeInvalidArgument, "resolution")
	res, err = rq.Resolve(ctx, connect.NewRequest(&reviewv1.ResolveRequest{Id: appealID, Resolution: reviewv1.Resolution_RESOLUTION_UPHOLD, Reviewer: "ana", Note: "Four accounts share it; no agency on file."}))
	if err != nil || res.Msg.GetItem().GetStatus() != "upheld" {
		t.Fatalf("Resolve(appeal, uphold) = %v, %v", res, err)
	}
	ga, err := g.appeals(desk).GetAppeal(ctx, connect.NewRequest(&appealv1.GetAppealRequest{AppealId: appealID}))
	if err != nil || ga.Msg.GetAppeal().GetStatus() != appealv1.AppealStatus_APPEAL_STATUS_UPHELD || ga.Msg.GetAppeal().GetReviewer() != "ana" {
		t.Errorf("GetAppeal after the queue upheld it = %v, %v", ga.Msg.GetAppeal(), err)
	}
	if got := list(rq, &reviewv1.ListQueueRequest{}); len(got) != 0 {
		t.Errorf("ListQueue() after resolving everything = %v, want empty", itemIDs(got))
	}

	// The CLI, as a reviewer at a terminal.
	e := decideOK(t, c, at("acct-queue-e", "withdrawal", fraudScore(0.95)))
	cli := func(args ...string) result {
		t.Helper()
		return gavelCLI(t, append(args, "--addr", g.addr, "--token", deskToken)...)
	}
	r := cli("queue", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "acct-queue-e") || !strings.Contains(r.stdout, "MODEL_RISK") || !strings.Contains(r.stdout, "case-") {
		t.Fatalf("gavel queue list = %s", r)
	}
	r = cli("queue", "list", "--kind", "case", "--json")
	var listed struct {
		Items []struct {
			ID         string `json:"id"`
			DecisionID string `json:"decisionId"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &listed); r.code != 0 || err != nil || len(listed.Items) != 1 || listed.Items[0].DecisionID != e.GetDecisionId() {
		t.Fatalf("gavel queue list --json = %s (%v)", r, err)
	}
	id := listed.Items[0].ID
	if r = cli("queue", "claim", id, "--reviewer", "carla"); r.code != 0 || !strings.Contains(r.stdout, "claimed by  carla") {
		t.Errorf("gavel queue claim = %s", r)
	}
	if r = cli("queue", "note", id, "--reviewer", "carla", "--text", "Asked for a bank statement."); r.code != 0 || !strings.Contains(r.stdout, "added to "+id) {
		t.Errorf("gavel queue note = %s", r)
	}
	if r = cli("queue", "show", id); r.code != 0 || !strings.Contains(r.stdout, "Asked for a bank statement.") || !strings.Contains(r.stdout, e.GetDecisionId()) {
		t.Errorf("gavel queue show = %s", r)
	}
	if r = cli("queue", "list", "--assignee", "carla"); r.code != 0 || !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, "carla") {
		t.Errorf("gavel queue list --assignee carla = %s", r)
	}
	if r = cli("queue", "resolve", id, "--as", "uphold", "--reviewer", "carla", "--note", "Statement matches; the hold stays until verification."); r.code != 0 || !strings.Contains(r.stdout, "resolution  uphold by carla") {
		t.Errorf("gavel queue resolve --as uphold = %s", r)
	}
	if r = cli("queue", "resolve", id, "--as", "uphold", "--reviewer", "carla", "--note", "again"); r.code == 0 || !strings.Contains(r.stderr, "failed_precondition") || !strings.Contains(r.stderr, "already resolved") {
		t.Errorf("gavel queue resolve (resolved) = %s, want a failed_precondition naming the refusal", r)
	}
	if r = cli("queue", "resolve", id, "--as", "dismiss", "--note", "x"); r.code == 0 || !strings.Contains(r.stderr, "--as") {
		t.Errorf("gavel queue resolve --as dismiss = %s, want a usage error naming --as", r)
	}
	if r = cli("queue", "claim", id); r.code == 0 || !strings.Contains(r.stderr, "reviewer") {
		t.Errorf("gavel queue claim without a reviewer = %s, want an error naming reviewer", r)
	}
	if r = cli("queue", "list"); r.code != 0 || !strings.Contains(r.stdout, "the queue is empty") {
		t.Errorf("gavel queue list (empty) = %s", r)
	}
}

// TestCaseEventsDelivered: a case opened by a decision and resolved through
// the queue reach the marketplace's webhook as gavel.case.opened and
// gavel.case.resolved, signed, after the decision's own event, in order.
func TestCaseEventsDelivered(t *testing.T) {
	secret := eventstest.NewSecret()
	r := eventstest.NewReceiver(t, secret)
	g := startGavel(t, append(detectorsOff(t), eventsEnv(r, secret)...)...)
	d := decideOK(t, g.decisions(), at("acct-case-events", "payout_method_change", fraudScore(0.95)))
	q := g.review()
	items, err := q.ListQueue(ctxT(t), connect.NewRequest(&reviewv1.ListQueueRequest{SubjectId: "acct-case-events"}))
	if err != nil || len(items.Msg.GetItems()) != 1 {
		t.Fatalf("ListQueue = %v, %v; want the case", items, err)
	}
	id := items.Msg.GetItems()[0].GetId()
	if _, err := q.Resolve(ctxT(t), connect.NewRequest(&reviewv1.ResolveRequest{
		Id: id, Resolution: reviewv1.Resolution_RESOLUTION_UPHOLD, Reviewer: "ana", Note: "the model is right",
	})); err != nil {
		t.Fatal(err)
	}
	var got []eventstest.Received
	eventually(t, 30*time.Second, "the case's events delivered", func() (bool, string) {
		got = nil
		for _, ev := range r.Delivered()["acct-case-events"] {
			if ev.Type == events.TypeCaseOpened || ev.Type == events.TypeCaseResolved || ev.Type == events.TypeDecisionRestrictive {
				got = append(got, ev)
			}
		}
		return len(got) >= 3, fmt.Sprintf("%d of 3", len(got))
	})
	var types []string
	for _, ev := range got {
		types = append(types, ev.Type)
	}
	if want := []string{events.TypeDecisionRestrictive, events.TypeCaseOpened, events.TypeCaseResolved}; !slices.Equal(types, want) {
		t.Fatalf("case events delivered = %v, want %v", types, want)
	}
	var opened, resolved events.CaseData
	if err := json.Unmarshal(got[1].Data, &opened); err != nil || opened.CaseID != id || opened.DecisionID != d.GetDecisionId() || !slices.Equal(opened.Reasons, []string{"MODEL_RISK"}) {
		t.Errorf("gavel.case.opened data = %s (%v)", got[1].Data, err)
	}
	if err := json.Unmarshal(got[2].Data, &resolved); err != nil || resolved.CaseID != id || resolved.Resolution != "uphold" {
		t.Errorf("gavel.case.resolved data = %s (%v)", got[2].Data, err)
	}
	for _, ev := range got {
		if ev.Signatures == 0 {
			t.Errorf("%s delivered without a verified signature", ev.Type)
		}
	}
	if p := r.Problems(); len(p) > 0 {
		t.Errorf("receiver problems: %v", p)
	}
}
