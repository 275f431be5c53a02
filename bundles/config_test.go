package bundles

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want []string // each must appear in the error; none means valid
	}{
		{"folder", Config{Source: "testdata/fixture"}, nil},
		{"file url", Config{Source: "file:///srv/gavel/bundle.tar.gz"}, nil},
		{"https", Config{Source: "https://bundles.example.com/gavel/bundle.tar.gz", Polling: Polling{Min: 5 * time.Second, Max: 30 * time.Second, LongPollTimeout: 20 * time.Second}}, nil},
		{"signed", Config{Source: "x", Signing: &Signing{KeyID: "k", PublicKey: "secret", Algorithm: "HS256", Required: true}}, nil},
		{"everything wrong", Config{
			Name:       "../etc",
			Role:       "primary",
			Entrypoint: "input.x",
			Polling:    Polling{Min: 100 * time.Millisecond, Max: 50 * time.Millisecond},
			Signing:    &Signing{Algorithm: "none"},
		}, []string{
			"bundle name", "bundle role", "bundle source is required", "entry point", "polling min",
			"polling max", "key id is required", "public key", `algorithm "none"`,
		}},
		{"input schema", Config{Source: "x", InputSchema: []byte(`{"type": "object", "properties": {"subject": {"type": "object"}}}`)}, nil},
		{"input schema not JSON", Config{Source: "x", InputSchema: []byte(`{"type": "object",`)}, []string{"input schema"}},
		{"input schema not an object", Config{Source: "x", InputSchema: []byte(`["type"]`)}, []string{"input schema: want a JSON object"}},
		{"relative file url", Config{Source: "file://relative/path"}, []string{"want file:///absolute/path"}},
		{"ftp", Config{Source: "ftp://host/b.tar.gz"}, []string{`scheme "ftp" not supported`}},
		{"http without path", Config{Source: "http://host/"}, []string{"no bundle path"}},
		{"long poll on a folder", Config{Source: "dir", Polling: Polling{LongPollTimeout: time.Minute}}, []string{"long polling needs an HTTP source"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v, want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestOPAConfig(t *testing.T) {
	t.Parallel()
	cfg := Config{
		Source:     "https://bundles.example.com/v1/gavel.tar.gz?env=prod",
		PersistDir: "/var/lib/gavel/opa",
		Polling:    Polling{Min: 1500 * time.Millisecond, Max: 10 * time.Second, LongPollTimeout: 30 * time.Second},
		Signing:    &Signing{KeyID: "release", PublicKey: "PEM", Required: true, Scope: "write"},
	}.withDefaults()
	src, err := parseSource(cfg.Source)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := cfg.opaConfig(src)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"services":              map[string]any{"bundle_server": map[string]any{"url": "https://bundles.example.com"}},
		"persistence_directory": "/var/lib/gavel/opa",
		"keys":                  map[string]any{"release": map[string]any{"key": "PEM", "algorithm": "RS256", "scope": "write"}},
		"bundles": map[string]any{"gavel": map[string]any{
			"service":  "bundle_server",
			"resource": "v1/gavel.tar.gz?env=prod",
			"trigger":  "periodic",
			"persist":  true,
			"polling":  map[string]any{"min_delay_seconds": 2.0, "max_delay_seconds": 10.0, "long_polling_timeout_seconds": 30.0},
			"signing":  map[string]any{"scope": "write"},
		}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("opaConfig() mismatch (-want +got):\n%s", diff)
	}

	local, _ := parseSource("/srv/my bundle")
	raw, _ = Config{Source: "/srv/my bundle"}.withDefaults().opaConfig(local)
	if !strings.Contains(string(raw), `"resource":"file:///srv/my%20bundle"`) || strings.Contains(string(raw), "services") {
		t.Errorf("opaConfig(folder) = %s, want a file:// resource and no service", raw)
	}
}
