package replay_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/internal/replay"
	"github.com/gavel/gavel/ledger"
)

// reorderHistory decides, under the repo's policies, four requests whose
// reasons the candidate of TestReplayShowsTheRealChange treats differently.
func reorderHistory(t *testing.T) (*ledger.Ledger, map[string]*decision.Record) {
	t.Helper()
	l := openLedger(t)
	active := engine(t, writeBundle(t, "active-1", ""))
	clock := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	eng, err := decision.New(decision.Config{
		Checkpoints: checkpoints, FailureAction: decision.Challenge, PolicyTimeout: 5 * time.Second,
		Now: func() time.Time { clock = clock.Add(time.Second); return clock },
	}, nil, active, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	disposable := decision.Signal{Name: "email.disposable", Score: 1, Value: "mailinator.com", Confidence: 1, Source: "email"}
	risky := decision.Signal{Name: "model.fraud_score", Score: 0.75, Confidence: 1, Source: "model"}
	recs := map[string]*decision.Record{}
	for i, c := range []struct {
		name, checkpoint string
		signals          []decision.Signal
		want             decision.Action
	}{
		// MODEL_RISK challenge, EMAIL_DISPOSABLE warn: challenge.
		{"login", "login", []decision.Signal{disposable, risky}, decision.Challenge},
		// EMAIL_DISPOSABLE holds where money moves.
		{"payout", "payout_method_change", []decision.Signal{disposable}, decision.Restrict},
		// Both challenge at signup; the candidate changes neither.
		{"signup", "signup", []decision.Signal{disposable, risky}, decision.Challenge},
	} {
		rec, err := eng.Decide(context.Background(), &decision.Request{
			RequestID: fmt.Sprintf("req-%d", i), Checkpoint: c.checkpoint,
			Subject: decision.Subject{ID: "acct-" + c.name, Kind: "freelancer",
				Profile: decision.Profile{GivenName: "Amelia", FamilyName: "Laurent", Country: "FR", Email: "amelia@example.org"}},
			Context: decision.Context{IP: "192.0.2.10", DeviceID: "dev-" + c.name},
			Signals: c.signals,
		})
		if err != nil {
			t.Fatal(err)
		}
		if rec.Verdict.Action != c.want || rec.Fallback {
			t.Fatalf("%s: active policy decided %v (fallback %v), want %v", c.name, rec.Verdict.Action, rec.Fallback, c.want)
		}
		recs[c.name] = rec
	}
	return l, recs
}

// TestReplayShowsTheRealChange: a candidate that raises EMAIL_DISPOSABLE
// at login (warn → restrict) and lowers it at a payout method change
// (restrict → challenge). At login the verdict lists the same two reasons
// in another order (by severity); the report must name the reason whose
// action changed, not the reordering, count per-reason action changes, and
// list the decision that becomes less severe as well as the one that
// becomes more severe.
func TestReplayShowsTheRealChange(t *testing.T) {
	src, recs := reorderHistory(t)
	cand := engine(t, writeBundle(t, "candidate-r", "gavel/enforcement/identity.rego",
		`"login": "warn",`, `"login": "restrict",`,
		`"payout_method_change": "restrict",`+"\n\t\"withdrawal\": \"restrict\",", `"payout_method_change": "challenge",`+"\n\t\"withdrawal\": \"restrict\","))
	rep, err := replay.Run(t.Context(), src, cand, replay.Options{})
	if err != nil {
		t.Fatalf("Run() = %v", err)
	}
	rep.Candidate = "/tmp/somewhere/candidate-r.tar.gz"

	if len(rep.Escalations) != 1 || rep.Escalations[0].DecisionID != recs["login"].DecisionID {
		t.Fatalf("Escalations = %+v, want the login decision alone", rep.Escalations)
	}
	esc := rep.Escalations[0]
	// The same codes, reordered: the lists differ, the reasons did not
	// change but for one action.
	if !slices.Equal(sortedCodes(esc.Before), sortedCodes(esc.After)) || slices.Equal(esc.Before, esc.After) {
		t.Fatalf("login reasons %v → %v: want the same codes in another order (the case under test)", esc.Before, esc.After)
	}
	wantEsc := []replay.ReasonChange{{Code: "EMAIL_DISPOSABLE", From: decision.Warn, To: decision.Restrict}}
	if diff := cmp.Diff(wantEsc, esc.Reasons); diff != "" {
		t.Errorf("login reason changes (-want +got):\n%s", diff)
	}
	if rep.LessSevereTotal != 1 || len(rep.LessSevere) != 1 || rep.LessSevere[0].DecisionID != recs["payout"].DecisionID {
		t.Fatalf("LessSevere = %d %+v, want the payout decision", rep.LessSevereTotal, rep.LessSevere)
	}
	wantLess := []replay.ReasonChange{{Code: "EMAIL_DISPOSABLE", From: decision.Restrict, To: decision.Challenge}}
	if diff := cmp.Diff(wantLess, rep.LessSevere[0].Reasons); diff != "" {
		t.Errorf("payout reason changes (-want +got):\n%s", diff)
	}
	wantActions := []replay.ReasonActionCount{
		{Code: "EMAIL_DISPOSABLE", From: decision.Warn, To: decision.Restrict, Count: 1},
		{Code: "EMAIL_DISPOSABLE", From: decision.Restrict, To: decision.Challenge, Count: 1},
	}
	if diff := cmp.Diff(wantActions, rep.ReasonActions); diff != "" {
		t.Errorf("ReasonActions (-want +got):\n%s", diff)
	}
	if rep.ReasonActionsChanged != 2 || rep.Changed != 2 {
		t.Errorf("ReasonActionsChanged = %d, Changed = %d; want 2, 2", rep.ReasonActionsChanged, rep.Changed)
	}
	if want := []replay.RevisionCount{{Revision: "active-1", Decisions: 3}}; !cmp.Equal(rep.ActiveRevisions, want) {
		t.Errorf("ActiveRevisions = %+v, want %+v", rep.ActiveRevisions, want)
	}

	var txt bytes.Buffer
	if err := rep.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	text := txt.String()
	for _, want := range []string{
		"EMAIL_DISPOSABLE warn → restrict",      // the login decision's real change
		"EMAIL_DISPOSABLE restrict → challenge", // the payout decision's
		"less severe under the candidate: 1",
		"against the stored decisions of active revision active-1 (3 decisions)",
		"* marks the cells off the diagonal", // what *1 means
	} {
		if !strings.Contains(text, want) {
			t.Errorf("WriteText lacks %q:\n%s", want, text)
		}
	}
	for _, never := range []string{"MODEL_RISK,EMAIL_DISPOSABLE", "EMAIL_DISPOSABLE,MODEL_RISK", "MODEL_RISK challenge"} {
		if strings.Contains(text, never) {
			t.Errorf("WriteText shows %q, a reordering or an unchanged reason, as a change:\n%s", never, text)
		}
	}
	if n := strings.Count(text, "replayed in"); n != 1 {
		t.Errorf("WriteText states the timing %d times, want once", n)
	}

	var page bytes.Buffer
	if err := rep.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	html := page.String()
	title := html[strings.Index(html, "<title>")+len("<title>") : strings.Index(html, "</title>")]
	if strings.Contains(title, "/") || strings.Contains(title, ".tar.gz") || !strings.Contains(title, "candidate-r") || !strings.Contains(title, "active-1") {
		t.Errorf("HTML title = %q, want the candidate's and the active revision, not a file path", title)
	}
	for _, want := range []string{
		"<h2>Less severe under the candidate</h2>",
		rep.LessSevere[0].DecisionID,
		"EMAIL_DISPOSABLE restrict → challenge",
		"EMAIL_DISPOSABLE warn → restrict",
		`<table id="reason-actions">`,
		"<tr><td>EMAIL_DISPOSABLE</td><td>warn</td><td>restrict</td><td class=\"n\">1</td></tr>",
		"<code>active-1</code> (3 decisions)",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("WriteHTML lacks %q", want)
		}
	}
	if strings.Contains(html, "MODEL_RISK,EMAIL_DISPOSABLE") {
		t.Errorf("WriteHTML shows the reordered reason list as a change")
	}

	// The replay service sends the same report.
	back := replay.FromProto(rep.Candidate, rep.ToProto(time.Time{}, time.Time{}, ""))
	if diff := cmp.Diff(rep, back, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("FromProto(ToProto(report)) differs (-sent +received):\n%s", diff)
	}
}

func sortedCodes(codes []string) []string {
	out := slices.Clone(codes)
	slices.Sort(out)
	return out
}
