package decision

import (
	"context"
	"time"
)

// DetectorStatus is how a detector's call ended.
type DetectorStatus string

const (
	StatusOK          DetectorStatus = "ok"
	StatusTimeout     DetectorStatus = "timeout"
	StatusError       DetectorStatus = "error"
	StatusUnavailable DetectorStatus = "unavailable"
)

// DetectorResult is one detector's contribution to a decision. A detector that
// failed is a status, never an error of the decision.
type DetectorResult struct {
	Name    string         `json:"name"`
	Version string         `json:"version,omitempty"`
	Status  DetectorStatus `json:"status"`
	Latency time.Duration  `json:"latency"`
	// Error is for operators and reviewers; it never reaches the caller.
	Error   string   `json:"error,omitempty"`
	Signals []Signal `json:"signals,omitempty"`
}

// SignalSource gathers signals from detectors. Collect returns one result per
// detector that wants the request's checkpoint and never fails as a whole; it
// must return by ctx's deadline.
type SignalSource interface {
	Collect(ctx context.Context, req *Request, now time.Time) []DetectorResult
}
