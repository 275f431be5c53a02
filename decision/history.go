package decision

import (
	"context"
	"time"
)

// Hold is an active restriction of one capability.
type Hold struct {
	Capability string    `json:"capability"`
	Since      time.Time `json:"since"`
	Until      time.Time `json:"until,omitzero"` // zero: until lifted
	DecisionID string    `json:"decision_id"`
	Remedy     string    `json:"remedy,omitempty"`
}

// PastDecision summarises an earlier decision about the same subject.
type PastDecision struct {
	DecisionID string    `json:"decision_id"`
	Checkpoint string    `json:"checkpoint"`
	Action     Action    `json:"action"`
	Codes      []string  `json:"codes,omitempty"`
	DecidedAt  time.Time `json:"decided_at"`
	Overturned bool      `json:"overturned,omitempty"`
}

// History is what the ledger knows about a subject when a decision starts.
type History struct {
	Holds      []Hold         `json:"holds,omitempty"`
	Suspended  bool           `json:"suspended"`
	Strikes    int            `json:"strikes"`      // unexpired, not overturned
	StrikeCode []string       `json:"strike_codes"` // the reason codes of those strikes
	Recent     []PastDecision `json:"recent,omitempty"`
	Overturned int            `json:"overturned"` // appeals won by the subject
	// SuspensionSource is who placed the suspension in force (SourcePolicy
	// or SourceManual); empty when not suspended.
	SuspensionSource string `json:"suspension_source,omitempty"`
	// SuspendedBy is the decision that placed the suspension in force.
	SuspendedBy string `json:"-"`
	// Cleared are the rules overturns cleared for the subject, in force now.
	Cleared []Cleared `json:"cleared,omitempty"`
	// Version is the version of the subject's standing this history was
	// read at (see Basis).
	Version int64 `json:"-"`
}

// Ledger is where decisions and enforcement state are kept.
type Ledger interface {
	// History returns the subject's enforcement state as of now.
	History(ctx context.Context, subjectID string, now time.Time) (History, error)
	// Commit stores a decision and its enforcement effects in one transaction.
	// If the request id was already decided it stores nothing and returns the
	// earlier record with replayed true. With a basis, decisions of one
	// subject commit as if in sequence: when the subject's standing changed
	// since basis.Version, Commit reads the history again under the
	// subject's lock and calls basis.Redo before storing.
	Commit(ctx context.Context, rec *Record, basis *Basis) (stored *Record, replayed bool, err error)
	// Standing returns the subject's standing now, or ErrNotFound for a
	// subject the ledger has no decision about.
	Standing(ctx context.Context, subjectID string, now time.Time) (*Standing, error)
	// ByRequestID returns the decision made for a request id, or ErrNotFound.
	ByRequestID(ctx context.Context, requestID string) (*Record, error)
	// Get returns a decision by id, or ErrNotFound.
	Get(ctx context.Context, decisionID string) (*Record, error)
	// List returns a subject's decisions, newest first, after the page token.
	List(ctx context.Context, subjectID string, pageSize int, pageToken string) ([]*Record, string, error)
}
