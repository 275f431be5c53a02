package host

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestConfigValidateListsEveryProblem(t *testing.T) {
	cfg := Config{
		OnFailure:         "panic",
		RestartBackoffMin: 2, RestartBackoffMax: 1,
		Detectors: []DetectorConfig{
			{Name: "Email", Path: "/bin/x"},
			{Name: "velocity", SHA256: "abc"},
			{Name: "velocity", Path: "/bin/y", Env: map[string]string{"data_dir": "x", "bad-key": "y"}},
		},
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate() = nil, want errors")
	}
	for _, want := range []string{
		`on_failure "panic"`,
		"backoff min",
		`detector "Email": name must be`,
		`detector "velocity": path is required`,
		`detector "velocity": sha256 must be 64 hexadecimal digits`,
		`detector "velocity": configured twice`,
		`env key "data_dir" is reserved`,
		`env key "bad-key"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v\nwant it to contain %q", err, want)
		}
	}
	if _, err := New(cfg, nil); err == nil {
		t.Error("New(invalid config) = nil error, want the validation errors")
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("Validate(no detectors) = %v, want nil", err)
	}
}

func TestHCLogBridge(t *testing.T) {
	log, buf := testLogger(t)
	hl := newHCLogger(log.With("detector", "alpha")).Named("email").With("pid", 7)
	hl.Warn("from plugin", "k", "v")
	hl.Trace("too fine") // below the handler's level
	hl.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Error}).Print("std line")
	out := buf.String()
	for _, want := range []string{
		`level=WARN msg="from plugin" detector=alpha logger=email pid=7 k=v`,
		`level=ERROR msg="std line" detector=alpha logger=email`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("bridged log = %q, want a line containing %q", out, want)
		}
	}
	if strings.Contains(out, "too fine") {
		t.Errorf("bridged log = %q, want trace dropped at debug level", out)
	}
	if got := hl.GetLevel(); got != hclog.Debug {
		t.Errorf("GetLevel() = %v, want debug (the slog handler's level)", got)
	}
	if !log.Enabled(context.Background(), slog.LevelDebug) {
		t.Fatal("test logger should enable debug")
	}
}
