package bundles

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/internal/bundletest"
)

var (
	reasonDisposable = decision.Reason{
		Code:        "EMAIL_DISPOSABLE",
		Action:      decision.Challenge,
		Title:       "Disposable email address",
		Message:     "Please use a permanent email address.",
		Explanation: "The email domain belongs to a disposable-mailbox provider.",
		Ground:      "Terms of Service 4.2: accurate account information",
		DSACategory: "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
		DSAKeyword:  "KEYWORD_INAUTHENTIC_ACCOUNTS",
		Evidence:    []map[string]any{{"signal": "email.disposable", "score": float64(1)}},
		Rule:        "email_disposable",
		Appealable:  false,
	}
	reasonPayout = decision.Reason{
		Code:        "PAYOUT_NAME_MISMATCH",
		Action:      decision.Restrict,
		Title:       "Payout name does not match",
		Message:     "Payouts are on hold until the payout account name matches your profile.",
		Explanation: "The payout account holder differs from the profile display name.",
		Ground:      "Terms of Service 7.1: payouts to the account holder only",
		DSACategory: "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
		DSAKeyword:  "KEYWORD_IMPERSONATION_ACCOUNT_HIJACKING",
		Evidence:    []map[string]any{{"payout_name": "Someone Else"}},
		Rule:        "payout_name_mismatch",
		Appealable:  true,
	}
)

func TestEvaluateFolder(t *testing.T) {
	t.Parallel()
	e := startEngine(t, Config{Source: fixtureDir})

	tests := []struct {
		name  string
		input map[string]any
		want  decision.Verdict
	}{{
		name:  "clean signup",
		input: signupInput(nil, nil),
		want:  decision.Verdict{Action: decision.Allow, BundleRevision: "fixture-1"},
	}, {
		name:  "disposable email",
		input: signupInput(disposable(), nil),
		want: decision.Verdict{
			Action:  decision.Challenge,
			Reasons: []decision.Reason{reasonDisposable},
			Remedy: &decision.Remedy{
				Code:       "verify_identity",
				Checkpoint: "identity_verification",
				Message:    "Verify your identity to continue.",
			},
			BundleRevision: "fixture-1",
		},
	}, {
		name:  "disposable email and payout mismatch",
		input: signupInput(disposable(), map[string]any{"payout_name": "Someone Else"}),
		want: decision.Verdict{
			Action:         decision.Restrict,
			Restrictions:   []decision.Restriction{{Capability: "payouts", Duration: 720 * time.Hour}},
			Reasons:        []decision.Reason{reasonDisposable, reasonPayout},
			Duration:       720 * time.Hour,
			Strike:         true,
			BundleRevision: "fixture-1",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.Evaluate(t.Context(), tt.input)
			if err != nil {
				t.Fatalf("Evaluate() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Evaluate() mismatch (-want +got):\n%s", diff)
			}
		})
	}

	s := currentStatus(e)
	if !s.Ready || s.Revision != "fixture-1" || s.Role != "active" || s.Name != "gavel" || s.LastError != "" || s.ActivatedAt.IsZero() {
		t.Errorf("Status() = %+v, want ready active gavel at fixture-1 without error", s)
	}
}

// TestTarballAndShadow loads the fixture as a tarball written by OPA's
// bundle.Writer in a second, independent engine next to a folder engine.
func TestTarballAndShadow(t *testing.T) {
	t.Parallel()
	dir := copyFixture(t, "tarball-1")
	path := writeTarball(t, tarball(t, dir, nil))
	active := startEngine(t, Config{Source: fixtureDir})
	shadow := startEngine(t, Config{Name: "gavel-shadow", Role: "shadow", Source: "file://" + path})

	for _, tc := range []struct {
		e    *Engine
		rev  string
		role string
	}{{active, "fixture-1", "active"}, {shadow, "tarball-1", "shadow"}} {
		allow, err := tc.e.Evaluate(t.Context(), signupInput(nil, nil))
		if err != nil || allow.Action != decision.Allow || allow.BundleRevision != tc.rev {
			t.Errorf("%s: Evaluate(clean) = %v, %v; want allow at %s", tc.role, allow.Action, err, tc.rev)
		}
		deny, err := tc.e.Evaluate(t.Context(), signupInput(disposable(), map[string]any{"payout_name": "Someone Else"}))
		if err != nil || deny.Action != decision.Restrict || len(deny.Reasons) != 2 || deny.BundleRevision != tc.rev {
			t.Errorf("%s: Evaluate(bad) = %+v, %v; want restrict with 2 reasons at %s", tc.role, deny, err, tc.rev)
		}
		if s := currentStatus(tc.e); s.Role != tc.role || s.Revision != tc.rev || !s.Ready {
			t.Errorf("%s: Status() = %+v", tc.role, s)
		}
	}
}

// TestMalformedResult: anything outside the policy contract is an error,
// never a verdict, and the error carries the revision.
func TestMalformedResult(t *testing.T) {
	t.Parallel()
	e := startEngine(t, Config{Source: fixtureDir})
	reason := func(r map[string]any) map[string]any { return map[string]any{"reasons": []any{r}} }
	tests := []struct {
		name  string
		knobs map[string]any
		want  string
	}{
		{"undefined entry point", map[string]any{"undefined": true}, "is undefined"},
		{"unknown action", map[string]any{"patch": map[string]any{"action": "maybe"}}, `unknown action "maybe"`},
		{"action not a string", map[string]any{"patch": map[string]any{"action": 3}}, "action: want a string"},
		{"unknown reason code", map[string]any{"patch": reason(map[string]any{"code": "NOPE", "action": "warn"})}, `code "NOPE" is not in the reason catalog`},
		{"reason without code", map[string]any{"patch": reason(map[string]any{"action": "warn"})}, "code: want a non-empty string"},
		{"reason with bad action", map[string]any{"patch": reason(map[string]any{"code": "EMAIL_DISPOSABLE", "action": "ban"})}, `unknown action "ban"`},
		{"evidence not objects", map[string]any{"patch": reason(map[string]any{"code": "EMAIL_DISPOSABLE", "action": "warn", "evidence": []any{"x"}})}, "evidence: [0]: want an object"},
		{"bad duration", map[string]any{"patch": map[string]any{"duration": "forever"}}, `duration: time: invalid duration "forever"`},
		{"negative duration", map[string]any{"patch": map[string]any{"duration": "-1h"}}, "want a positive duration"},
		{"bad restriction duration", map[string]any{"patch": map[string]any{"restrictions": []any{map[string]any{"capability": "payouts", "duration": "a month"}}}}, "restrictions[0] (payouts): duration"},
		{"restriction without capability", map[string]any{"patch": map[string]any{"restrictions": []any{map[string]any{"duration": ""}}}}, "restrictions[0]: capability"},
		{"strike not a boolean", map[string]any{"patch": map[string]any{"strike": "yes"}}, "strike: want a boolean"},
		{"unknown remedy", map[string]any{"patch": map[string]any{"remedy": map[string]any{"code": "pay_fine"}}}, `code "pay_fine" is not in the catalog's remedies`},
		{"suspend without reason", map[string]any{"patch": map[string]any{"action": "suspend"}}, "action suspend without a reason"},
		{"deadline", map[string]any{"slow": 3000}, "context deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			if tt.name == "deadline" {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
				defer cancel()
			}
			got, err := e.Evaluate(ctx, withTest(tt.knobs))
			if err == nil {
				t.Fatalf("Evaluate(%v) = %+v, want an error", tt.knobs, got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Evaluate(%v) error = %q, want it to contain %q", tt.knobs, err, tt.want)
			}
			if got.Action != decision.ActionUnspecified || got.BundleRevision != "fixture-1" || got.Reasons != nil {
				t.Errorf("Evaluate(%v) verdict = %+v, want only the revision fixture-1", tt.knobs, got)
			}
			if tt.name == "deadline" {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Evaluate past its deadline error = %v, want context.DeadlineExceeded", err)
				}
			}
		})
	}
}

func TestNotReady(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "nothing-here")
	e := newEngine(t, Config{Source: missing})

	if _, err := e.Evaluate(t.Context(), signupInput(nil, nil)); !errors.Is(err, ErrNotReady) {
		t.Errorf("Evaluate() before activation error = %v, want ErrNotReady", err)
	}
	eventually(t, readyTimeout, "the load failure in Status", func() bool { return currentStatus(e).LastError != "" })
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	err := e.WaitReady(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "nothing-here") {
		t.Errorf("WaitReady() = %v, want deadline exceeded naming the missing source", err)
	}
	if s := currentStatus(e); s.Ready || s.Revision != "" || s.LastErrorAt.IsZero() {
		t.Errorf("Status() = %+v, want not ready with an error", s)
	}

	// The watcher notices the source appearing.
	if err := os.CopyFS(missing, os.DirFS(fixtureDir)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(t.Context(), readyTimeout)
	defer cancel()
	if err := e.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady() after the source appeared = %v", err)
	}
	if s := currentStatus(e); !s.Ready || s.LastError != "" {
		t.Errorf("Status() = %+v, want ready without error", s)
	}
}

// TestRefusedBundleKeepsServing rewrites a local source with bundles that
// OPA refuses (does not compile) and that gavel refuses (no catalog, no
// entry point): the last good bundle keeps serving and Status says why.
func TestRefusedBundleKeepsServing(t *testing.T) {
	t.Parallel()
	dir := copyFixture(t, "r1")
	e := startEngine(t, Config{Source: dir})
	catalog := filepath.Join(dir, "gavel", "catalog", "data.json")
	good, err := os.ReadFile(catalog)
	if err != nil {
		t.Fatal(err)
	}
	policy := filepath.Join(dir, "gavel", "enforcement", "decision.rego")
	goodPolicy, err := os.ReadFile(policy)
	if err != nil {
		t.Fatal(err)
	}

	servesR1 := func(t *testing.T) {
		t.Helper()
		v, err := e.Evaluate(t.Context(), signupInput(disposable(), nil))
		if err != nil || v.BundleRevision != "r1" || v.Action != decision.Challenge || len(v.Reasons) != 1 || v.Reasons[0].Title == "" {
			t.Errorf("Evaluate() = %+v, %v; want r1's challenge with catalog texts", v, err)
		}
		if s := currentStatus(e); s.Revision != "r1" || !s.Ready {
			t.Errorf("Status() = %+v, want r1 serving", s)
		}
	}

	steps := []struct {
		name    string
		rewrite func()
		want    string // in Reload's error (OPA refused) or Status
	}{{
		name:    "does not compile",
		rewrite: func() { setRevision(t, dir, "r2"); writeFile(t, dir, "gavel/enforcement/broken.rego", brokenRego) },
		want:    "var x is unsafe",
	}, {
		name: "no catalog",
		rewrite: func() {
			os.Remove(filepath.Join(dir, "gavel", "enforcement", "broken.rego"))
			setRevision(t, dir, "r3")
			os.Remove(catalog)
		},
		want: "reason catalog data.gavel.catalog is missing",
	}, {
		name: "malformed catalog",
		rewrite: func() {
			setRevision(t, dir, "r4")
			writeFile(t, dir, "gavel/catalog/data.json", `{"reasons": {"EMAIL_DISPOSABLE": {"title": "t", "appealable": "yes"}}}`)
		},
		want: `reason "EMAIL_DISPOSABLE": message is missing`,
	}, {
		name: "no entry point",
		rewrite: func() {
			setRevision(t, dir, "r5")
			writeFile(t, dir, "gavel/catalog/data.json", string(good))
			writeFile(t, dir, "gavel/enforcement/decision.rego", strings.Replace(string(goodPolicy), "\ndecision :=", "\nverdict :=", 1))
		},
		want: "entry point data.gavel.enforcement.decision is not defined",
	}}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			step.rewrite()
			err := e.Reload(t.Context())
			s := currentStatus(e)
			if !strings.Contains(s.LastError, step.want) {
				t.Errorf("Status().LastError = %q (Reload() = %v), want it to contain %q", s.LastError, err, step.want)
			}
			servesR1(t)
		})
	}

	// A good bundle replaces r1, and the error clears. The watcher finds it.
	writeFile(t, dir, "gavel/enforcement/decision.rego", string(goodPolicy))
	setRevision(t, dir, "r6")
	eventually(t, 30*time.Second, "the watcher to activate r6", func() bool { return currentStatus(e).Revision == "r6" })
	if s := currentStatus(e); s.LastError != "" {
		t.Errorf("Status() after r6 = %+v, want no error", s)
	}
	if v, err := e.Evaluate(t.Context(), signupInput(nil, nil)); err != nil || v.BundleRevision != "r6" {
		t.Errorf("Evaluate() = %+v, %v; want r6", v, err)
	}
}

// TestBundleServer uses OPA's HTTP bundle protocol with ETags and polling.
func TestBundleServer(t *testing.T) {
	t.Parallel()
	dir := copyFixture(t, "http-1")
	srv, ts := bundletest.New(t, tarball(t, dir, nil))
	e := startEngine(t, Config{Source: ts.URL + bundletest.Path, PersistDir: t.TempDir()})
	if s := currentStatus(e); s.Revision != "http-1" {
		t.Fatalf("Status() = %+v, want http-1", s)
	}

	setRevision(t, dir, "http-2")
	writeFile(t, dir, "gavel/enforcement/broken.rego", brokenRego)
	srv.Set(tarball(t, dir, nil))
	eventually(t, 30*time.Second, "the refused http-2 in Status", func() bool {
		return strings.Contains(currentStatus(e).LastError, "var x is unsafe")
	})
	if v, err := e.Evaluate(t.Context(), signupInput(disposable(), nil)); err != nil || v.BundleRevision != "http-1" || v.Action != decision.Challenge {
		t.Errorf("Evaluate() while http-2 is refused = %+v, %v; want http-1's challenge", v, err)
	}

	os.Remove(filepath.Join(dir, "gavel", "enforcement", "broken.rego"))
	setRevision(t, dir, "http-3")
	srv.Set(tarball(t, dir, nil))
	eventually(t, 30*time.Second, "http-3 to activate", func() bool { return currentStatus(e).Revision == "http-3" })
	eventually(t, 30*time.Second, "the error to clear", func() bool { return currentStatus(e).LastError == "" })

	// Not-modified answers leave the bundle alone.
	before := srv.Requests()
	eventually(t, 30*time.Second, "another poll", func() bool {
		return srv.Requests() > before
	})
	if s := currentStatus(e); s.Revision != "http-3" || s.LastError != "" {
		t.Errorf("Status() after a 304 = %+v", s)
	}
}

func TestSigningRequired(t *testing.T) {
	t.Parallel()
	const keyID, secret = "gavel-test", "a-shared-secret-for-tests-only"
	signing := &Signing{KeyID: keyID, PublicKey: secret, Algorithm: "HS256", Required: true}
	dir := copyFixture(t, "signed-1")

	unsigned := newEngine(t, Config{Source: writeTarball(t, tarball(t, dir, nil)), Signing: signing})
	eventually(t, readyTimeout, "the unsigned bundle to be refused", func() bool { return currentStatus(unsigned).LastError != "" })
	if s := currentStatus(unsigned); s.Ready || !strings.Contains(s.LastError, "signature") {
		t.Errorf("unsigned: Status() = %+v, want refused for a missing signature", s)
	}

	signed := tarball(t, dir, func(b *bundle.Bundle) error {
		return b.GenerateSignature(bundle.NewSigningConfig(secret, "HS256", ""), keyID, false)
	})
	e := startEngine(t, Config{Source: writeTarball(t, signed), Signing: signing})
	if s := currentStatus(e); s.Revision != "signed-1" {
		t.Errorf("signed: Status() = %+v, want signed-1 active", s)
	}

	wrong := &Signing{KeyID: keyID, PublicKey: "another-secret", Algorithm: "HS256", Required: true}
	bad := newEngine(t, Config{Source: writeTarball(t, signed), Signing: wrong})
	eventually(t, readyTimeout, "the badly signed bundle to be refused", func() bool { return currentStatus(bad).LastError != "" })
	if s := currentStatus(bad); s.Ready {
		t.Errorf("wrong key: Status() = %+v, want not ready", s)
	}
}

// TestConcurrentEvaluateDuringActivation evaluates from several goroutines
// while bundles are activated and refused underneath: no evaluation fails.
func TestConcurrentEvaluateDuringActivation(t *testing.T) {
	t.Parallel()
	dir := copyFixture(t, "c0")
	e := startEngine(t, Config{Source: dir})

	var (
		wg     sync.WaitGroup
		stop   atomic.Bool
		evals  atomic.Int64
		failed atomic.Int64
		first  atomic.Value
	)
	inputs := []struct {
		in   map[string]any
		want decision.Action
	}{
		{signupInput(nil, nil), decision.Allow},
		{signupInput(disposable(), nil), decision.Challenge},
		{signupInput(disposable(), map[string]any{"payout_name": "Someone Else"}), decision.Restrict},
	}
	for g := range 4 {
		wg.Go(func() {
			for i := g; !stop.Load(); i++ {
				tc := inputs[i%len(inputs)]
				v, err := e.Evaluate(context.Background(), tc.in)
				evals.Add(1)
				if err == nil && v.Action != tc.want {
					err = errors.New("action " + v.Action.String() + ", want " + tc.want.String())
				}
				if err != nil {
					failed.Add(1)
					first.CompareAndSwap(nil, err.Error())
				}
			}
		})
	}
	revs := []string{"c1", "c2", "c3", "c4", "c5"}
	aside := filepath.Join(t.TempDir(), "data.json")
	for i, rev := range revs {
		setRevision(t, dir, rev)
		if i == 2 { // one refused by gavel in between: catalog gone
			os.Rename(filepath.Join(dir, "gavel", "catalog", "data.json"), aside)
		}
		err := e.Reload(context.Background())
		if i == 2 {
			os.Rename(aside, filepath.Join(dir, "gavel", "catalog", "data.json"))
		}
		if err != nil {
			t.Errorf("Reload(%s) = %v", rev, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()

	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d evaluations failed during re-activation; first: %v", n, evals.Load(), first.Load())
	}
	if evals.Load() == 0 {
		t.Error("no evaluation ran")
	}
	if s := currentStatus(e); s.Revision != "c5" || s.LastError != "" {
		t.Errorf("Status() = %+v, want c5 without error", s)
	}
	t.Logf("%d evaluations during %d activations", evals.Load(), len(revs))
}

// TestRefusedLocalBundleFailsFast: a local bundle that is there but refused
// (signed under an unknown key id, or not compiling) ends WaitReady at once
// with ErrRefused and the reason, instead of waiting out its deadline.
func TestRefusedLocalBundleFailsFast(t *testing.T) {
	t.Parallel()
	dir := copyFixture(t, "unknown-key-1")
	signed := tarball(t, dir, func(b *bundle.Bundle) error {
		return b.GenerateSignature(bundle.NewSigningConfig("a-shared-secret-for-tests-only", "HS256", ""), "someone-else", false)
	})
	broken := copyFixture(t, "broken-1")
	writeFile(t, broken, "broken.rego", brokenRego)
	for name, cfg := range map[string]Config{
		"unknown key id":   {Source: writeTarball(t, signed), Signing: &Signing{KeyID: "gavel-test", PublicKey: "a-shared-secret-for-tests-only", Algorithm: "HS256", Required: true}},
		"does not compile": {Source: broken},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, cfg)
			// No deadline reached: the refusal itself ends the wait.
			ctx, cancel := context.WithTimeout(t.Context(), readyTimeout)
			defer cancel()
			err := e.WaitReady(ctx)
			if !errors.Is(err, ErrRefused) || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("WaitReady() = %v, want ErrRefused before the deadline", err)
			}
		})
	}
}
