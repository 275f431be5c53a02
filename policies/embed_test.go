package policies

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestWriteBundle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := WriteBundle(dir); err != nil {
		t.Fatalf("WriteBundle() = %v", err)
	}
	var rego, tests int
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch {
		case strings.HasSuffix(path, "_test.rego"), strings.Contains(path, "testdata"):
			tests++
		case strings.HasSuffix(path, ".rego"):
			rego++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rego == 0 || tests != 0 {
		t.Errorf("WriteBundle() wrote %d policy files and %d test files, want some and none", rego, tests)
	}
	if _, err := os.Stat(filepath.Join(dir, "gavel", "catalog", "data.json")); err != nil {
		t.Errorf("reason catalog missing from the bundle: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ".manifest"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Revision string   `json:"revision"`
		Roots    []string `json:"roots"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`\+[0-9a-f]{12}$`).MatchString(m.Revision) || len(m.Roots) == 0 {
		t.Errorf(".manifest = %s, want roots and a revision ending in +<content hash>", b)
	}

	// The same content gives the same revision.
	dir2 := t.TempDir()
	if err := WriteBundle(dir2); err != nil {
		t.Fatal(err)
	}
	b2, _ := os.ReadFile(filepath.Join(dir2, ".manifest"))
	if string(b) != string(b2) {
		t.Errorf("WriteBundle() twice gave manifests %s and %s, want the same", b, b2)
	}
}

func TestInputSchema(t *testing.T) {
	t.Parallel()
	onDisk, err := os.ReadFile("input.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	got := InputSchema()
	if string(got) != string(onDisk) {
		t.Fatalf("InputSchema() differs from input.schema.json (%d bytes, want %d)", len(got), len(onDisk))
	}
	var doc struct {
		Type       string         `json:"type"`
		Properties map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(got, &doc); err != nil || doc.Type != "object" || doc.Properties["subject"] == nil {
		t.Errorf("InputSchema() = type %q, %d properties, %v; want an object schema with subject", doc.Type, len(doc.Properties), err)
	}
	got[0] = 'x'
	if InputSchema()[0] == 'x' {
		t.Error("InputSchema() shares its bytes between callers")
	}
}
