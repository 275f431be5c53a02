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
}

// Until returns when a restriction of the record ends, or zero when it is
// open-ended.
func (r *Record) Until(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return r.DecidedAt.Add(d)
}
