package tests

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"

	appealv1 "github.com/gavel/gavel/proto/gavel/appeal/v1"
	"github.com/gavel/gavel/proto/gavel/appeal/v1/appealv1connect"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

// An account suspended for reusing another account's identity document
// makes a third account on its device LINKED_TO_SUSPENDED_ACCOUNT: the
// suspension reaches the linkage detector through Observe, after A's reply,
// so B's decision is polled. (A caller-supplied signal alone never suspends,
// so the suspension comes from the linkage detector itself.)
func TestSuspensionReachesLinkedAccount(t *testing.T) {
	t.Parallel()
	g := startGavel(t)
	client := g.decisions()

	number := fmt.Sprintf("DOC-%d", time.Now().UnixNano())
	verify := func(r *decisionv1.DecideRequest) *decisionv1.DecideResponse {
		t.Helper()
		r.Checkpoint = "identity_verification"
		r.Attributes, _ = structpb.NewStruct(map[string]any{"document": map[string]any{
			"number": number, "country": "FR", "given_name": "Amelia", "family_name": "Laurent",
			"expires": "2099-01-01", "vendor_verdict": "approved",
		}})
		resp, err := client.Decide(ctxT(t), connect.NewRequest(r))
		if err != nil {
			t.Fatalf("Decide(%s) error = %v", r.GetSubject().GetId(), err)
		}
		if st := detectorStatus(resp.Msg, "linkage"); st != decisionv1.DetectorStatus_DETECTOR_STATUS_OK {
			t.Fatalf("Decide(%s): linkage detector status %v, want ok", r.GetSubject().GetId(), st)
		}
		return resp.Msg
	}
	first := verify(signup("first.owner@example.org"))
	if slices.Contains(codes(first), "DOCUMENT_REUSED") {
		t.Fatalf("Decide(first use of a document) = %v, want no DOCUMENT_REUSED", codes(first))
	}
	a := signup("a.linked@example.org")
	ra := verify(a)
	if ra.GetAction() != decisionv1.Action_ACTION_SUSPEND || !slices.Contains(codes(ra), "DOCUMENT_REUSED") {
		t.Fatalf("Decide(A reusing the document) = %v %v, want suspend for DOCUMENT_REUSED", ra.GetAction(), codes(ra))
	}

	payout, _ := structpb.NewStruct(map[string]any{
		"payout": map[string]any{"method": "bank_transfer", "account_hash": "b-own-account", "country": "FR"},
	})
	bID := fmt.Sprintf("acct-b-%d", time.Now().UnixNano())
	var rb *decisionv1.DecideResponse
	try := 0
	eventually(t, 20*time.Second, "B's payout change from A's device is linked to suspended A", func() (bool, string) {
		try++
		b := signup("b.linked@example.org")
		b.RequestId = fmt.Sprintf("%s-try-%d", bID, try)
		b.Checkpoint = "payout_method_change"
		b.Subject.Id = bID
		b.Context.DeviceId = a.GetContext().GetDeviceId()
		b.Attributes = payout
		resp, err := client.Decide(ctxT(t), connect.NewRequest(b))
		if err != nil {
			return false, err.Error()
		}
		rb = resp.Msg
		return slices.Contains(codes(rb), "LINKED_TO_SUSPENDED_ACCOUNT"), fmt.Sprintf("%v %v", rb.GetAction(), codes(rb))
	})
	if rb.GetAction() != decisionv1.Action_ACTION_SUSPEND {
		t.Errorf("Decide(B payout change linked to suspended A) = %v, want suspend where money moves", rb.GetAction())
	}

	rev, err := client.GetDecision(ctxT(t), connect.NewRequest(&decisionv1.GetDecisionRequest{
		DecisionId: rb.GetDecisionId(), View: decisionv1.View_VIEW_REVIEWER}))
	if err != nil {
		t.Fatalf("GetDecision(B, reviewer) error = %v", err)
	}
	var link *decisionv1.Signal
	for _, s := range rev.Msg.GetSignals() {
		if s.GetName() == "linkage.suspended_link" {
			link = s
		}
	}
	if link == nil {
		t.Fatalf("GetDecision(B, reviewer) signals = %v, want linkage.suspended_link", rev.Msg.GetSignals())
	}
	ev := link.GetEvidence().AsMap()
	linked, _ := ev["linked_accounts"].([]any)
	if link.GetScore() != 1 || ev["via"] != "device" || !slices.Contains(linked, any(a.GetSubject().GetId())) {
		t.Errorf("linkage.suspended_link = score %v evidence %v, want score 1 via device naming A (%s)",
			link.GetScore(), ev, a.GetSubject().GetId())
	}

	// A reviewer overturns A's suspension: the linkage detector hears of it,
	// and C, a new account on the same device, is no longer linked to A (B,
	// suspended in its own right, still counts).
	appeals := appealv1connect.NewAppealServiceClient(h2cClient(), g.addr)
	filed, err := appeals.FileAppeal(ctxT(t), connect.NewRequest(&appealv1.FileAppealRequest{
		DecisionId: ra.GetDecisionId(), Statement: "That document is mine; the other account was opened by someone who stole it."}))
	if err != nil {
		t.Fatalf("FileAppeal(A's suspension) error = %v", err)
	}
	if _, err := appeals.ResolveAppeal(ctxT(t), connect.NewRequest(&appealv1.ResolveAppealRequest{
		AppealId: filed.Msg.GetAppeal().GetAppealId(), Outcome: appealv1.Outcome_OUTCOME_OVERTURNED,
		Reviewer: "r.okafor", Note: "Document theft confirmed by the issuing authority."})); err != nil {
		t.Fatalf("ResolveAppeal(overturned) error = %v", err)
	}
	try = 0
	eventually(t, 20*time.Second, "C on A's device linked to suspended B but no longer to A after the overturn", func() (bool, string) {
		try++
		c := signup("c.linked@example.org")
		c.RequestId = fmt.Sprintf("%s-c-try-%d", bID, try)
		c.Subject.Id = bID + "-c" // one account C: its own holds do not add links
		c.Checkpoint = "payout_method_change"
		c.Context.DeviceId = a.GetContext().GetDeviceId()
		c.Attributes = payout
		resp, err := client.Decide(ctxT(t), connect.NewRequest(c))
		if err != nil {
			return false, err.Error()
		}
		rev, err := client.GetDecision(ctxT(t), connect.NewRequest(&decisionv1.GetDecisionRequest{
			DecisionId: resp.Msg.GetDecisionId(), View: decisionv1.View_VIEW_REVIEWER}))
		if err != nil {
			return false, err.Error()
		}
		for _, s := range rev.Msg.GetSignals() {
			if s.GetName() == "linkage.suspended_link" {
				linked, _ := s.GetEvidence().AsMap()["linked_accounts"].([]any)
				return !slices.Contains(linked, any(a.GetSubject().GetId())) && slices.Contains(linked, any(bID)),
					fmt.Sprintf("suspended links %v", linked)
			}
		}
		return false, "no linkage.suspended_link signal (B is suspended too)"
	})
}

// The document detector runs at identity verification: a document in
// another script for the same name passes, an unrelated name is held.
func TestDocumentNameCheckEndToEnd(t *testing.T) {
	t.Parallel()
	g := startGavel(t)
	client := g.decisions()
	verify := func(given, family string) *decisionv1.DecideResponse {
		t.Helper()
		r := signup("ivan.ivanov@example.org")
		r.Checkpoint = "identity_verification"
		r.Subject.Profile.GivenName, r.Subject.Profile.FamilyName, r.Subject.Profile.Country = "Ivan", "Ivanov", "RU"
		r.Attributes, _ = structpb.NewStruct(map[string]any{"document": map[string]any{
			"given_name": given, "family_name": family, "country": "RUS", "expires": "2099-01-01",
			"vendor_verdict": "approved", "number": fmt.Sprintf("45%d", time.Now().UnixNano()),
		}})
		resp, err := client.Decide(ctxT(t), connect.NewRequest(r))
		if err != nil {
			t.Fatalf("Decide(identity_verification, document %s %s) error = %v", given, family, err)
		}
		if st := detectorStatus(resp.Msg, "document"); st != decisionv1.DetectorStatus_DETECTOR_STATUS_OK {
			t.Fatalf("Decide(identity_verification): document detector status %v, want ok", st)
		}
		return resp.Msg
	}
	if r := verify("Иван", "Иванов"); slices.Contains(codes(r), "DOCUMENT_NAME_MISMATCH") {
		t.Errorf("Decide(document Иван Иванов, profile Ivan Ivanov) = %v %v, want no DOCUMENT_NAME_MISMATCH", r.GetAction(), codes(r))
	}
	if r := verify("Maria", "Garcia"); !slices.Contains(codes(r), "DOCUMENT_NAME_MISMATCH") || r.GetAction() < decisionv1.Action_ACTION_RESTRICT {
		t.Errorf("Decide(document Maria Garcia, profile Ivan Ivanov) = %v %v, want DOCUMENT_NAME_MISMATCH, restrict or more", r.GetAction(), codes(r))
	}
}
