package tests

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveExit runs gavel serve until it exits and returns its exit code and
// stderr. It fails the test if gavel is still running after a minute.
func serveExit(t *testing.T, dataDir string, env ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "gavel"), "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("gavel serve did not exit within a minute\n%s", stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), stderr.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, stderr.String()
}

// TestStartupLedgerErrors checks that a ledger gavel cannot open stops it at
// start-up with a non-zero exit and a message naming the database, with no
// password in it.
func TestStartupLedgerErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: runs gavel")
	}
	t.Run("corrupt sqlite file", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "ledger.db")
		if err := os.WriteFile(path, bytes.Repeat([]byte("this is not a database file. "), 512), 0o640); err != nil {
			t.Fatal(err)
		}
		code, stderr := serveExit(t, dir)
		if code == 0 {
			t.Fatalf("gavel serve on a corrupt SQLite file exit code = 0, want non-zero\n%s", stderr)
		}
		if !strings.Contains(stderr, path) || !strings.Contains(stderr, "not a database") {
			t.Errorf("gavel serve on a corrupt SQLite file stderr = %q, want it to name %s and say it is not a database", stderr, path)
		}
	})
	t.Run("unreachable postgres", func(t *testing.T) {
		const password = "startup-pw-51c0de"
		port := freePort(t) // nothing listens there once freePort returns
		dsn := "postgres://gavel:" + password + "@127.0.0.1:" + port + "/gavel?sslmode=disable"
		code, stderr := serveExit(t, t.TempDir(), "GAVEL_LEDGER__DRIVER=postgres", "GAVEL_LEDGER__DSN="+dsn)
		if code == 0 {
			t.Fatalf("gavel serve on an unreachable PostgreSQL exit code = 0, want non-zero\n%s", stderr)
		}
		if strings.Contains(stderr, password) {
			t.Errorf("gavel serve stderr shows the DSN's password:\n%s", stderr)
		}
		if want := "postgres://gavel:xxxxx@127.0.0.1:" + port + "/gavel"; !strings.Contains(stderr, want) {
			t.Errorf("gavel serve on an unreachable PostgreSQL stderr = %q, want it to name %s", stderr, want)
		}
	})
}
