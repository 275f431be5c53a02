package decision

import "time"

// Reason is one rule that fired. Code and Action come from the policy; the
// texts are joined from the reason catalog when the bundle is activated.
type Reason struct {
	Code        string `json:"code"`
	Action      Action `json:"action"`
	Title       string `json:"title,omitempty"`
	Message     string `json:"message,omitempty"`     // safe to show the account holder
	Explanation string `json:"explanation,omitempty"` // for reviewers
	Ground      string `json:"ground,omitempty"`      // contractual ground
	// DSACategory and DSAKeyword classify the reason for statements of
	// reasons (DSA Transparency Database category and specification).
	DSACategory string           `json:"dsa_category,omitempty"`
	DSAKeyword  string           `json:"dsa_keyword,omitempty"`
	Evidence    []map[string]any `json:"evidence,omitempty"`
	Rule        string           `json:"rule,omitempty"` // policy rule that produced the reason
	Appealable  bool             `json:"appealable"`
}

// Restriction holds one capability. Duration zero means until lifted. A
// restriction with a DecisionID is a hold already in force, placed by that
// decision until Until (zero: until lifted): the verdict re-asserts it and
// the ledger places no new hold for it.
type Restriction struct {
	Capability string        `json:"capability"`
	Duration   time.Duration `json:"duration,omitempty"`
	Until      time.Time     `json:"until,omitzero"`
	DecisionID string        `json:"decision_id,omitempty"`
}

// InForce reports whether the restriction re-asserts a hold in force
// rather than placing a new one.
func (r *Restriction) InForce() bool { return r.DecisionID != "" }

// Remedy is what the account holder can do to lift the enforcement.
type Remedy struct {
	Code       string `json:"code"`
	Checkpoint string `json:"checkpoint,omitempty"`
	Message    string `json:"message,omitempty"`
}

// Verdict is the policy's answer, with catalog texts joined in.
type Verdict struct {
	Action         Action        `json:"action"`
	Restrictions   []Restriction `json:"restrictions,omitempty"`
	Reasons        []Reason      `json:"reasons,omitempty"`
	Remedy         *Remedy       `json:"remedy,omitempty"`
	Duration       time.Duration `json:"duration,omitempty"`
	Strike         bool          `json:"strike"`
	BundleRevision string        `json:"bundle_revision,omitempty"`
	// Suppressed are the reasons an earlier overturn cleared.
	Suppressed []Suppressed `json:"suppressed,omitempty"`
	// Review is set when the policy sends the decision to the review
	// queue: the ledger opens a case with it.
	Review *Review `json:"review,omitempty"`
}

// Review is the policy asking a human to look at a decision: the reason
// codes the catalog marks for review, and how soon (the tightest SLA among
// them; zero: the configured default).
type Review struct {
	Codes []string      `json:"codes"`
	SLA   time.Duration `json:"sla,omitempty"`
}

// Appealable reports whether the account holder may appeal the verdict: it
// took something away (a hold, a suspension or a strike) on grounds the
// catalog marks appealable.
func (v *Verdict) Appealable() bool {
	if v.Action < Restrict && !v.Strike {
		return false
	}
	for _, r := range v.Reasons {
		if r.Appealable {
			return true
		}
	}
	return false
}

// ReasonPolicyUnavailable is the reason recorded when the policy could not
// decide and the configured failure action was applied.
const ReasonPolicyUnavailable = "POLICY_UNAVAILABLE"
