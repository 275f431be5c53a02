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
}

// Ledger is where decisions and enforcement state are kept.
type Ledger interface {
	// History returns the subject's enforcement state as of now.
	History(ctx context.Context, subjectID string, now time.Time) (History, error)
	// Commit stores a decision and its enforcement effects in one transaction.
	// If the request id was already decided it stores nothing and returns the
	// earlier record with replayed true.
	Commit(ctx context.Context, rec *Record) (stored *Record, replayed bool, err error)
	// ByRequestID returns the decision made for a request id, or ErrNotFound.
	ByRequestID(ctx context.Context, requestID string) (*Record, error)
	// Get returns a decision by id, or ErrNotFound.
	Get(ctx context.Context, decisionID string) (*Record, error)
	// List returns a subject's decisions, newest first, after the page token.
	List(ctx context.Context, subjectID string, pageSize int, pageToken string) ([]*Record, string, error)
}
