package bundles

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gavel/gavel/decision"
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

func TestParseReview(t *testing.T) {
	t.Parallel()
	reasons := []decision.Reason{{Code: "MODEL_RISK"}, {Code: "EMAIL_DISPOSABLE"}}
	for _, tc := range []struct {
		name string
		raw  any
		want *decision.Review
		err  string
	}{
		{"null", nil, nil, ""},
		{"codes and sla", map[string]any{"codes": []any{"MODEL_RISK"}, "sla": "12h"}, &decision.Review{Codes: []string{"MODEL_RISK"}, SLA: 12 * time.Hour}, ""},
		{"no sla", map[string]any{"codes": []any{"MODEL_RISK"}}, &decision.Review{Codes: []string{"MODEL_RISK"}}, ""},
		{"not an object", "yes", nil, "want an object or null, got string"},
		{"no codes", map[string]any{"sla": "1h"}, nil, "codes: want a non-empty array"},
		{"code not a reason", map[string]any{"codes": []any{"DOCUMENT_REUSED"}}, nil, `codes[0]: "DOCUMENT_REUSED" is not one of the decision's reasons`},
		{"bad sla", map[string]any{"codes": []any{"MODEL_RISK"}, "sla": "soon"}, nil, "sla: "},
		{"negative sla", map[string]any{"codes": []any{"MODEL_RISK"}, "sla": "-1h"}, nil, "sla: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseReview(tc.raw, reasons)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parseReview(%v) error = %v, want one containing %q", tc.raw, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseReview(%v) error = %v", tc.raw, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parseReview(%v) mismatch (-want +got):\n%s", tc.raw, diff)
			}
		})
	}
}
