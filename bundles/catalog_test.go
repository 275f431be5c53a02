package bundles

import (
	"strings"
	"testing"
)

func TestReadCatalog(t *testing.T) {
	t.Parallel()
	reason := map[string]any{"title": "T", "message": "M", "appealable": true}
	tests := []struct {
		name string
		data map[string]any
		want string
	}{
		{"valid", map[string]any{"gavel": map[string]any{"catalog": map[string]any{"reasons": map[string]any{"A": reason}}}}, ""},
		{"missing", map[string]any{"gavel": map[string]any{}}, "data.gavel.catalog is missing"},
		{"not an object", map[string]any{"gavel": map[string]any{"catalog": []any{}}}, "want an object, got array"},
		{"no reasons", map[string]any{"gavel": map[string]any{"catalog": map[string]any{"reasons": map[string]any{}}}}, "want a non-empty object"},
		{"reason without message", map[string]any{"gavel": map[string]any{"catalog": map[string]any{"reasons": map[string]any{
			"A": map[string]any{"title": "T", "appealable": false},
		}}}}, `reason "A": message is missing`},
		{"appealable not a boolean", map[string]any{"gavel": map[string]any{"catalog": map[string]any{"reasons": map[string]any{
			"A": map[string]any{"title": "T", "message": "M", "appealable": "no"},
		}}}}, "appealable: want a boolean, got string"},
		{"remedy without message", map[string]any{"gavel": map[string]any{"catalog": map[string]any{
			"reasons":  map[string]any{"A": reason},
			"remedies": map[string]any{"verify_identity": map[string]any{"checkpoint": "x"}},
		}}}, `remedy "verify_identity": message is missing`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := readCatalog(tt.data)
			if tt.want == "" {
				if err != nil || c.reasons["A"].Title != "T" || !c.reasons["A"].Appealable {
					t.Errorf("readCatalog() = %+v, %v; want reason A", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("readCatalog() error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
