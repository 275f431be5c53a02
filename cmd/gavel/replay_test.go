package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
	"github.com/gavel/gavel/ledger/ledgertest"
	"github.com/gavel/gavel/policies"
)

// replayData makes a data folder whose ledger holds two decisions, and a
// candidate bundle folder (the repo's policies).
func replayData(t *testing.T) (dataDir, candidate string) {
	t.Helper()
	dataDir = t.TempDir()
	cfg := ledger.DefaultConfig()
	cfg.Path = filepath.Join(dataDir, "ledger.db")
	l, err := ledger.Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Hour)
	for i, r := range []*decision.Record{
		ledgertest.Record("acct-1", "signup", at, decision.Warn, "EMAIL_DISPOSABLE"),
		ledgertest.Record("acct-2", "login", at.Add(time.Second), decision.Allow),
	} {
		if _, _, err := l.Commit(context.Background(), r, nil); err != nil {
			t.Fatalf("Commit(%d) = %v", i, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	candidate = filepath.Join(t.TempDir(), "candidate")
	if err := policies.WriteBundle(candidate); err != nil {
		t.Fatal(err)
	}
	return dataDir, candidate
}

// TestReplayCommand: gavel replay offers and accepts its own flags only,
// refuses a flag of the other mode (local or --remote) instead of
// ignoring it, and states the timing once.
func TestReplayCommand(t *testing.T) {
	t.Setenv("GAVEL_ADDR", "")
	dataDir, candidate := replayData(t)
	gavel := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"replay"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}

	code, help, _ := gavel("--help")
	if code != exitOK {
		t.Fatalf("gavel replay --help exit = %d, want 0", code)
	}
	for _, want := range []string{"--bundle", "--since", "--html", "--data-dir", "--ledger-dsn", "--config", "--remote", "--addr", "--ca"} {
		if !strings.Contains(help, want) {
			t.Errorf("gavel replay --help lacks %s:\n%s", want, help)
		}
	}
	for _, never := range []string{"--listen", "--policy-source", "--log-level", "--protocol", "--timeout"} {
		if strings.Contains(help, never) {
			t.Errorf("gavel replay --help offers %s, which replay does not use:\n%s", never, help)
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bundle", candidate, "--listen", "0.0.0.0:1"}, "unknown flag: --listen"},
		{[]string{"--bundle", candidate, "--policy-source", "x"}, "unknown flag: --policy-source"},
		{[]string{"--bundle", candidate, "--data-dir", dataDir, "--addr", "127.0.0.1:1"}, "--addr applies only with --remote"},
		{[]string{"--bundle", candidate, "--remote", "--data-dir", dataDir}, "--data-dir applies without --remote"},
		{[]string{"--bundle", candidate, "--remote", "--workers", "2"}, "--workers applies without --remote"},
	} {
		code, _, stderr := gavel(tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("gavel replay %v = exit %d, stderr %q; want %d and %q", tc.args, code, stderr, exitUsage, tc.want)
		}
	}

	report := filepath.Join(t.TempDir(), "report.html")
	code, stdout, stderr := gavel("--data-dir", dataDir, "--bundle", candidate, "--html", report)
	if code != exitOK {
		t.Fatalf("gavel replay = exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "2 decisions selected: 2 replayed") {
		t.Errorf("gavel replay stdout lacks the counts:\n%s", stdout)
	}
	timing := regexp.MustCompile(` in [0-9.]+(ns|µs|ms|s)\b`)
	if n := len(timing.FindAllString(stdout+stderr, -1)); n != 1 || !strings.Contains(stdout, "replayed in ") {
		t.Errorf("gavel replay states the timing %d times, want once (stdout %q, stderr %q)", n, stdout, stderr)
	}
	page, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	title := html[strings.Index(html, "<title>")+len("<title>") : strings.Index(html, "</title>")]
	if strings.Contains(title, candidate) || strings.Contains(title, "/") {
		t.Errorf("HTML title = %q: a file path", title)
	}
}

// TestOutcomesExportFlags: outcomes export, which reads the ledger as
// replay does, offers the ledger's settings and its own flags, not
// serve's.
func TestOutcomesExportFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"outcomes", "export", "--help"}, &out, &errb); code != exitOK {
		t.Fatalf("gavel outcomes export --help exit = %d: %s", code, errb.String())
	}
	for _, want := range []string{"--data-dir", "--ledger-dsn", "--since", "--out"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("gavel outcomes export --help lacks %s:\n%s", want, out.String())
		}
	}
	for _, never := range []string{"--listen", "--policy-source", "--log-level"} {
		if strings.Contains(out.String(), never) {
			t.Errorf("gavel outcomes export --help offers %s, which it does not use", never)
		}
	}
	if code := run(context.Background(), []string{"outcomes", "export", "--listen", "0.0.0.0:1"}, &out, &errb); code != exitUsage {
		t.Errorf("gavel outcomes export --listen = exit %d, want %d", code, exitUsage)
	}
}
