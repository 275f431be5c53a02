package decision

import (
	"errors"
	"time"
)

// ErrNotFound is returned by a Ledger for an unknown decision.
var ErrNotFound = errors.New("not found")

// Record is a decision as made and as stored in the ledger.
type Record struct {
	DecisionID string           `json:"decision_id"`
	RequestID  string           `json:"request_id"`
	SubjectID  string           `json:"subject_id"`
	Checkpoint string           `json:"checkpoint"`
	DecidedAt  time.Time        `json:"decided_at"`
	Input      map[string]any   `json:"input"`
	Signals    []Signal         `json:"signals,omitempty"`
	Detectors  []DetectorResult `json:"detectors,omitempty"`
	Verdict    Verdict          `json:"verdict"`
	// Fallback is set when the policy could not decide and the configured
	// failure action was applied; Cause says why, for operators.
	Fallback bool          `json:"fallback,omitempty"`
	Cause    string        `json:"cause,omitempty"`
	DryRun   bool          `json:"dry_run,omitempty"`
	Latency  time.Duration `json:"latency"`
	// Source is SourceManual for a reviewer's action (Manual says which);
	// empty or SourcePolicy for a decision of the policy.
	Source string  `json:"source,omitempty"`
	Manual *Manual `json:"manual,omitempty"`
	// Replayed is set on a record returned for a retried request id. It is
	// not stored.
	Replayed bool `json:"-"`
	// Overturned, AppealID and AppealStatus are what became of the decision
	// later: whether an appeal overturned it, and its latest appeal ("open",
	// "upheld" or "overturned"). They are not part of the stored record; the
	// ledger fills them in when a decision is read by id or listed.
	Overturned   bool   `json:"-"`
	AppealID     string `json:"-"`
	AppealStatus string `json:"-"`
	// Effects are the decision's holds, suspension and strike and their
	// state now; OverturnedBy the appeal that overturned it. Filled in
	// when a decision is read by id; not stored.
	Effects      []Effect `json:"-"`
	OverturnedBy string   `json:"-"`
	// SupersededID is set when the decision read is not the one asked
	// for: a fallback made while the ledger was away for a request id the
	// ledger had already decided resolves to the ledger's decision.
	SupersededID string `json:"-"`
}

// IsManual reports whether a reviewer made the decision by hand.
func (r *Record) IsManual() bool { return r.Source == SourceManual }

// Until returns when a restriction of the record ends, or zero when it is
// open-ended.
func (r *Record) Until(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return r.DecidedAt.Add(d)
}
