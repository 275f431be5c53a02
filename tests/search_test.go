package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	appealv1 "github.com/gavel/gavel/proto/gavel/appeal/v1"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

// TestSearchDecisions finds decisions across subjects through the RPC and
// `gavel search`, pages through them, refuses bad filters with
// invalid_argument, and lists appeals of every status.
func TestSearchDecisions(t *testing.T) {
	g := startGavel(t, detectorsOff(t)...)
	ctx := ctxT(t)
	dc := g.decisions()
	var restricted []string
	for i := range 5 {
		req := signup("ana.search@example.org")
		req.Checkpoint = "withdrawal"
		req.Signals = []*decisionv1.Signal{{Name: "model.fraud_score", Score: 0.97, Confidence: 1}}
		if i%2 == 1 {
			req.Signals = nil // an honest withdrawal: allowed
		}
		resp, err := dc.Decide(ctx, connect.NewRequest(req))
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(codes(resp.Msg), "MODEL_RISK") {
			restricted = append([]string{resp.Msg.GetDecisionId()}, restricted...)
		}
	}
	if len(restricted) != 3 {
		t.Fatalf("%d decisions fired MODEL_RISK, want 3", len(restricted))
	}
	var got []string
	token := ""
	for {
		resp, err := dc.SearchDecisions(ctx, connect.NewRequest(&decisionv1.SearchDecisionsRequest{
			Checkpoint: "withdrawal", ReasonCode: "MODEL_RISK", PageSize: 2, PageToken: token,
		}))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range resp.Msg.GetDecisions() {
			got = append(got, d.GetDecisionId())
		}
		if token = resp.Msg.GetNextPageToken(); token == "" {
			break
		}
	}
	if !slices.Equal(got, restricted) {
		t.Errorf("SearchDecisions(withdrawal, MODEL_RISK) = %v, want %v, newest first", got, restricted)
	}
	for _, bad := range []*decisionv1.SearchDecisionsRequest{
		{AppealStatus: "maybe"},
		{PageSize: 5000},
		{Action: decisionv1.Action(42)},
	} {
		if _, err := dc.SearchDecisions(ctx, connect.NewRequest(bad)); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("SearchDecisions(%v) = %v, want invalid_argument", bad, err)
		}
	}

	gavel := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(binDir, "gavel"), args...)
		cmd.Env = append(os.Environ(), "GAVEL_ADDR="+g.addr)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("gavel %s = %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	out := gavel("search", "--since", "1h", "--checkpoint", "withdrawal", "--action", "restrict", "--reason", "MODEL_RISK", "--json")
	var page struct {
		Decisions []struct {
			DecisionID string `json:"decisionId"`
		} `json:"decisions"`
	}
	if err := json.Unmarshal([]byte(out), &page); err != nil || len(page.Decisions) != 3 {
		t.Errorf("gavel search --json = %v\n%s\nwant 3 decisions", err, out)
	}
	if out := gavel("search", "--action", "allow"); strings.Count(out, "allow") < 2 || !strings.Contains(out, "DECIDED AT") {
		t.Errorf("gavel search --action allow:\n%s", out)
	}

	// Appeals of every status, through the RPC and the CLI.
	ac := g.appeals()
	a1, err := ac.FileAppeal(ctx, connect.NewRequest(&appealv1.FileAppealRequest{DecisionId: restricted[0], Statement: "not me"}))
	if err != nil {
		t.Fatal(err)
	}
	a2, err := ac.FileAppeal(ctx, connect.NewRequest(&appealv1.FileAppealRequest{DecisionId: restricted[1], Statement: "not me either"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ac.ResolveAppeal(ctx, connect.NewRequest(&appealv1.ResolveAppealRequest{
		AppealId: a2.Msg.GetAppeal().GetAppealId(), Outcome: appealv1.Outcome_OUTCOME_UPHELD, Reviewer: "Rita",
	})); err != nil {
		t.Fatal(err)
	}
	out = gavel("appeal", "list", "--status", "all")
	if !strings.Contains(out, a1.Msg.GetAppeal().GetAppealId()) || !strings.Contains(out, a2.Msg.GetAppeal().GetAppealId()) {
		t.Errorf("gavel appeal list --status all lacks an appeal:\n%s", out)
	}
	if out := gavel("appeal", "list"); strings.Contains(out, a2.Msg.GetAppeal().GetAppealId()) {
		t.Errorf("gavel appeal list (open) shows the upheld appeal:\n%s", out)
	}
	resp, err := dc.SearchDecisions(ctx, connect.NewRequest(&decisionv1.SearchDecisionsRequest{AppealStatus: "upheld"}))
	if err != nil || len(resp.Msg.GetDecisions()) != 1 || resp.Msg.GetDecisions()[0].GetDecisionId() != restricted[1] {
		t.Errorf("SearchDecisions(appeal upheld) = %v, %v", resp, err)
	}
}
