package host

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// inProcessConfig runs testDetector (main_test.go), the same code the
// plugin tests run as a process, inside the test process.
func inProcessConfig(name string, closed *atomic.Int64) DetectorConfig {
	return DetectorConfig{Name: name, Timeout: 5 * time.Second,
		Open: func(context.Context, func(string, string) string, string) (InProcess, io.Closer, error) {
			return testDetector{}, closerFunc(func() error { closed.Add(1); return nil }), nil
		}}
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// The guarantees of a plugin hold in process: a panic, an error or garbage
// is that detector's error status, a hang is its timeout at the deadline,
// and gavel (here the test process) keeps answering.
func TestInProcessFailuresStayTheDetectors(t *testing.T) {
	var closed atomic.Int64
	dc := inProcessConfig("alpha", &closed)
	dc.Timeout = 300 * time.Millisecond
	h, logs := startHost(t, Config{Detectors: []DetectorConfig{dc}, BreakerFailures: 100})
	for _, tc := range []struct {
		c       string
		status  decision.DetectorStatus
		signals int
		errHas  string
	}{
		{c: "ok", status: decision.StatusOK, signals: 1},
		{c: "panic", status: decision.StatusError, errHas: "Detect panicked: detector bug"},
		{c: "hang", status: decision.StatusTimeout, errHas: "no answer within"},
		{c: "error", status: decision.StatusError, errHas: "store unreachable"},
		{c: "nan", status: decision.StatusError, errHas: "score NaN"},
		{c: "undeclared", status: decision.StatusError, errHas: `"test.undeclared" was not declared`},
		{c: "evidence_deep", status: decision.StatusError, errHas: "deeper than 8"},
		{c: "evidence_big", status: decision.StatusError, errHas: "more than the 16384 allowed"},
		{c: "toomany", status: decision.StatusError, errHas: "65 signals"},
		{c: "none", status: decision.StatusOK},
	} {
		t.Run(tc.c, func(t *testing.T) {
			start := time.Now()
			got := collect(h, request("signup", tc.c), 5*time.Second)
			if len(got) != 1 || got[0].Status != tc.status || len(got[0].Signals) != tc.signals ||
				!strings.Contains(got[0].Error, tc.errHas) {
				t.Errorf("Collect(case=%s) = %+v, want status %s with %d signals and error containing %q",
					tc.c, got, tc.status, tc.signals, tc.errHas)
			}
			if el := time.Since(start); el > 4*time.Second {
				t.Errorf("Collect(case=%s) took %v, want the detector abandoned at its 300ms deadline", tc.c, el)
			}
		})
	}
	if !strings.Contains(logs.String(), "in-process detector panicked") || !strings.Contains(logs.String(), "detector=alpha") {
		t.Errorf("log does not report the panic with the detector's name:\n%s", logs)
	}
	s := statusOf(h, "alpha")
	if s.State != StateOK || s.Mode != ModeInProcess || s.PID != 0 || s.Version != "1.2.3" {
		t.Errorf("Status() = %+v, want ok, in process, no pid, version 1.2.3", s)
	}
	if p := h.Ping(context.Background()); len(p) != 1 || p[0].State != StateOK || p[0].PingError != "" {
		t.Errorf("Ping() = %+v, want one ok detector", p)
	}
	h.Close()
	if closed.Load() != 1 {
		t.Errorf("in-process detector closed %d times at Close, want once", closed.Load())
	}
}

// A detector that fails to construct, or panics in Describe, is unavailable
// and retried, as a binary that fails to start.
func TestInProcessStartFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		open   Opener
		errHas string
	}{
		{"open fails", func(context.Context, func(string, string) string, string) (InProcess, io.Closer, error) {
			return nil, nil, errors.New("store locked")
		}, "in process: store locked"},
		{"describe panics", func(context.Context, func(string, string) string, string) (InProcess, io.Closer, error) {
			return panicky{}, nil, nil
		}, "Describe panicked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := New(Config{Detectors: []DetectorConfig{{Name: "beta", Open: tc.open}}, OnFailure: OnFailureRefuse}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			err = h.Start(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.errHas) || !strings.Contains(err.Error(), `"beta"`) {
				t.Errorf("Start() = %v, want an error naming beta and containing %q", err, tc.errHas)
			}
		})
	}
}

type panicky struct{ testDetector }

func (panicky) Describe(context.Context) (*detectorv1.DescribeResponse, error) {
	panic("no description")
}

// The detector's configured env and data folder reach its constructor.
func TestInProcessEnvAndDataDir(t *testing.T) {
	dir := t.TempDir()
	var gotEnv, gotDir string
	dc := DetectorConfig{Name: "gamma", Env: map[string]string{"colour": "blue"},
		Open: func(_ context.Context, env func(string, string) string, dataDir string) (InProcess, io.Closer, error) {
			gotEnv, gotDir = env("COLOUR", "none")+","+env("SHAPE", "round"), dataDir
			return testDetector{}, nil, nil
		}}
	startHost(t, Config{Detectors: []DetectorConfig{dc}, DataDir: dir})
	if gotEnv != "blue,round" || gotDir != dir+"/gamma" {
		t.Errorf("Open saw env %q and data folder %q, want %q and %q", gotEnv, gotDir, "blue,round", dir+"/gamma")
	}
}
