package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/gavel/gavel/policies"
	adminv1 "github.com/gavel/gavel/proto/gavel/admin/v1"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

// stricterBundle writes the repo's policies with revision rev, where a
// disposable email at signup earns a suspension instead of a challenge.
func stricterBundle(t testing.TB, rev string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), rev)
	if err := policies.WriteBundle(dir); err != nil {
		t.Fatal(err)
	}
	manifest := fmt.Sprintf(`{"revision": %q, "roots": ["gavel", "system"]}`, rev)
	if err := os.WriteFile(filepath.Join(dir, ".manifest"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	rego := filepath.Join(dir, "gavel", "enforcement", "identity.rego")
	b, err := os.ReadFile(rego)
	if err != nil {
		t.Fatal(err)
	}
	old := "email_disposable_action := {\n\t\"signup\": \"challenge\","
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s no longer has %q", rego, old)
	}
	b = bytes.Replace(b, []byte(old), []byte("email_disposable_action := {\n\t\"signup\": \"suspend\","), 1)
	if err := os.WriteFile(rego, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestShadowBundle runs a stricter bundle in shadow on live traffic: the
// replies keep the active bundle's action, the ledger keeps the shadow's
// verdicts, status reports agreement and transitions, and the reviewer view
// shows the shadow verdict. Then `gavel replay` replays the same history
// under the same candidate.
func TestShadowBundle(t *testing.T) {
	candidate := stricterBundle(t, "stricter-1")
	g := startGavel(t, "GAVEL_POLICY__SHADOW__SOURCE="+candidate)
	client := g.decisions()

	const disposable, honest = 6, 4
	var ids []string
	for i := range disposable + honest {
		email := fmt.Sprintf("amelia.laurent.%d@gmail.com", i)
		if i < disposable {
			email = fmt.Sprintf("jr%d@mailinator.com", i)
		}
		resp, err := client.Decide(ctxT(t), connect.NewRequest(signup(email)))
		if err != nil {
			t.Fatalf("Decide(%s) = %v", email, err)
		}
		want := decisionv1.Action_ACTION_CHALLENGE
		if i >= disposable {
			want = decisionv1.Action_ACTION_ALLOW
		}
		if got := resp.Msg.GetAction(); got != want {
			t.Fatalf("Decide(%s) = %v %v, want %v (the shadow's action must never reach the reply)", email, got, codes(resp.Msg), want)
		}
		if rev := resp.Msg.GetBundleRevision(); rev == "stricter-1" {
			t.Fatalf("Decide(%s) was decided by the shadow bundle", email)
		}
		ids = append(ids, resp.Msg.GetDecisionId())
	}

	var st *adminv1.GetStatusResponse
	eventually(t, 30*time.Second, "shadow agreement in status", func() (bool, string) {
		resp, err := g.admin().GetStatus(ctxT(t), connect.NewRequest(&adminv1.GetStatusRequest{}))
		if err != nil {
			return false, err.Error()
		}
		st = resp.Msg
		sh := st.GetShadow()
		return sh.GetEvaluated() == disposable+honest, fmt.Sprint(sh)
	})
	sh := st.GetShadow()
	if sh.GetRevision() != "stricter-1" || sh.GetAgreed() != honest || sh.GetErrors() != 0 || sh.GetDropped() != 0 {
		t.Errorf("shadow report = %v; want revision stricter-1, %d agreed, no errors or drops", sh, honest)
	}
	if tr := sh.GetTransitions(); len(tr) != 1 || tr[0].GetFrom() != "challenge" || tr[0].GetTo() != "suspend" || tr[0].GetCount() != disposable {
		t.Errorf("shadow transitions = %v, want challenge → suspend: %d", tr, disposable)
	}
	var shadowBundle bool
	for _, b := range st.GetBundles() {
		if b.GetRole() == "shadow" {
			shadowBundle = b.GetReady() && b.GetRevision() == "stricter-1"
		}
	}
	if !shadowBundle {
		t.Errorf("status bundles = %v, want the shadow bundle ready at stricter-1", st.GetBundles())
	}

	got, err := client.GetDecision(ctxT(t), connect.NewRequest(&decisionv1.GetDecisionRequest{DecisionId: ids[0], View: decisionv1.View_VIEW_REVIEWER}))
	if err != nil {
		t.Fatalf("GetDecision(reviewer) = %v", err)
	}
	if s := got.Msg.GetShadow(); s.GetAction() != decisionv1.Action_ACTION_SUSPEND || s.GetBundleRevision() != "stricter-1" {
		t.Errorf("GetDecision(reviewer).shadow = %v, want suspend by stricter-1", s)
	}
	if a := got.Msg.GetDecision().GetAction(); a != decisionv1.Action_ACTION_CHALLENGE {
		t.Errorf("GetDecision(reviewer).decision.action = %v, want challenge", a)
	}

	out, err := exec.Command(filepath.Join(binDir, "gavel"), "status", "--addr", g.addr).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "challenge → suspend: 6") {
		t.Errorf("gavel status = %v\n%s\nwant the transition challenge → suspend: 6", err, out)
	}

	// Replay the same history under the same candidate, offline.
	html := filepath.Join(t.TempDir(), "replay.html")
	cmd := exec.Command(filepath.Join(binDir, "gavel"), "replay", "--bundle", candidate, "--data-dir", g.dataDir, "--json", "--html", html)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("gavel replay = %v\n%s", err, stderr.String())
	}
	var rep struct {
		Selected, Replayed int64
		Matrix             []struct {
			From, To string
			Count    int64
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("gavel replay --json: %v\n%s", err, stdout.String())
	}
	cells := map[string]int64{}
	for _, c := range rep.Matrix {
		cells[c.From+"→"+c.To] = c.Count
	}
	want := map[string]int64{"challenge→suspend": disposable, "allow→allow": honest}
	if rep.Replayed != disposable+honest || fmt.Sprint(cells) != fmt.Sprint(want) {
		t.Errorf("gavel replay: %d replayed, matrix %v; want %d, %v", rep.Replayed, cells, disposable+honest, want)
	}
	// The report carries the counts and the timing (elapsed_ns); stderr,
	// not a terminal here, has no progress bar to draw and repeats nothing.
	if stderr.Len() != 0 {
		t.Errorf("gavel replay --json stderr = %q, want nothing", stderr.String())
	}
	page, err := os.ReadFile(html)
	if err != nil || !strings.Contains(string(page), "challenge → suspend: 6") {
		t.Errorf("gavel replay --html wrote %d bytes, %v; want the matrix", len(page), err)
	}
}
