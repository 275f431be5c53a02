// Package policies holds gavel's Rego enforcement policies, their tests, the
// reason catalog and the input schema. The folder is an OPA bundle; this Go
// package compiles it into gavel so the binary serves its own policies when
// configured with policy.source "embedded".
package policies

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed *
var files embed.FS

// InputSchema is the JSON schema of the input document that decision.Input
// builds: gavel's contract with every policy it serves. The bundle engine
// type-checks each bundle it activates against it. The caller owns the
// returned bytes.
func InputSchema() []byte {
	b, err := files.ReadFile("input.schema.json")
	if err != nil {
		panic(fmt.Sprintf("policies: embedded input schema: %v", err)) // the embed pattern covers it
	}
	return b
}

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
// The manifest's revision gets the bundle's content hash appended
// ("dev+1a2b3c4d5e6f"), so every decision names the exact policy text that
// made it.
func WriteBundle(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clear %s: %w", dir, err)
	}
	contents := map[string][]byte{}
	var names []string
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !bundleFile(name) {
			return err
		}
		b, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		contents[name] = b
		names = append(names, name)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(names)
	h := sha256.New()
	for _, name := range names {
		if name != ".manifest" {
			fmt.Fprintf(h, "%s\x00%d\x00", name, len(contents[name]))
			h.Write(contents[name])
		}
	}
	var manifest map[string]any
	if err := json.Unmarshal(contents[".manifest"], &manifest); err != nil {
		return fmt.Errorf("embedded .manifest: %w", err)
	}
	rev, _ := manifest["revision"].(string)
	manifest["revision"] = rev + "+" + hex.EncodeToString(h.Sum(nil))[:12]
	if contents[".manifest"], err = json.Marshal(manifest); err != nil {
		return err
	}
	for _, name := range names {
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, contents[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}
