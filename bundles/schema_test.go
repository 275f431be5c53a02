package bundles

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/internal/bundletest"
	"github.com/gavel/gavel/policies"
)

// typoRego reads input.subjct.id: it compiles, but the input schema has no
// subjct. It is line 5 of gavel/enforcement/typo.rego.
const typoRego = `package gavel.enforcement

# The subject's id, misspelt.
typo_subject_id := id if {
	id := input.subjct.id
}
`

// schemaPolicies writes gavel's own policy bundle into a fresh folder the
// test may rewrite, with the given revision.
func schemaPolicies(t testing.TB, revision string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := policies.WriteBundle(dir); err != nil {
		t.Fatal(err)
	}
	setRevision(t, dir, revision)
	return dir
}

// wantTypo checks that msg names the typo, where it is and why it fails.
func wantTypo(t testing.TB, what, msg string) {
	t.Helper()
	for _, w := range []string{"input schema", "typo.rego:5:", "rego_type_error", "input.subjct.id"} {
		if !strings.Contains(msg, w) {
			t.Errorf("%s = %q, want it to contain %q", what, msg, w)
		}
	}
}

// TestInputSchemaRefusesAtStart: a bundle that compiles but reads a field
// the input schema does not have never activates, and WaitReady says why.
// The same bundle without a schema activates, so the schema is the cause.
func TestInputSchemaRefusesAtStart(t *testing.T) {
	t.Parallel()
	dir := schemaPolicies(t, "typo-1")
	writeFile(t, dir, "gavel/enforcement/typo.rego", typoRego)

	e := newEngine(t, Config{Source: dir, InputSchema: policies.InputSchema()})
	eventually(t, readyTimeout, "the bundle to be refused", func() bool { return currentStatus(e).LastError != "" })
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	err := e.WaitReady(ctx)
	if err == nil {
		t.Fatalf("WaitReady() = nil, want the schema refusal; Status() = %+v", currentStatus(e))
	}
	wantTypo(t, "WaitReady()", err.Error())
	if s := currentStatus(e); s.Ready || s.Revision != "" {
		t.Errorf("Status() = %+v, want nothing serving", s)
	}
	if _, err := e.Evaluate(t.Context(), signupInput(nil, nil)); err == nil {
		t.Error("Evaluate() = nil error, want ErrNotReady")
	}

	unchecked := startEngine(t, Config{Source: dir})
	if s := currentStatus(unchecked); s.Revision != "typo-1" {
		t.Errorf("without a schema: Status() = %+v, want typo-1 active", s)
	}
}

// TestInputSchemaHotReload: gavel's own policies pass the schema; a reload
// that adds the typo is refused and the good bundle keeps serving, with
// Status and OnLoad saying why; the next good bundle clears the error.
func TestInputSchemaHotReload(t *testing.T) {
	t.Parallel()
	dir := schemaPolicies(t, "s1")
	var (
		mu    sync.Mutex
		loads []LoadResult
	)
	e := startEngine(t, Config{
		Source:      dir,
		InputSchema: policies.InputSchema(),
		OnLoad: func(r LoadResult) {
			mu.Lock()
			defer mu.Unlock()
			loads = append(loads, r)
		},
	})
	servesS1 := func(t *testing.T) {
		t.Helper()
		v, err := e.Evaluate(t.Context(), signupInput(disposable(), nil))
		if err != nil || v.BundleRevision != "s1" || v.Action <= decision.Allow {
			t.Errorf("Evaluate(email.disposable signup) = %+v, %v; want s1's verdict above allow", v, err)
		}
		if s := currentStatus(e); s.Revision != "s1" || !s.Ready {
			t.Errorf("Status() = %+v, want s1 serving", s)
		}
	}
	servesS1(t)
	if s := currentStatus(e); s.LastError != "" {
		t.Fatalf("Status() = %+v, want gavel's policies to pass the input schema", s)
	}

	writeFile(t, dir, "gavel/enforcement/typo.rego", typoRego)
	setRevision(t, dir, "s2")
	if err := e.Reload(t.Context()); err != nil {
		t.Logf("Reload() = %v", err) // gavel refuses after OPA accepted: not Reload's error
	}
	s := currentStatus(e)
	wantTypo(t, "Status().LastError", s.LastError)
	if !strings.Contains(s.LastError, `revision "s2"`) {
		t.Errorf("Status().LastError = %q, want it to name revision s2", s.LastError)
	}
	servesS1(t)
	mu.Lock()
	var refused *LoadResult
	for i := range loads {
		if loads[i].Revision == "s2" {
			refused = &loads[i]
		}
	}
	mu.Unlock()
	if refused == nil || refused.Activated || refused.Err == nil {
		t.Errorf("OnLoad for s2 = %+v, want refused with an error", refused)
	} else {
		wantTypo(t, "OnLoad error", refused.Err.Error())
	}

	if err := os.Remove(filepath.Join(dir, "gavel", "enforcement", "typo.rego")); err != nil {
		t.Fatal(err)
	}
	setRevision(t, dir, "s3")
	if err := e.Reload(t.Context()); err != nil {
		t.Fatalf("Reload() = %v", err)
	}
	if s := currentStatus(e); s.Revision != "s3" || s.LastError != "" {
		t.Errorf("Status() after s3 = %+v, want s3 active and no error", s)
	}
}

// TestInputSchemaPersisted: OPA parses a persisted bundle without its
// annotations; gavel's own policies, whose decision-log mask has a schema
// annotation of its own, still pass the check when a restart serves them
// from disk with the bundle server down.
func TestInputSchemaPersisted(t *testing.T) {
	t.Parallel()
	dir := schemaPolicies(t, "persisted-1")
	_, srv := bundletest.New(t, tarball(t, dir, nil))
	cfg := Config{Source: srv.URL + bundletest.Path, PersistDir: t.TempDir(), InputSchema: policies.InputSchema()}
	first := startEngine(t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	first.Stop(ctx)
	srv.Close()

	e := startEngine(t, cfg)
	if s := currentStatus(e); s.Revision != "persisted-1" {
		t.Errorf("after a restart on the persisted bundle: Status() = %+v, want persisted-1 active", s)
	}
}
