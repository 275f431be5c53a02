package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDetectorsCheck runs `gavel detectors check` as a detector team
// would, without a running gavel: every built-in detector and the Python
// one conform (exit 0); broken ones do not (exit 1), each with the line
// that says what is wrong.
func TestDetectorsCheck(t *testing.T) {
	conforms := func(t *testing.T, path string) {
		t.Helper()
		// Warnings may come from a busy machine (an answer slower than the
		// detector's declared budget); no check may fail or be skipped.
		r := gavelCLI(t, "detectors", "check", path)
		if r.code != 0 || !strings.Contains(r.stdout, "conforms: 13 checks, ") || !strings.Contains(r.stdout, " 0 failed") ||
			!strings.Contains(r.stdout, " 0 skipped") {
			t.Errorf("gavel detectors check %s: %v", path, r)
		}
	}
	for _, name := range builtinDetectors(t) {
		t.Run(name, func(t *testing.T) { conforms(t, filepath.Join(binDir, "gavel-detector-"+name)) })
	}
	t.Run("python", func(t *testing.T) { conforms(t, pythonDetector(t)) })

	// The Python detector, broken one way at a time, as a team writing one
	// in another language might.
	python := pythonDetector(t)
	broken := func(t *testing.T, old, new string) string {
		t.Helper()
		dir := filepath.Join(t.TempDir(), "ipreputation")
		if err := os.CopyFS(dir, os.DirFS(filepath.Dir(python))); err != nil {
			t.Fatal(err)
		}
		src := filepath.Join(dir, "ipreputation.py")
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(string(b), old) != 1 {
			t.Fatalf("ipreputation.py: %q is not found exactly once", old)
		}
		writeText(t, src, strings.Replace(string(b), old, new, 1))
		if err := os.Chmod(filepath.Join(dir, filepath.Base(python)), 0o755); err != nil {
			t.Fatal(err)
		}
		return filepath.Join(dir, filepath.Base(python))
	}
	garbage := filepath.Join(t.TempDir(), "gavel-detector-chatty")
	writeText(t, garbage, "#!/bin/sh\necho 'detector starting on port 8080'\nexit 0\n")
	if err := os.Chmod(garbage, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		path func(t *testing.T) string
		want []string
	}{
		{"stdout before the handshake", func(*testing.T) string { return garbage }, []string{
			"FAIL  run by hand         exited 0 without GAVEL_DETECTOR_PLUGIN",
			`FAIL  handshake           the first line on stdout is not a handshake (want core|app|network|address|grpc|cert): "detector starting on port 8080\n"`,
			"FAIL  start under gavel",
		}},
		{"no client certificate required", func(t *testing.T) string {
			return broken(t, "require_client_auth=True", "require_client_auth=False")
		}, []string{"FAIL  mutual TLS          answers a caller without a client certificate"}},
		{"score out of range", func(t *testing.T) string {
			return broken(t, "resp.signals.add(name=SIGNAL, score=score,", "resp.signals.add(name=SIGNAL, score=score + 2,")
		}, []string{"FAIL  signals", "answer rejected", "outside 0..1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := gavelCLI(t, "detectors", "check", tc.path(t))
			if r.code != 1 || !strings.Contains(r.stdout, "does not conform") {
				t.Errorf("gavel detectors check = exit %d, want 1 and \"does not conform\": %v", r.code, r)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("gavel detectors check lacks %q:\n%s", w, r.stdout)
				}
			}
		})
	}
}
