package bundles

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
)

// policiesDir is gavel's real enforcement policy bundle.
var policiesDir = filepath.Join("..", "policies")

func requirePolicies(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(policiesDir, ".manifest")); err != nil {
		t.Fatalf("the policy bundle is missing: want %s/.manifest (policies/ is gavel's Rego bundle): %v", policiesDir, err)
	}
}

// TestPolicies runs the wiring against the real bundle: it loads, its
// catalog joins, and two obvious cases come out as they must. The policy
// logic itself is tested in Rego next to the policy.
func TestPolicies(t *testing.T) {
	t.Parallel()
	requirePolicies(t)
	e := startEngine(t, Config{Source: policiesDir})

	clean, err := e.Evaluate(t.Context(), signupInput(nil, nil))
	if err != nil {
		t.Fatalf("Evaluate(clean signup) error = %v", err)
	}
	if clean.Action != decision.Allow {
		t.Errorf("Evaluate(clean signup) = %v with reasons %+v, want allow", clean.Action, clean.Reasons)
	}

	bad, err := e.Evaluate(t.Context(), signupInput(disposable(), nil))
	if err != nil {
		t.Fatalf("Evaluate(email.disposable signup) error = %v", err)
	}
	if bad.Action <= decision.Allow || len(bad.Reasons) == 0 {
		t.Fatalf("Evaluate(email.disposable signup) = %+v, want more than allow, with reasons", bad)
	}
	for _, r := range bad.Reasons {
		if r.Title == "" || r.Message == "" {
			t.Errorf("reason %s has no catalog texts: %+v", r.Code, r)
		}
	}
	if bad.BundleRevision == "" || bad.BundleRevision != currentStatus(e).Revision {
		t.Errorf("verdict revision %q, status revision %q: want the same, non-empty", bad.BundleRevision, currentStatus(e).Revision)
	}
	if bad.Review != nil {
		t.Errorf("Evaluate(email.disposable signup).Review = %+v, want none (EMAIL_DISPOSABLE is not marked for review)", bad.Review)
	}

	// MODEL_RISK is marked for review in the catalog: a challenge on it
	// carries the review member, with the catalog's SLA.
	model := []decision.Signal{{Name: "model.fraud_score", Score: 0.8, Confidence: 1, Source: "model"}}
	risky, err := e.Evaluate(t.Context(), signupInput(model, nil))
	if err != nil {
		t.Fatalf("Evaluate(model.fraud_score 0.8 signup) error = %v", err)
	}
	if risky.Action != decision.Challenge || risky.Review == nil ||
		!slices.Equal(risky.Review.Codes, []string{"MODEL_RISK"}) || risky.Review.SLA != 24*time.Hour {
		t.Errorf("Evaluate(model.fraud_score 0.8 signup) = %v, review %+v; want challenge, review {[MODEL_RISK] 24h}", risky.Action, risky.Review)
	}
}
