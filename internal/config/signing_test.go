package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSigningDefaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pub := filepath.Join(dir, "pub.pem")
	if err := os.WriteFile(pub, []byte("-----BEGIN PUBLIC KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key := []string{"GAVEL_POLICY__SIGNING__KEY_ID=release", "GAVEL_POLICY__SIGNING__PUBLIC_KEY_FILE=" + pub}
	for _, tc := range []struct {
		name     string
		env      []string
		required bool
		problem  string // empty: valid
	}{
		{"embedded is development", nil, false, ""},
		{"a folder is development", []string{"GAVEL_POLICY__SOURCE=" + dir}, false, ""},
		{"a file:// folder is development", []string{"GAVEL_POLICY__SOURCE=file://" + dir}, false, ""},
		{"a tarball needs a key", []string{"GAVEL_POLICY__SOURCE=file:///srv/gavel.tar.gz"}, true, "signatures are required"},
		{"a bundle server needs a key", []string{"GAVEL_POLICY__SOURCE=https://bundles.example.com/gavel.tar.gz"}, true, "signatures are required"},
		{"a tarball with a key", append([]string{"GAVEL_POLICY__SOURCE=file:///srv/gavel.tar.gz"}, key...), true, ""},
		{"a bundle server, opted out", []string{"GAVEL_POLICY__SOURCE=https://b.example.com/g.tar.gz", "GAVEL_POLICY__SIGNING__REQUIRED=false"}, false, ""},
		{"a folder, opted in with a key", append([]string{"GAVEL_POLICY__SOURCE=" + dir, "GAVEL_POLICY__SIGNING__REQUIRED=true"}, key...), true, ""},
		{"required without a key", []string{"GAVEL_POLICY__SIGNING__REQUIRED=true"}, true, "required is true but no key"},
		{"a key without an id", []string{"GAVEL_POLICY__SIGNING__PUBLIC_KEY=secret", "GAVEL_POLICY__SIGNING__ALGORITHM=HS256"}, false, "policy.signing.key_id"},
		{"both key forms", append([]string{"GAVEL_POLICY__SIGNING__PUBLIC_KEY=x"}, key...), false, "not both"},
		{"a missing key file", []string{"GAVEL_POLICY__SIGNING__KEY_ID=k", "GAVEL_POLICY__SIGNING__PUBLIC_KEY_FILE=" + filepath.Join(dir, "nope.pem")}, false, "public_key_file"},
		{"an unknown algorithm", append([]string{"GAVEL_POLICY__SIGNING__ALGORITHM=RS1"}, key...), false, "policy.signing.algorithm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := load(t, nil, tc.env, "")
			if tc.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tc.problem) {
					t.Fatalf("Load(%v) error = %v, want one mentioning %q", tc.env, err, tc.problem)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load(%v) error = %v", tc.env, err)
			}
			if got := cfg.Policy.SigningRequired(); got != tc.required {
				t.Errorf("SigningRequired() = %v, want %v", got, tc.required)
			}
			if cfg.Policy.Signing.Required == nil || *cfg.Policy.Signing.Required != tc.required {
				t.Errorf("policy.signing.required after Load = %v, want %v filled in", cfg.Policy.Signing.Required, tc.required)
			}
		})
	}
}
