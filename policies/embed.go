// Package policies holds gavel's Rego enforcement policies, their tests, the
// reason catalog and the input schema. The folder is an OPA bundle; this Go
// package compiles it into gavel so the binary serves its own policies when
// configured with policy.source "embedded".
package policies

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

//go:embed *
var files embed.FS

// bundleFile reports whether a file belongs in the served bundle: Rego
// (without tests), data files and the manifest.
func bundleFile(name string) bool {
	base := path.Base(name)
	switch {
	case strings.HasPrefix(name, "testdata/"):
		return false
	case base == ".manifest", base == "data.json", base == "data.yaml":
		return true
	case strings.HasSuffix(base, ".rego"):
		return !strings.HasSuffix(base, "_test.rego")
	}
	return false
}

// WriteBundle writes the embedded bundle into dir, replacing what was there.
func WriteBundle(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clear %s: %w", dir, err)
	}
	return fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !bundleFile(name) {
			return err
		}
		b, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
}
