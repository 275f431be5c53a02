package bundles

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/internal/logbuf"
)

// readyTimeout covers OPA's first compile on a busy machine.
const readyTimeout = 2 * time.Minute

const fixtureDir = "testdata/fixture"

// newEngine starts an engine and stops it when the test ends, printing its
// log if the test failed. It does not wait for readiness.
func newEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	if cfg.Polling.Min == 0 {
		cfg.Polling = Polling{Min: time.Second, Max: time.Second}
	}
	var logs logbuf.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("engine log:\n%s", logs.String())
		}
	})
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e, err := New(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Stop(ctx)
	})
	return e
}

// startEngine is newEngine that waits for the first activation.
func startEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	e := newEngine(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := e.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady() = %v", err)
	}
	return e
}

// copyFixture copies the fixture bundle to a fresh folder the test may
// rewrite, with the given revision.
func copyFixture(t testing.TB, revision string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := os.CopyFS(dir, os.DirFS(fixtureDir)); err != nil {
		t.Fatal(err)
	}
	setRevision(t, dir, revision)
	return dir
}

func setRevision(t testing.TB, dir, revision string) {
	t.Helper()
	writeFile(t, dir, ".manifest", fmt.Sprintf(`{"revision":%q,"roots":["gavel","system"]}`, revision))
}

func writeFile(t testing.TB, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// brokenRego parses but does not compile: x is unsafe.
const brokenRego = "package gavel.enforcement\n\nbroken := x if x > 1\n"

// tarball builds a bundle tarball from a folder with OPA's bundle.Writer,
// signing it first when sign is set.
func tarball(t testing.TB, dir string, sign func(*bundle.Bundle) error) []byte {
	t.Helper()
	b, err := bundle.NewCustomReader(bundle.NewDirectoryLoader(dir)).Read()
	if err != nil {
		t.Fatalf("read bundle %s: %v", dir, err)
	}
	if sign != nil {
		if err := sign(&b); err != nil {
			t.Fatalf("sign bundle: %v", err)
		}
	}
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).Write(b); err != nil {
		t.Fatalf("write bundle: %v", err)
	}
	return buf.Bytes()
}

func writeTarball(t testing.TB, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bundle.tar.gz")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signupInput builds a signup input document with decision's own builder.
func signupInput(signals []decision.Signal, attrs map[string]any) map[string]any {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	req := &decision.Request{
		RequestID: "req-1",
		Subject: decision.Subject{
			ID:        "acct-1",
			Kind:      "freelancer",
			CreatedAt: now.Add(-time.Hour),
			Profile: decision.Profile{
				GivenName:   "Ada",
				FamilyName:  "Lovelace",
				DisplayName: "Ada Lovelace",
				Country:     "GB",
				Email:       "ada@example.com",
				Phone:       "+447700900123",
			},
		},
		Checkpoint: "signup",
		Context:    decision.Context{IP: "203.0.113.7", DeviceID: "dev-1", UserAgent: "Mozilla/5.0"},
		Attributes: attrs,
		Signals:    signals,
	}
	return decision.Input(req, nil, signals, decision.History{}, now)
}

func disposable() []decision.Signal {
	return []decision.Signal{{
		Name:       "email.disposable",
		Score:      1,
		Value:      "mailinator.com",
		Evidence:   map[string]any{"domain": "mailinator.com"},
		Confidence: 1,
		Source:     "email",
	}}
}

// withTest sets the fixture policy's test knobs.
func withTest(knobs map[string]any) map[string]any {
	return signupInput(nil, map[string]any{"test": knobs})
}

func currentStatus(e *Engine) Status { return e.Status()[0] }
