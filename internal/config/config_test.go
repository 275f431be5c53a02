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
	if !cfg.Detectors.Plugins["email"].Enabled || cfg.Detectors.Plugins["email"].Timeout != 50*time.Millisecond {
		t.Errorf("detectors.plugins.email = %+v, want enabled with 50ms timeout", cfg.Detectors.Plugins["email"])
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
