package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func load(t *testing.T, args []string, environ []string, yamlText string) (*Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	Flags(fs)
	if yamlText != "" {
		path := filepath.Join(t.TempDir(), "gavel.yaml")
		if err := os.WriteFile(path, []byte(yamlText), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", path)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return Load(fs, environ)
}

func TestDefaultsAreValid(t *testing.T) {
	t.Parallel()
	cfg, err := load(t, nil, nil, "")
	if err != nil {
		t.Fatalf("Load(defaults) error = %v", err)
	}
	if cfg.Server.Listen != "127.0.0.1:8080" || cfg.Ledger.Driver != "sqlite" || cfg.Policy.Source != "embedded" {
		t.Errorf("defaults = %+v", cfg)
	}
	if !cfg.Detectors.Plugins["email"].Enabled || cfg.DetectorTimeout("email") != 250*time.Millisecond {
		t.Errorf("detectors.plugins.email = %+v, want enabled with the default 250ms timeout", cfg.Detectors.Plugins["email"])
	}
	for cp, want := range map[string]time.Duration{"default": 150 * time.Millisecond, "signup": 150 * time.Millisecond,
		"login": 100 * time.Millisecond, "withdrawal": 250 * time.Millisecond} {
		if got := cfg.Detectors.Budgets[cp]; got != want {
			t.Errorf("detectors.budgets.%s = %v, want %v", cp, got, want)
		}
	}
	if !cfg.AuthDisabled() {
		t.Error("AuthDisabled() = false with no tokens")
	}
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	yamlText := "server:\n  listen: 127.0.0.1:9000\nlog:\n  level: debug\nledger:\n  max_conns: 3\n"
	environ := []string{"GAVEL_SERVER__LISTEN=127.0.0.1:9100", "GAVEL_LEDGER__MAX_CONNS=5",
		"GAVEL_DECISION__CHECKPOINTS=signup,login", "UNRELATED=1", "GAVEL_TEST_POSTGRES_DSN=x",
		"GAVEL_ADDR=http://127.0.0.1:8080", "GAVEL_TOKEN=client-token"}
	cfg, err := load(t, []string{"--listen", "127.0.0.1:9200"}, environ, yamlText)
	if err != nil {
		t.Fatalf("Load error = %v", err)
	}
	if cfg.Server.Listen != "127.0.0.1:9200" {
		t.Errorf("server.listen = %q, want the flag's 127.0.0.1:9200", cfg.Server.Listen)
	}
	if cfg.Ledger.MaxConns != 5 {
		t.Errorf("ledger.max_conns = %d, want the environment's 5", cfg.Ledger.MaxConns)
	}
	if cfg.Log.Level != "debug" {
		t.Errorf("log.level = %q, want the file's debug", cfg.Log.Level)
	}
	if got := strings.Join(cfg.Decision.Checkpoints, ","); got != "signup,login" {
		t.Errorf("decision.checkpoints = %q, want signup,login", got)
	}
}

func TestProblemsAllReportedAndNamed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		yaml    string
		environ []string
		want    []string
	}{
		{
			name: "unknown keys",
			yaml: "server:\n  listne: x\nledgr: {}\n",
			want: []string{"listne", "ledgr"},
		},
		{
			name: "invalid values",
			yaml: "decision:\n  failure_action: maybe\nledger:\n  driver: mysql\nlog:\n  level: loud\n",
			want: []string{"decision.failure_action", "ledger.driver", "log.level"},
		},
		{
			name:    "public listener needs tokens",
			environ: []string{"GAVEL_SERVER__LISTEN=0.0.0.0:8080"},
			want:    []string{"auth.tokens"},
		},
		{
			name: "weak token and unknown role",
			yaml: "auth:\n  tokens:\n    signup:\n      secret: short\n      roles: [decide, god]\n",
			want: []string{"auth.tokens.signup.secret", `unknown role "god"`},
		},
		{
			name: "postgres without dsn",
			yaml: "ledger:\n  driver: postgres\n",
			want: []string{"ledger.dsn"},
		},
		{
			name: "bad duration",
			yaml: "decision:\n  policy_timeout: soon\n",
			want: []string{"policy_timeout"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := load(t, nil, tt.environ, tt.yaml)
			if err == nil {
				t.Fatalf("Load(%q) error = nil, want errors naming %v", tt.yaml, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load(%q) error = %q, want it to name %q", tt.yaml, err, w)
				}
			}
		})
	}
}

func TestSecretsRedacted(t *testing.T) {
	t.Parallel()
	cfg, err := load(t, nil, nil, "auth:\n  tokens:\n    signup:\n      secret: s3cr3t-s3cr3t-s3cr3t\n      roles: [decide]\nledger:\n  dsn: postgres://gavel:pw@db/gavel\n")
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.Print()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "s3cr3t") || strings.Contains(out, ":pw@") {
		t.Errorf("Print() leaks a secret:\n%s", out)
	}
	if !strings.Contains(out, "[redacted]") {
		t.Errorf("Print() = %s, want secrets shown as [redacted]", out)
	}
}

// TestDetectorDefaultTimeout: enabling a detector with only ENABLED=true
// (as the README's Python detector does) gives it detectors.default_timeout.
func TestDetectorDefaultTimeout(t *testing.T) {
	t.Parallel()
	cfg, err := load(t, nil, []string{
		"GAVEL_DETECTORS__PLUGINS__IPREPUTATION__ENABLED=true",
		"GAVEL_DETECTORS__PLUGINS__IPREPUTATION__PATH=/opt/ipreputation",
	}, "")
	if err != nil {
		t.Fatalf("Load(detector with only enabled and path) error = %v", err)
	}
	if got := cfg.DetectorTimeout("ipreputation"); got != 250*time.Millisecond {
		t.Errorf("DetectorTimeout(ipreputation) = %v, want detectors.default_timeout 250ms", got)
	}
	if got := cfg.DetectorTimeout("email"); got != 250*time.Millisecond {
		t.Errorf("DetectorTimeout(email) = %v, want detectors.default_timeout 250ms", got)
	}
	cfg, err = load(t, nil, []string{"GAVEL_DETECTORS__DEFAULT_TIMEOUT=120ms", "GAVEL_DETECTORS__PLUGINS__X__ENABLED=true"}, "")
	if err != nil || cfg.DetectorTimeout("x") != 120*time.Millisecond {
		t.Errorf("DetectorTimeout(x) with default_timeout 120ms = %v, %v", cfg.DetectorTimeout("x"), err)
	}
}

// TestWorkingDirectoryConfig: ./gavel.yaml is read when --config is not
// given, and --config wins over it.
func TestWorkingDirectoryConfig(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile(filepath.Join(dir, "gavel.yaml"), []byte("server:\n  listen: 127.0.0.1:9300\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := load(t, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != "127.0.0.1:9300" || cfg.File != "gavel.yaml" {
		t.Errorf("Load() in a folder with gavel.yaml = listen %q, file %q; want 127.0.0.1:9300 from gavel.yaml", cfg.Server.Listen, cfg.File)
	}
	cfg, err = load(t, nil, nil, "server:\n  listen: 127.0.0.1:9400\n")
	if err != nil || cfg.Server.Listen != "127.0.0.1:9400" {
		t.Errorf("Load(--config other.yaml) = %v, %v; want --config to win", cfg.Server.Listen, err)
	}
}

// TestEdgeSettings: TLS files, client certificate names, admission and the
// SQLite synchronous knob are checked, every problem named at once.
func TestEdgeSettings(t *testing.T) {
	t.Parallel()
	_, err := load(t, nil, []string{
		"GAVEL_SERVER__TLS__CERT_FILE=/nonexistent/server.crt",
		"GAVEL_SERVER__TLS__CLIENT_AUTH=sometimes",
		"GAVEL_AUTH__CLIENTS__PAYOUTS__ROLES=decide",
		"GAVEL_AUTH__TOKENS__SIGNUP__SECRET=signup-secret-00000001",
		"GAVEL_AUTH__TOKENS__SIGNUP__ROLES=decide",
		"GAVEL_AUTH__TOKENS__SIGNUP__RATE=-1",
		"GAVEL_SERVER__MAX_IN_FLIGHT=-2",
		"GAVEL_SERVER__METRICS_LISTEN=nonsense",
		"GAVEL_LEDGER__SQLITE__SYNCHRONOUS=sometimes",
		"GAVEL_LEDGER__SQLITE__COMMIT_BATCH=0",
	}, "")
	if err == nil {
		t.Fatal("Load(bad edge settings) = nil, want every problem")
	}
	for _, key := range []string{"server.tls.key_file", "server.tls.client_auth", "auth.clients", "auth.clients.payouts.common_name",
		"auth.tokens.signup.rate", "server.max_in_flight", "server.metrics_listen", "ledger.sqlite.synchronous",
		"ledger.sqlite.commit_batch"} {
		if !strings.Contains(err.Error(), key+":") {
			t.Errorf("Load(bad edge settings) = %v\nwant %s named", err, key)
		}
	}
	cfg, err := load(t, nil, []string{
		"GAVEL_AUTH__TOKENS__SIGNUP__SECRET=signup-secret-00000001",
		"GAVEL_AUTH__TOKENS__SIGNUP__ROLES=decide",
		"GAVEL_AUTH__TOKENS__SIGNUP__RATE=2.5",
		"GAVEL_LEDGER__SQLITE__SYNCHRONOUS=full",
		"GAVEL_LEDGER__SQLITE__COMMIT_BATCH=1",
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Auth.Tokens["signup"].Limit; r.Rate != 2.5 || r.BurstOrDefault() != 3 {
		t.Errorf("auth.tokens.signup rate = %+v (burst %d), want 2.5 with burst 3", r, r.BurstOrDefault())
	}
	if cfg.Ledger.SQLite.Synchronous != "full" {
		t.Errorf("ledger.sqlite.synchronous = %q, want full", cfg.Ledger.SQLite.Synchronous)
	}
	if cfg.Ledger.SQLite.CommitBatch != 1 {
		t.Errorf("ledger.sqlite.commit_batch = %d, want 1", cfg.Ledger.SQLite.CommitBatch)
	}
	out, err := cfg.Print()
	if err != nil || !strings.Contains(out, "rate: 2.5") || strings.Contains(out, "squash") {
		t.Errorf("Print() = %s, %v; want the token's rate among its keys", out, err)
	}
}

// TestDetectorBudgets: per-checkpoint budgets merge over the defaults from
// the environment, and each must be positive and within
// decision.signal_timeout.
func TestDetectorBudgets(t *testing.T) {
	t.Parallel()
	cfg, err := load(t, nil, []string{"GAVEL_DETECTORS__BUDGETS__SIGNUP=200ms"}, "")
	if err != nil {
		t.Fatalf("Load(budgets.signup=200ms) error = %v", err)
	}
	if cfg.Detectors.Budgets["signup"] != 200*time.Millisecond || cfg.Detectors.Budgets["withdrawal"] != 250*time.Millisecond {
		t.Errorf("budgets = %v, want signup 200ms over the defaults", cfg.Detectors.Budgets)
	}
	_, err = load(t, nil, []string{"GAVEL_DETECTORS__BUDGETS__SIGNUP=0s", "GAVEL_DETECTORS__BUDGETS__WITHDRAWAL=2s"}, "")
	if err == nil || !strings.Contains(err.Error(), "detectors.budgets.signup") || !strings.Contains(err.Error(), "detectors.budgets.withdrawal") {
		t.Errorf("Load(zero budget, budget over signal_timeout) = %v, want both keys named", err)
	}
}

// TestPprofNeedsTheSidePort: server.pprof serves only on
// server.metrics_listen, never on the main port, so it needs one.
func TestPprofNeedsTheSidePort(t *testing.T) {
	t.Parallel()
	_, err := load(t, nil, []string{"GAVEL_SERVER__PPROF=true"}, "")
	if err == nil || !strings.Contains(err.Error(), "server.pprof:") {
		t.Errorf("Load(server.pprof without server.metrics_listen) = %v, want server.pprof named", err)
	}
	cfg, err := load(t, nil, []string{"GAVEL_SERVER__PPROF=true", "GAVEL_SERVER__METRICS_LISTEN=127.0.0.1:9464"}, "")
	if err != nil || !cfg.Server.Pprof {
		t.Errorf("Load(server.pprof with server.metrics_listen) = %v, pprof %v; want it on", err, cfg != nil && cfg.Server.Pprof)
	}
}
