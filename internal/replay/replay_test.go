package replay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gavel/gavel/bundles"
	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/internal/replay"
	"github.com/gavel/gavel/ledger"
	"github.com/gavel/gavel/ledger/ledgertest"
	"github.com/gavel/gavel/policies"
)

var checkpoints = []string{"signup", "login", "payout_method_change", "withdrawal"}

// writeBundle writes the repo's policies to a folder with revision rev,
// applying each old → new text replacement to the Rego file named.
func writeBundle(t testing.TB, rev string, file string, edits ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), rev)
	if err := policies.WriteBundle(dir); err != nil {
		t.Fatal(err)
	}
	manifest := fmt.Sprintf(`{"revision": %q, "roots": ["gavel", "system"]}`, rev)
	if err := os.WriteFile(filepath.Join(dir, ".manifest"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	if file == "" {
		return dir
	}
	path := filepath.Join(dir, filepath.FromSlash(file))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for i := 0; i+1 < len(edits); i += 2 {
		if strings.Count(text, edits[i]) != 1 {
			t.Fatalf("%s: %q is not found exactly once", file, edits[i])
		}
		text = strings.Replace(text, edits[i], edits[i+1], 1)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// candidateBundle changes one rule, EMAIL_DISPOSABLE: suspend instead of
// challenge at signup, challenge instead of a hold at a payout method change.
func candidateBundle(t testing.TB) string {
	return writeBundle(t, "candidate-1", "gavel/enforcement/identity.rego",
		`"signup": "challenge",`+"\n\t\"login\": \"warn\",", `"signup": "suspend",`+"\n\t\"login\": \"warn\",",
		`"payout_method_change": "restrict",`+"\n\t\"withdrawal\": \"restrict\",", `"payout_method_change": "challenge",`+"\n\t\"withdrawal\": \"restrict\",")
}

func engine(t testing.TB, source string) *bundles.Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e, err := bundles.New(ctx, bundles.Config{Name: "b", Source: source}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop(context.Background()) })
	if err := e.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return e
}

func openLedger(t testing.TB) *ledger.Ledger {
	t.Helper()
	cfg := ledger.DefaultConfig()
	cfg.Path = filepath.Join(t.TempDir(), "ledger.db")
	l, err := ledger.Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// kind is a class of generated decisions: n subjects, each deciding once at
// checkpoint with the signals given inline.
type kind struct {
	name       string
	checkpoint string
	disposable bool
	n          int
	// stored is the active policy's action, candidate the candidate's.
	stored, candidate decision.Action
	// The first overturn decisions of the kind are overturned (Overturn),
	// the next uphold ones upheld on appeal.
	overturn, uphold int
}

var kinds = []kind{
	{"honest signup", "signup", false, 7, decision.Allow, decision.Allow, 0, 0},
	// The candidate says suspend, but evidence only the caller supplied is
	// capped at restrict by the policy (decision.rego, caller_cap).
	{"disposable signup", "signup", true, 5, decision.Challenge, decision.Restrict, 1, 0},
	{"disposable login", "login", true, 4, decision.Warn, decision.Warn, 0, 0},
	{"disposable payout change", "payout_method_change", true, 3, decision.Restrict, decision.Challenge, 2, 1},
	{"disposable withdrawal", "withdrawal", true, 2, decision.Restrict, decision.Restrict, 1, 1},
}

type history struct {
	l        *ledger.Ledger
	start    time.Time
	byKind   map[string][]*decision.Record
	noInput  int
	noProf   int
	selected int
}

// generate decides every kind's requests with the active policy (the repo's
// policies) into a real SQLite ledger, overturns some, and adds records
// without input and without profile.
func generate(t testing.TB, scale int) *history {
	t.Helper()
	l := openLedger(t)
	active := engine(t, writeBundle(t, "active-1", ""))
	clock := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	h := &history{l: l, start: clock, byKind: map[string][]*decision.Record{}}
	eng, err := decision.New(decision.Config{
		Checkpoints: checkpoints, FailureAction: decision.Challenge, PolicyTimeout: 5 * time.Second,
		Now: func() time.Time { clock = clock.Add(time.Second); return clock },
	}, nil, active, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	seq := 0
	for _, k := range kinds {
		for i := range k.n * scale {
			seq++
			req := &decision.Request{
				RequestID: fmt.Sprintf("req-%d", seq), Checkpoint: k.checkpoint,
				Subject: decision.Subject{ID: fmt.Sprintf("acct-%d", seq), Kind: "freelancer",
					Profile: decision.Profile{GivenName: "Amelia", FamilyName: "Laurent", Country: "FR", Email: fmt.Sprintf("amelia.%d@example.org", seq)}},
				Context: decision.Context{IP: "192.0.2.10", DeviceID: fmt.Sprintf("dev-%d", seq)},
			}
			if k.disposable {
				req.Signals = []decision.Signal{{Name: "email.disposable", Score: 1, Value: "mailinator.com", Confidence: 1, Source: "email"}}
			}
			rec, err := eng.Decide(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Verdict.Action != k.stored || rec.Fallback {
				t.Fatalf("%s: active policy decided %v (fallback %v), want %v", k.name, rec.Verdict.Action, rec.Fallback, k.stored)
			}
			if i < k.overturn {
				if err := l.Overturn(ctx, rec.DecisionID, "appeal granted", clock); err != nil {
					t.Fatal(err)
				}
			} else if i < k.overturn+k.uphold {
				uphold(t, l, rec, clock)
			}
			h.byKind[k.name] = append(h.byKind[k.name], rec)
			h.selected++
		}
	}
	// Records the replay cannot evaluate faithfully.
	noInput := ledgertest.Record("acct-no-input", "signup", clock.Add(time.Second), decision.Warn, "EMAIL_DISPOSABLE")
	noInput.Input = nil
	noProfile := ledgertest.Record("acct-no-profile", "signup", clock.Add(2*time.Second), decision.Warn, "EMAIL_DISPOSABLE")
	delete(noProfile.Input["subject"].(map[string]any), "profile")
	for _, r := range []*decision.Record{noInput, noProfile} {
		if _, _, err := l.Commit(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
	}
	h.noInput, h.noProf = 1, 1
	h.selected += 2
	return h
}

// uphold files an appeal of rec and upholds it.
func uphold(t testing.TB, l *ledger.Ledger, rec *decision.Record, at time.Time) {
	t.Helper()
	a, err := l.FileAppeal(context.Background(), ledger.AppealFiling{
		DecisionID: rec.DecisionID, Statement: "this is my real address", FiledBy: rec.SubjectID, At: at, Window: 365 * 24 * time.Hour,
	})
	if err != nil {
		t.Fatalf("FileAppeal(%s) = %v", rec.DecisionID, err)
	}
	if _, err := l.ResolveAppeal(context.Background(), ledger.AppealResolution{
		AppealID: a.AppealID, Outcome: ledger.AppealUpheld, Reviewer: "r-1", ResolvedBy: "appeals-desk", At: at,
	}); err != nil {
		t.Fatalf("ResolveAppeal(%s) = %v", a.AppealID, err)
	}
}

func TestReplayMatrix(t *testing.T) {
	h := generate(t, 1)
	cand := engine(t, candidateBundle(t))
	rep, err := replay.Run(t.Context(), h.l, cand, replay.Options{PageSize: 4, Workers: 3, MaxEscalations: 3})
	if err != nil {
		t.Fatalf("Run() = %v", err)
	}

	want := map[[2]decision.Action]int64{}
	var changed, esc int64
	var ap replay.AppealImpact
	for _, k := range kinds {
		want[[2]decision.Action{k.stored, k.candidate}] += int64(k.n)
		if k.stored != k.candidate {
			changed += int64(k.n)
		}
		if k.candidate > k.stored {
			esc += int64(k.n)
		}
		ap.Overturned += int64(k.overturn)
		ap.Upheld += int64(k.uphold)
		if k.candidate < k.stored {
			ap.OverturnedAvoided += int64(k.overturn)
			ap.UpheldLetThrough += int64(k.uphold)
		}
	}
	for _, from := range replay.Actions {
		for _, to := range replay.Actions {
			if got := rep.Count(from, to); got != want[[2]decision.Action{from, to}] {
				t.Errorf("matrix[%v → %v] = %d, want %d", from, to, got, want[[2]decision.Action{from, to}])
			}
		}
	}
	if rep.Selected != int64(h.selected) || rep.Replayed != int64(h.selected-2) ||
		rep.Skipped != (replay.Skips{NoInput: 1, NoProfile: 1}) || rep.Errors != 0 || rep.Changed != changed {
		t.Errorf("Run() counted selected %d, replayed %d, skipped %+v, errors %d (%s), changed %d; want %d, %d, {1 1}, 0, %d",
			rep.Selected, rep.Replayed, rep.Skipped, rep.Errors, rep.FirstError, rep.Changed, h.selected, h.selected-2, changed)
	}
	if rep.Appeals != ap {
		t.Errorf("Appeals = %+v, want %+v", rep.Appeals, ap)
	}
	if rep.EscalationsTotal != esc || len(rep.Escalations) != 3 {
		t.Errorf("escalations: %d total, %d listed; want %d, 3", rep.EscalationsTotal, len(rep.Escalations), esc)
	}
	// The earliest escalations are listed: the first disposable signups.
	signups := h.byKind["disposable signup"]
	for i, e := range rep.Escalations {
		if e.DecisionID != signups[i].DecisionID || e.From != decision.Challenge || e.To != decision.Restrict {
			t.Errorf("Escalations[%d] = %s %v → %v, want %s challenge → restrict", i, e.DecisionID, e.From, e.To, signups[i].DecisionID)
		}
	}
	if got := rep.Escalations[0].Outcome; got != ledger.OutcomeOverturned {
		t.Errorf("Escalations[0].Outcome = %q, want overturned", got)
	}
	// The rule changed its action, not where it fires: its hits are unchanged.
	for _, d := range rep.Reasons {
		if d.Delta != 0 {
			t.Errorf("reason %s: %d → %d, want no change", d.Code, d.Before, d.After)
		}
	}
	if !slicesEqual(rep.CandidateRevisions, []string{"candidate-1"}) {
		t.Errorf("CandidateRevisions = %v, want [candidate-1]", rep.CandidateRevisions)
	}
}

// TestReplayReasonDelta replays under a candidate that stops one rule
// firing: its hits go to zero and the decisions it alone decided move.
func TestReplayReasonDelta(t *testing.T) {
	h := generate(t, 1)
	cand := engine(t, writeBundle(t, "no-disposable", "gavel/enforcement/identity.rego",
		"} if {\n\tfired(\"email.disposable\")\n}", "} if {\n\tfired(\"email.disposable\")\n\tfalse\n}"))
	rep, err := replay.Run(t.Context(), h.l, cand, replay.Options{Filter: ledger.Filter{Checkpoint: "signup"}})
	if err != nil {
		t.Fatalf("Run() = %v", err)
	}
	var disposable *replay.ReasonDelta
	for i := range rep.Reasons {
		if rep.Reasons[i].Code == "EMAIL_DISPOSABLE" {
			disposable = &rep.Reasons[i]
		}
	}
	want := replay.ReasonDelta{Code: "EMAIL_DISPOSABLE", Before: 5, After: 0, Delta: -5}
	if disposable == nil || *disposable != want {
		t.Errorf("EMAIL_DISPOSABLE delta = %+v, want %+v", disposable, want)
	}
	if got := rep.Count(decision.Challenge, decision.Allow); got != 5 {
		t.Errorf("matrix[challenge → allow] = %d, want 5", got)
	}
	if rep.Appeals.Overturned != 1 || rep.Appeals.OverturnedAvoided != 1 || rep.Appeals.OverturnedToAllow != 1 {
		t.Errorf("Appeals = %+v, want 1 overturned, avoided and allowed", rep.Appeals)
	}
}

func TestReplayWindow(t *testing.T) {
	h := generate(t, 1)
	cand := engine(t, candidateBundle(t))
	first := h.byKind["disposable signup"][0].DecidedAt
	last := h.byKind["disposable login"][3].DecidedAt
	rep, err := replay.Run(t.Context(), h.l, cand, replay.Options{Filter: ledger.Filter{Since: first, Until: last}})
	if err != nil {
		t.Fatalf("Run() = %v", err)
	}
	// Five disposable signups and the first three logins, [first, last).
	if rep.Selected != 8 || rep.Count(decision.Challenge, decision.Restrict) != 5 || rep.Count(decision.Warn, decision.Warn) != 3 {
		t.Errorf("Run(window) = %d selected, matrix %+v; want 8, 5 challenge → restrict, 3 warn → warn", rep.Selected, rep.Matrix)
	}
}

func TestReportOutputs(t *testing.T) {
	h := generate(t, 1)
	rep, err := replay.Run(t.Context(), h.l, engine(t, candidateBundle(t)), replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep.Candidate = "candidate-1/"

	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatalf("WriteJSON wrote invalid JSON: %v\n%s", err, js.String())
	}
	var keys []string
	for k := range doc {
		keys = append(keys, k)
	}
	wantKeys := []string{"active_revisions", "appeals", "candidate", "candidate_revisions", "changed", "elapsed_ns", "errors", "escalations",
		"escalations_total", "less_severe", "less_severe_total", "matrix", "reason_actions", "reason_actions_changed", "reasons", "replayed",
		"selected", "skipped"}
	if diff := cmp.Diff(wantKeys, sorted(keys)); diff != "" {
		t.Errorf("JSON keys mismatch (-want +got):\n%s", diff)
	}
	var shaped struct {
		Matrix []struct {
			From, To string
			Count    int64
		}
		Skipped struct {
			NoInput   int64 `json:"no_input"`
			NoProfile int64 `json:"no_profile"`
		}
		Appeals map[string]int64
	}
	if err := json.Unmarshal(js.Bytes(), &shaped); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range shaped.Matrix {
		if c.From == "challenge" && c.To == "restrict" && c.Count == 5 {
			found = true
		}
	}
	if !found || shaped.Skipped.NoInput != 1 || shaped.Skipped.NoProfile != 1 || shaped.Appeals["overturned"] != 4 {
		t.Errorf("JSON = %+v; want a challenge → restrict cell of 5, 1 + 1 skipped, 4 overturned", shaped)
	}

	var txt bytes.Buffer
	if err := rep.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"stored \\ candidate", "*5", "EMAIL_DISPOSABLE", "overturned decisions: 4; the candidate would have avoided 2"} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("WriteText lacks %q:\n%s", want, txt.String())
		}
	}

	var page bytes.Buffer
	if err := rep.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	html := page.String()
	for _, want := range []string{`<svg id="matrix"`, `<table id="matrix-table">`, "challenge → restrict: 5", "EMAIL_DISPOSABLE"} {
		if !strings.Contains(html, want) {
			t.Errorf("WriteHTML lacks %q", want)
		}
	}
	// The matrix table's challenge row: all five became restrict.
	if !strings.Contains(html, "<tr><th>challenge</th><td class=\"n\">0</td><td class=\"n\">0</td><td class=\"n\">0</td><td class=\"n\">5</td><td class=\"n\">0</td></tr>") {
		t.Errorf("WriteHTML matrix lacks the challenge row 0 0 0 5 0")
	}
	for _, banned := range []string{"<script", "http://", "https://", "<link"} {
		if strings.Contains(strings.ReplaceAll(html, `xmlns="http://www.w3.org/2000/svg"`, ""), banned) {
			t.Errorf("WriteHTML contains %q: the report must be self-contained", banned)
		}
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func slicesEqual(a, b []string) bool { return cmp.Equal(a, b) }

// BenchmarkReplay measures re-evaluation throughput on a SQLite ledger of
// generated decisions under the candidate bundle.
func BenchmarkReplay(b *testing.B) {
	h := generate(b, 40) // 21 × 40 decisions
	cand := engine(b, candidateBundle(b))
	b.ResetTimer()
	var n int64
	start := time.Now()
	for range b.N {
		rep, err := replay.Run(context.Background(), h.l, cand, replay.Options{})
		if err != nil {
			b.Fatal(err)
		}
		n += rep.Replayed
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "decisions/s")
}
