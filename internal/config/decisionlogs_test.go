package config

import (
	"strings"
	"testing"
	"time"
)

func TestDecisionLogs(t *testing.T) {
	t.Parallel()
	cfg, err := load(t, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	want := DecisionLogsConfig{Path: "/logs", BufferEvents: 10000, MinDelay: 5 * time.Second, MaxDelay: 30 * time.Second}
	if cfg.DecisionLogs != want || cfg.DecisionLogs.Enabled() {
		t.Errorf("decision_logs defaults = %+v (enabled %v), want %+v, off", cfg.DecisionLogs, cfg.DecisionLogs.Enabled(), want)
	}

	cfg, err = load(t, nil, []string{
		"GAVEL_DECISION_LOGS__URL=https://logs.example.com", "GAVEL_DECISION_LOGS__TOKEN=collector-s3cr3t",
		"GAVEL_DECISION_LOGS__MIN_DELAY=1s", "GAVEL_DECISION_LOGS__MAX_DELAY=2s",
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.DecisionLogs
	if !d.Enabled() || d.URL != "https://logs.example.com" || d.Token != "collector-s3cr3t" || d.MinDelay != time.Second || d.MaxDelay != 2*time.Second {
		t.Errorf("decision_logs from the environment = %+v", d)
	}
	out, err := cfg.Print()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "collector-s3cr3t") {
		t.Errorf("Print() leaks decision_logs.token:\n%s", out)
	}

	_, err = load(t, nil, nil, "decision_logs:\n  url: ftp://logs\n  path: logs\n  buffer_events: 0\n  min_delay: 100ms\n  max_delay: 50ms\n")
	for _, key := range []string{"decision_logs.url", "decision_logs.path", "decision_logs.buffer_events", "decision_logs.min_delay", "decision_logs.max_delay"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("Load(bad decision_logs) error = %v, want it to name %s", err, key)
		}
	}
	_, err = load(t, nil, nil, "decision_logs:\n  token: orphan-token\n")
	if err == nil || !strings.Contains(err.Error(), "decision_logs.token") {
		t.Errorf("Load(token without url) error = %v, want it to name decision_logs.token", err)
	}
}
