package decision_test

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/policies"
)

type schemaNode struct {
	Required   []string              `json:"required"`
	Properties map[string]schemaNode `json:"properties"`
}

// TestVocabularyMatchesTheInputSchema: the attribute keys Validate accepts
// under document and payout are exactly those policies/input.schema.json
// lists, and Input builds every top-level key the schema requires.
func TestVocabularyMatchesTheInputSchema(t *testing.T) {
	t.Parallel()
	var schema schemaNode
	if err := json.Unmarshal(policies.InputSchema(), &schema); err != nil {
		t.Fatal(err)
	}
	attrs := schema.Properties["attributes"].Properties
	for obj, keys := range decision.AttributeVocabulary {
		got := slices.Sorted(maps.Keys(attrs[obj].Properties))
		want := slices.Sorted(slices.Values(keys))
		if !slices.Equal(got, want) {
			t.Errorf("input.schema.json attributes.%s lists %v; decision.AttributeVocabulary has %v", obj, got, want)
		}
	}
	if len(decision.AttributeVocabulary) != 2 {
		t.Errorf("AttributeVocabulary has %d objects; this test and the schema know document and payout", len(decision.AttributeVocabulary))
	}

	in := decision.Input(&decision.Request{RequestID: "r", Checkpoint: "signup"}, nil, nil, decision.History{}, time.Now())
	for _, k := range schema.Required {
		if _, ok := in[k]; !ok {
			t.Errorf("Input() has no %q; the schema requires it", k)
		}
	}
	for k := range in {
		if _, ok := schema.Properties[k]; !ok {
			t.Errorf("Input() builds %q; the schema does not describe it", k)
		}
	}
}
