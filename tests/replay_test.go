package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplayReportsTheRealChange replays a candidate over decisions gavel
// made, both reading the ledger here and inside the running gavel
// (--remote): at login the candidate lists the same two reasons in
// another order, and the report must say which reason's action changed;
// the decision it makes less severe is listed too, and the HTML report is
// titled by revisions.
func TestReplayReportsTheRealChange(t *testing.T) {
	g := startGavel(t, detectorsOff(t)...)
	addr := strings.TrimPrefix(g.addr, "http://")
	decide := func(args ...string) {
		t.Helper()
		if r := gavelCLI(t, append([]string{"decide", "--addr", addr}, args...)...); r.code != 0 {
			t.Fatalf("gavel decide %v: %v", args, r)
		}
	}
	// MODEL_RISK challenge and EMAIL_DISPOSABLE warn: challenge.
	decide("--checkpoint", "login", "--subject", "acct-r1", "--signal", "email.disposable=1", "--signal", "model.fraud_score=0.75")
	// EMAIL_DISPOSABLE holds where money moves: restrict.
	decide("--checkpoint", "payout_method_change", "--subject", "acct-r2", "--signal", "email.disposable=1")

	src := copyPolicies(t)
	identity := filepath.Join(src, "gavel", "enforcement", "identity.rego")
	b, err := os.ReadFile(identity)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), `"login": "warn",`, `"login": "restrict",`, 1)
	text = strings.Replace(text, `"payout_method_change": "restrict",`+"\n\t\"withdrawal\"", `"payout_method_change": "challenge",`+"\n\t\"withdrawal\"", 1)
	writeText(t, identity, text)
	candidate := filepath.Join(t.TempDir(), "candidate.tar.gz")
	if r := gavelCLI(t, "bundle", "build", src, "-r", "candidate-7", "-o", candidate); r.code != 0 {
		t.Fatalf("gavel bundle build: %v", r)
	}

	for _, mode := range []struct {
		name string
		args []string
	}{
		{"local", []string{"--data-dir", g.dataDir}},
		{"remote", []string{"--remote", "--addr", addr}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			page := filepath.Join(t.TempDir(), "report.html")
			r := gavelCLI(t, append([]string{"replay", "--bundle", candidate, "--html", page}, mode.args...)...)
			if r.code != 0 {
				t.Fatalf("gavel replay: %v", r)
			}
			for _, want := range []string{
				"2 replayed decisions would change action (100.0 %): 1 more severe, 1 less severe",
				"EMAIL_DISPOSABLE warn → restrict",
				"EMAIL_DISPOSABLE restrict → challenge",
				"* marks the cells off the diagonal",
			} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("gavel replay lacks %q:\n%s", want, r.stdout)
				}
			}
			if strings.Contains(r.stdout, "MODEL_RISK,EMAIL_DISPOSABLE") || strings.Contains(r.stdout, "MODEL_RISK challenge") {
				t.Errorf("gavel replay shows MODEL_RISK, whose action did not change, as a change:\n%s", r.stdout)
			}
			html, err := os.ReadFile(page)
			if err != nil {
				t.Fatalf("--html: %v", err)
			}
			for _, want := range []string{"<title>gavel · Replay of revision candidate-7 against ", "Less severe under the candidate", "EMAIL_DISPOSABLE restrict → challenge"} {
				if !strings.Contains(string(html), want) {
					t.Errorf("HTML report lacks %q", want)
				}
			}
		})
	}
}
