package bundles

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/open-policy-agent/opa/v1/bundle"
)

// FuzzReadBundle feeds arbitrary bytes to gavel's bundle reader as a
// tarball: anything that is not a bundle is an error, never a panic.
func FuzzReadBundle(f *testing.F) {
	var good bytes.Buffer
	b := bundle.Bundle{
		Manifest: bundle.Manifest{Revision: "fuzz", Roots: &[]string{"gavel"}},
		Data:     map[string]any{"gavel": map[string]any{"catalog": map[string]any{}}},
		Modules: []bundle.ModuleFile{{
			URL: "/gavel/x.rego", Path: "/gavel/x.rego",
			Raw: []byte("package gavel.x\n\nallow := true\n"),
		}},
	}
	if err := bundle.NewWriter(&good).Write(b); err != nil {
		f.Fatal(err)
	}
	f.Add(good.Bytes())
	f.Add([]byte("not a tarball"))
	f.Add([]byte{0x1f, 0x8b, 0x08, 0x00})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "bundle.tar.gz")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, _ = ReadBundle(path, nil)
	})
}
