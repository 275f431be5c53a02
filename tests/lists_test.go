package tests

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/gavel/gavel/internal/pgtest"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
	listsv1 "github.com/gavel/gavel/proto/gavel/lists/v1"
	"github.com/gavel/gavel/proto/gavel/lists/v1/listsv1connect"
)

// listsWait bounds how long a test waits for a list change to reach a
// replica (lists.sync_interval is 250ms; the machine may be busy).
const listsWait = 10 * time.Second

func (p *gavelProc) lists(opts ...connect.ClientOption) listsv1connect.ListServiceClient {
	return listsv1connect.NewListServiceClient(h2cClient(), p.addr, opts...)
}

// TestListsAcrossReplicas runs two gavel replicas on one ledger (PostgreSQL
// when the test server is configured, else one SQLite file): a list changed
// through one reaches the other's decisions, a block-list hit suspends, an
// allow-list hit exempts the rule it names, and bad input is refused with
// the right code.
func TestListsAcrossReplicas(t *testing.T) {
	const (
		opsToken    = "operations-secret-000000001"
		decideToken = "signup-service-secret-00001"
	)
	env := append(detectorsOff(t),
		"GAVEL_LISTS__HASH_KEY=lists-e2e-shared-hash-key",
		"GAVEL_AUTH__TOKENS__OPS__SECRET="+opsToken,
		"GAVEL_AUTH__TOKENS__OPS__ROLES=admin,read",
		"GAVEL_AUTH__TOKENS__SIGNUP__SECRET="+decideToken,
		"GAVEL_AUTH__TOKENS__SIGNUP__ROLES=decide",
	)
	if os.Getenv(pgtest.Env) != "" {
		env = append(env, "GAVEL_LEDGER__DRIVER=postgres", "GAVEL_LEDGER__DSN="+pgtest.Schema(t, "gavel_e2e_lists"))
	} else {
		env = append(env, "GAVEL_LEDGER__PATH="+filepath.Join(t.TempDir(), "shared.db"))
	}
	a, b := startGavel(t, env...), startGavel(t, env...)
	ops, decider := withToken(opsToken), withToken(decideToken)
	ctx := ctxT(t)

	if _, err := a.lists(decider).CreateList(ctx, connect.NewRequest(&listsv1.CreateListRequest{
		Name: "x", Kind: "ip", Purpose: listsv1.Purpose_PURPOSE_BLOCK,
	})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("CreateList with a decide-only token = %v, want permission_denied", err)
	}
	for _, c := range []*listsv1.CreateListRequest{
		{Name: "fraud-emails", Kind: "email", Purpose: listsv1.Purpose_PURPOSE_BLOCK, Action: "suspend"},
		{Name: "abuse-ranges", Kind: "ip", Purpose: listsv1.Purpose_PURPOSE_BLOCK, Action: "challenge"},
		{Name: "trusted-accounts", Kind: "subject_id", Purpose: listsv1.Purpose_PURPOSE_ALLOW, Exempts: []string{"LIST_BLOCK"}},
	} {
		if _, err := a.lists(ops).CreateList(ctx, connect.NewRequest(c)); err != nil {
			t.Fatalf("CreateList(%s) = %v", c.Name, err)
		}
	}
	_, err := a.lists(ops).AddEntries(ctx, connect.NewRequest(&listsv1.AddEntriesRequest{List: "fraud-emails", Values: []string{"ok@example.org", "192.0.2.1"}}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "values[1]") {
		t.Errorf("AddEntries(an IP in an email list) = %v, want invalid_argument naming values[1]", err)
	}
	_, err = a.lists(ops).AddEntries(ctx, connect.NewRequest(&listsv1.AddEntriesRequest{List: "abuse-ranges", Values: []string{"2001:db8::/16"}}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "wider than /32") {
		t.Errorf("AddEntries(/16 IPv6) = %v, want invalid_argument: wider than /32", err)
	}
	_, err = a.lists(ops).AddEntries(ctx, connect.NewRequest(&listsv1.AddEntriesRequest{List: "nope", Values: []string{"1.2.3.4"}}))
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("AddEntries(unknown list) = %v, want not_found", err)
	}

	req := signup("Mallory.Fraud@Example.org")
	if _, err := a.lists(ops).AddEntries(ctx, connect.NewRequest(&listsv1.AddEntriesRequest{
		List: "fraud-emails", Values: []string{"mallory.fraud@example.org"}, Note: "chargebacks 2026-11",
	})); err != nil {
		t.Fatal(err)
	}
	// The other replica sees the change without a restart or a bundle.
	eventually(t, listsWait, "replica b suspending the listed email", func() (bool, string) {
		r := signup(req.Subject.Profile.Email)
		resp, err := b.decisions(decider).Decide(ctx, connect.NewRequest(r))
		if err != nil {
			return false, err.Error()
		}
		return resp.Msg.GetAction() == decisionv1.Action_ACTION_SUSPEND && slices.Contains(codes(resp.Msg), "LIST_BLOCK"),
			fmt.Sprint(resp.Msg.GetAction(), codes(resp.Msg))
	})

	// An allow list exempts the block for one trusted account.
	trusted := signup(req.Subject.Profile.Email)
	if _, err := b.lists(ops).AddEntries(ctx, connect.NewRequest(&listsv1.AddEntriesRequest{
		List: "trusted-accounts", Values: []string{trusted.Subject.Id}, Note: "verified in person",
	})); err != nil {
		t.Fatal(err)
	}
	base := trusted.RequestId
	trusted.DryRun = true // probes until the change arrives must not suspend the account
	eventually(t, listsWait, "replica a exempting the trusted account", func() (bool, string) {
		trusted.RequestId = fmt.Sprintf("%s-%d", base, reqSeq.Add(1))
		resp, err := a.decisions(decider).Decide(ctx, connect.NewRequest(trusted))
		if err != nil {
			return false, err.Error()
		}
		return resp.Msg.GetAction() == decisionv1.Action_ACTION_ALLOW, fmt.Sprint(resp.Msg.GetAction(), codes(resp.Msg))
	})

	// Removing the entry stops the match everywhere.
	if res, err := a.lists(ops).RemoveEntries(ctx, connect.NewRequest(&listsv1.RemoveEntriesRequest{
		List: "fraud-emails", Values: []string{" MALLORY.FRAUD@example.org"},
	})); err != nil || res.Msg.GetRemoved() != 1 {
		t.Fatalf("RemoveEntries = %v, %v; want 1 removed", res, err)
	}
	eventually(t, listsWait, "replica b no longer matching the removed email", func() (bool, string) {
		resp, err := b.decisions(decider).Decide(ctx, connect.NewRequest(signup(req.Subject.Profile.Email)))
		if err != nil {
			return false, err.Error()
		}
		return !slices.Contains(codes(resp.Msg), "LIST_BLOCK"), fmt.Sprint(codes(resp.Msg))
	})

	// The audit trail names who did what.
	hist, err := b.lists(ops).ListChanges(ctx, connect.NewRequest(&listsv1.ListChangesRequest{List: "fraud-emails"}))
	if err != nil {
		t.Fatal(err)
	}
	var ops2 []string
	for _, c := range hist.Msg.GetChanges() {
		ops2 = append(ops2, c.GetOp()+" by "+c.GetActor())
	}
	if want := []string{"remove by ops", "add by ops", "create by ops"}; !slices.Equal(ops2, want) {
		t.Errorf("ListChanges = %v, want %v", ops2, want)
	}
}

// TestListsCLI drives gavel lists as an operator would: create, add,
// import a CSV with a bad line (refused whole, then with --skip-bad-rows),
// show, export.
func TestListsCLI(t *testing.T) {
	g := startGavel(t, detectorsOff(t)...)
	dir := t.TempDir()
	gavel := func(args ...string) (string, error) {
		cmd := exec.Command(filepath.Join(binDir, "gavel"), args...)
		cmd.Env = append(os.Environ(), "GAVEL_ADDR="+g.addr)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := gavel(args...)
		if err != nil {
			t.Fatalf("gavel %s = %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	must("lists", "create", "devices", "--kind", "device_id", "--purpose", "block", "--action", "restrict")
	must("lists", "add", "devices", "dev-1", "dev-2", "--note", "emulator farm", "--expires", "720h")
	csv := filepath.Join(dir, "in.csv")
	os.WriteFile(csv, []byte("value,note,expires_at\ndev-3,farm,\n,empty,\ndev-4,farm,2030-01-01T00:00:00Z\ndev-5,farm,yesterday\n"), 0o600)
	out, err := gavel("lists", "import", "devices", csv)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !strings.Contains(out, "line 5") {
		t.Errorf("import with a bad expiry = %v\n%s\nwant a failure naming line 5", err, out)
	}
	os.WriteFile(csv, []byte("value,note\ndev-3,farm\n\"\",empty\ndev-4,farm\n"), 0o600)
	out, err = gavel("lists", "import", "devices", csv)
	if !errors.As(err, &ee) || !strings.Contains(out, "line 3") {
		t.Errorf("import with an empty value = %v\n%s\nwant a failure naming line 3", err, out)
	}
	if out := must("lists", "show", "devices"); strings.Contains(out, "dev-3") {
		t.Errorf("a refused import added entries:\n%s", out)
	}
	out = must("lists", "import", "devices", csv, "--skip-bad-rows")
	if !strings.Contains(out, "imported 2 entries") || !strings.Contains(out, "skipped line 3") {
		t.Errorf("import --skip-bad-rows:\n%s", out)
	}
	out = must("lists", "show", "devices")
	for _, v := range []string{"dev-1", "dev-2", "dev-3", "dev-4", "emulator farm", "4 entries"} {
		if !strings.Contains(out, v) {
			t.Errorf("show devices lacks %q:\n%s", v, out)
		}
	}
	exp := filepath.Join(dir, "out.csv")
	must("lists", "export", "devices", exp)
	b, _ := os.ReadFile(exp)
	if lines := strings.Count(string(b), "\n"); lines != 5 {
		t.Errorf("export wrote %d lines, want header + 4:\n%s", lines, b)
	}
	if out, err := gavel("lists", "add", "devices"); err == nil {
		t.Errorf("lists add without values succeeded:\n%s", out)
	}
}
