package host

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/internal/logbuf"
)

// patience bounds every wait for something asynchronous (a restart, an exit):
// generous, because the machine may be slow and shared.
const patience = 20 * time.Second

var ignoreVolatile = cmpopts.IgnoreFields(decision.DetectorResult{}, "Latency", "Error")

func testLogger(tb testing.TB) (*slog.Logger, *logbuf.Buffer) {
	tb.Helper()
	buf := &logbuf.Buffer{}
	var w io.Writer = buf
	if testing.Verbose() {
		w = io.MultiWriter(buf, os.Stderr)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// detectorConfig is a test detector with the pinned test binary.
func detectorConfig(name string, env map[string]string) DetectorConfig {
	return DetectorConfig{Name: name, Path: selfPath, SHA256: selfSHA256, Timeout: 5 * time.Second, Env: env}
}

// startHost starts a host that must start cleanly and closes it at cleanup.
func startHost(tb testing.TB, cfg Config) (*Host, *logbuf.Buffer) {
	tb.Helper()
	log, buf := testLogger(tb)
	if cfg.RestartBackoffMin == 0 {
		cfg.RestartBackoffMin, cfg.RestartBackoffMax = 50*time.Millisecond, 500*time.Millisecond
	}
	h, err := New(cfg, log)
	if err != nil {
		tb.Fatalf("New() = %v", err)
	}
	tb.Cleanup(func() { h.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := h.Start(ctx); err != nil {
		tb.Fatalf("Start() = %v\nlog:\n%s", err, buf)
	}
	return h, buf
}

func request(checkpoint, c string) *decision.Request {
	r := &decision.Request{
		RequestID:  "req-1",
		Subject:    decision.Subject{ID: "acct-42", Profile: decision.Profile{Email: "a@example.com"}},
		Checkpoint: checkpoint,
	}
	if c != "" {
		r.Attributes = map[string]any{"case": c}
	}
	return r
}

func collect(h *Host, req *decision.Request, timeout time.Duration) []decision.DetectorResult {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return h.Collect(ctx, req, time.Unix(1700000000, 0))
}

// eventually polls cond until it holds or patience runs out.
func eventually(tb testing.TB, what string, cond func() (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(patience)
	var last string
	for time.Now().Before(deadline) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("%s: still not true after %v; last: %s", what, patience, last)
}

func statusOf(h *Host, name string) Health {
	for _, s := range h.Status() {
		if s.Name == name {
			return s
		}
	}
	return Health{}
}

func TestCollectOK(t *testing.T) {
	h, _ := startHost(t, Config{Detectors: []DetectorConfig{detectorConfig("alpha", nil)}})
	req := request("signup", "")
	got := collect(h, req, 5*time.Second)
	want := []decision.DetectorResult{{
		Name: "alpha", Version: "1.2.3", Status: decision.StatusOK,
		Signals: []decision.Signal{{
			Name: "test.score", Score: 0.5, Value: "acct-42", Confidence: 0.9, Source: "alpha",
			// "dropped" was NaN: the SDK drops it rather than failing.
			Evidence: map[string]any{"checkpoint": "signup"},
		}},
	}}
	if diff := cmp.Diff(want, got, ignoreVolatile); diff != "" {
		t.Errorf("Collect(%v) mismatch (-want +got):\n%s", req.Attributes, diff)
	}
	if got[0].Latency <= 0 {
		t.Errorf("Collect(%v) latency = %v, want > 0", req.Attributes, got[0].Latency)
	}

	s := statusOf(h, "alpha")
	if s.State != StateOK || s.Version != "1.2.3" || s.PID == 0 || s.SHA256 != selfSHA256 || s.Restarts != 0 ||
		!cmp.Equal(s.Signals, []string{"test.score", "test.env"}) || s.LastLatency <= 0 {
		t.Errorf("Status() = %+v, want ok, version 1.2.3, a pid, the pin, no restarts, declared signals, a latency", s)
	}
	if p := h.Ping(context.Background()); len(p) != 1 || p[0].State != StateOK {
		t.Errorf("Ping() = %+v, want one ok detector", p)
	}
}

func TestCollectRejectsInvalidAnswers(t *testing.T) {
	// A high breaker threshold: this test sends many bad answers in a row.
	h, logs := startHost(t, Config{Detectors: []DetectorConfig{detectorConfig("alpha", nil)}, BreakerFailures: 100})
	for _, tc := range []struct {
		c       string
		status  decision.DetectorStatus
		signals int
		errHas  string
	}{
		{c: "ok", status: decision.StatusOK, signals: 1},
		{c: "none", status: decision.StatusOK},
		{c: "score2", status: decision.StatusError, errHas: "score 2 is outside 0..1"},
		{c: "nan", status: decision.StatusError, errHas: "score NaN"},
		{c: "confidence", status: decision.StatusError, errHas: "confidence -0.5"},
		{c: "undeclared", status: decision.StatusError, errHas: `"test.undeclared" was not declared`},
		{c: "evidence_deep", status: decision.StatusError, errHas: "deeper than 8"},
		// protobuf's AsMap turns non-finite numbers into strings: harmless.
		{c: "evidence_inf", status: decision.StatusOK, signals: 1},
		{c: "toomany", status: decision.StatusError, errHas: "65 signals"},
		{c: "one_bad_of_two", status: decision.StatusError, errHas: "signal 1"},
		{c: "error", status: decision.StatusError, errHas: "store unreachable"},
		{c: "panic", status: decision.StatusError, errHas: "panicked"},
	} {
		t.Run(tc.c, func(t *testing.T) {
			got := collect(h, request("signup", tc.c), 5*time.Second)
			if len(got) != 1 || got[0].Status != tc.status || len(got[0].Signals) != tc.signals ||
				!strings.Contains(got[0].Error, tc.errHas) {
				t.Errorf("Collect(case=%s) = %+v, want status %s with %d signals and error containing %q",
					tc.c, got, tc.status, tc.signals, tc.errHas)
			}
		})
	}
	if !strings.Contains(logs.String(), "detector=alpha") || !strings.Contains(logs.String(), "answer rejected") {
		t.Errorf("log does not name the detector whose answer was rejected:\n%s", logs)
	}
	if s := statusOf(h, "alpha"); s.State != StateOK || s.Restarts != 0 {
		t.Errorf("after bad answers Status() = %+v, want ok without restarts", s)
	}
}

func TestCollectTimeout(t *testing.T) {
	cases := []struct {
		name     string
		timeout  time.Duration // configured
		budgets  Budgets       // per checkpoint
		deadline time.Duration // the decision's
	}{
		{name: "configured timeout", timeout: 200 * time.Millisecond, deadline: patience},
		{name: "checkpoint budget", timeout: patience, budgets: Budgets{"login": 200 * time.Millisecond}, deadline: patience},
		{name: "default budget", timeout: patience, budgets: Budgets{DefaultBudgetKey: 200 * time.Millisecond, "signup": patience}, deadline: patience},
		{name: "decision deadline", timeout: patience, deadline: 200 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dc := detectorConfig("slow", nil)
			dc.Timeout = tc.timeout
			h, _ := startHost(t, Config{Detectors: []DetectorConfig{dc}, Budgets: tc.budgets})
			start := time.Now()
			got := collect(h, request("login", "hang"), tc.deadline)
			elapsed := time.Since(start)
			want := []decision.DetectorResult{{Name: "slow", Version: "1.2.3", Status: decision.StatusTimeout}}
			if diff := cmp.Diff(want, got, ignoreVolatile); diff != "" {
				t.Errorf("Collect(case=hang) mismatch (-want +got):\n%s", diff)
			}
			// The detector sleeps for an hour; the decision must not wait for it.
			if elapsed > 5*time.Second {
				t.Errorf("Collect(case=hang) took %v, want about 200ms", elapsed)
			}
			// The hung call does not poison the next one.
			if got := collect(h, request("login", "ok"), patience); len(got) != 1 || got[0].Status != decision.StatusOK {
				t.Errorf("Collect(case=ok) after a hang = %+v, want ok", got)
			}
		})
	}
}

func TestCrashRestart(t *testing.T) {
	h, _ := startHost(t, Config{Detectors: []DetectorConfig{detectorConfig("alpha", nil)}})
	before := statusOf(h, "alpha")
	if before.PID == 0 {
		t.Fatalf("Status() = %+v, want a pid", before)
	}
	if err := syscall.Kill(before.PID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", before.PID, err)
	}
	req := request("signup", "")
	// Until the supervisor restarts it, the detector is unavailable (reported
	// from the failed call or from its state) — never an error or a timeout.
	sawUnavailable := false
	eventually(t, "detector back after kill -9", func() (bool, string) {
		got := collect(h, req, 5*time.Second)
		if len(got) != 1 {
			return false, fmt.Sprint(got)
		}
		switch got[0].Status {
		case decision.StatusUnavailable:
			sawUnavailable = true
		case decision.StatusOK:
			return sawUnavailable, fmt.Sprint(got)
		default:
			t.Errorf("Collect(%v) after kill -9 = %+v, want unavailable then ok", req.Attributes, got)
		}
		return false, fmt.Sprint(got)
	})
	after := statusOf(h, "alpha")
	if after.State != StateOK || after.Restarts < 1 || after.PID == before.PID || after.PID == 0 {
		t.Errorf("Status() after restart = %+v, want ok, restarts >= 1, a new pid (was %d)", after, before.PID)
	}
	if after.LastError != "" {
		t.Errorf("Status().LastError after recovery = %q, want empty", after.LastError)
	}
}

func TestStartFailures(t *testing.T) {
	zeros := strings.Repeat("0", 64)
	cases := []struct {
		name   string
		dc     DetectorConfig
		errHas []string
	}{
		{
			name:   "stdout garbage before handshake",
			dc:     detectorConfig("chatty", map[string]string{"mode": "garbage"}),
			errHas: []string{`detector "chatty"`, "handshake", "hello from a detector"},
		},
		{
			name:   "exits before handshake",
			dc:     detectorConfig("quitter", map[string]string{"mode": "exit"}),
			errHas: []string{`detector "quitter"`, "handshake"},
		},
		{
			name:   "sha256 mismatch",
			dc:     DetectorConfig{Name: "tampered", Path: selfPath, SHA256: zeros},
			errHas: []string{`detector "tampered"`, "not the pinned " + zeros, selfSHA256},
		},
		{
			name:   "missing binary",
			dc:     DetectorConfig{Name: "ghost", Path: filepath.Join(t.TempDir(), "nope")},
			errHas: []string{`detector "ghost"`, "no such file"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			log, _ := testLogger(t)
			h, err := New(Config{Detectors: []DetectorConfig{tc.dc}, OnFailure: OnFailureRefuse, StartTimeout: patience}, log)
			if err != nil {
				t.Fatalf("New() = %v", err)
			}
			defer h.Close()
			err = h.Start(context.Background())
			for _, want := range tc.errHas {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("Start() = %v, want an error containing %q", err, want)
				}
			}
			if got := collect(h, request("signup", ""), time.Second); len(got) != 1 || got[0].Status != decision.StatusUnavailable {
				t.Errorf("Collect() after refused start = %+v, want unavailable", got)
			}
		})
	}
}

func TestStartDegrade(t *testing.T) {
	bad := DetectorConfig{Name: "tampered", Path: selfPath, SHA256: strings.Repeat("ab", 32)}
	log, _ := testLogger(t)
	cfg := Config{
		Detectors:         []DetectorConfig{detectorConfig("alpha", nil), bad},
		OnFailure:         OnFailureDegrade,
		RestartBackoffMin: 10 * time.Millisecond, RestartBackoffMax: 50 * time.Millisecond,
	}
	h, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.Start(context.Background()); err != nil {
		t.Fatalf("Start() with on_failure=degrade = %v, want nil", err)
	}
	got := collect(h, request("signup", ""), 5*time.Second)
	if len(got) != 2 || got[0].Status != decision.StatusOK || got[1].Status != decision.StatusUnavailable ||
		!strings.Contains(got[1].Error, "pinned") {
		t.Errorf("Collect() = %+v, want alpha ok and tampered unavailable naming the pin", got)
	}
	eventually(t, "background retries counted", func() (bool, string) {
		s := statusOf(h, "tampered")
		return s.State == StateUnavailable && s.Restarts >= 2, fmt.Sprintf("%+v", s)
	})

	// A required detector refuses even in degrade mode.
	bad.Required = true
	cfg.Detectors = []DetectorConfig{detectorConfig("alpha", nil), bad}
	h2, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	if err := h2.Start(context.Background()); err == nil || !strings.Contains(err.Error(), `detector "tampered"`) {
		t.Errorf("Start() with a required detector failing = %v, want an error naming it", err)
	}
}

func TestStartRefuseJoinsErrors(t *testing.T) {
	log, _ := testLogger(t)
	h, err := New(Config{Detectors: []DetectorConfig{
		{Name: "ghost_a", Path: "/nonexistent/a"},
		detectorConfig("alpha", nil),
		{Name: "ghost_b", Path: "/nonexistent/b"},
	}, OnFailure: OnFailureRefuse}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	err = h.Start(context.Background())
	for _, want := range []string{`detector "ghost_a"`, `detector "ghost_b"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Start() = %v, want it to contain %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), `"alpha"`) {
		t.Errorf("Start() = %v, blames the healthy detector", err)
	}
}

func TestCheckpointFiltering(t *testing.T) {
	h, _ := startHost(t, Config{Detectors: []DetectorConfig{
		detectorConfig("login_only", map[string]string{"checkpoints": "login,signup"}),
		detectorConfig("everywhere", nil),
	}})
	for _, tc := range []struct {
		checkpoint string
		want       []string
	}{
		{"login", []string{"login_only", "everywhere"}},
		{"signup", []string{"login_only", "everywhere"}},
		{"withdrawal", []string{"everywhere"}},
	} {
		got := collect(h, request(tc.checkpoint, ""), 5*time.Second)
		var names []string
		for _, r := range got {
			names = append(names, r.Name)
			if r.Status != decision.StatusOK {
				t.Errorf("Collect(%s): %s status %s (%s), want ok", tc.checkpoint, r.Name, r.Status, r.Error)
			}
		}
		if !cmp.Equal(names, tc.want) {
			t.Errorf("Collect(%s) detectors = %v, want %v", tc.checkpoint, names, tc.want)
		}
	}
	if s := statusOf(h, "login_only"); !cmp.Equal(s.Checkpoints, []string{"login", "signup"}) {
		t.Errorf("Status().Checkpoints = %v, want [login signup]", s.Checkpoints)
	}
}

func TestEnvironmentIsolation(t *testing.T) {
	t.Setenv("GAVEL_SECRET_TOKEN", "hunter2")
	dataDir := t.TempDir()
	dc := detectorConfig("alpha", map[string]string{"colour": "blue"})
	h, _ := startHost(t, Config{Detectors: []DetectorConfig{dc}, DataDir: dataDir})
	got := collect(h, request("signup", "env"), 5*time.Second)
	if len(got) != 1 || got[0].Status != decision.StatusOK || len(got[0].Signals) != 1 {
		t.Fatalf("Collect(case=env) = %+v, want one ok signal", got)
	}
	s := got[0].Signals[0]
	allowed := map[string]bool{
		"PATH": true, "HOME": true, "TMPDIR": true, "LANG": true,
		"GAVEL_DETECTOR_DATA_DIR": true, "GAVEL_DETECTOR_COLOUR": true, "GAVEL_DETECTOR_PLUGIN": true,
		"PLUGIN_MIN_PORT": true, "PLUGIN_MAX_PORT": true, "PLUGIN_PROTOCOL_VERSIONS": true, "PLUGIN_CLIENT_CERT": true,
	}
	for _, name := range strings.Split(s.Value, ",") {
		if !allowed[name] {
			t.Errorf("detector sees environment variable %s, want only %v", name, allowed)
		}
	}
	if !strings.Contains(s.Value, "PLUGIN_CLIENT_CERT") {
		t.Errorf("detector environment %s lacks PLUGIN_CLIENT_CERT: AutoMTLS is off", s.Value)
	}
	want := map[string]any{"data_dir": filepath.Join(dataDir, "alpha"), "colour": "blue"}
	if diff := cmp.Diff(want, s.Evidence); diff != "" {
		t.Errorf("detector's DataDir/Env mismatch (-want +got):\n%s", diff)
	}
	if fi, err := os.Stat(filepath.Join(dataDir, "alpha")); err != nil || !fi.IsDir() {
		t.Errorf("data folder of alpha: %v, want created", err)
	}
}

func TestUnpinnedBinaryIsPinnedAtFirstStart(t *testing.T) {
	dc := detectorConfig("alpha", nil)
	dc.SHA256 = ""
	h, logs := startHost(t, Config{Detectors: []DetectorConfig{dc}})
	if s := statusOf(h, "alpha"); s.SHA256 != selfSHA256 {
		t.Errorf("Status().SHA256 = %q, want the binary's %q", s.SHA256, selfSHA256)
	}
	if !strings.Contains(logs.String(), selfSHA256) {
		t.Errorf("log does not show the computed SHA-256 %s:\n%s", selfSHA256, logs)
	}
}

func TestDetectorLogsReachHostLog(t *testing.T) {
	h, logs := startHost(t, Config{Detectors: []DetectorConfig{detectorConfig("alpha", nil)}})
	if got := collect(h, request("signup", "log"), 5*time.Second); len(got) != 1 || got[0].Status != decision.StatusOK {
		t.Fatalf("Collect(case=log) = %+v, want ok", got)
	}
	eventually(t, "detector stderr re-emitted", func() (bool, string) {
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, "detector says hello") {
				return strings.Contains(line, "level=WARN") && strings.Contains(line, "detector=alpha") &&
					strings.Contains(line, "subject=acct-42"), line
			}
		}
		return false, "no line yet"
	})
}
