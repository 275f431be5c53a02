package decision

import (
	"context"
	"errors"
	"time"
)

// Sources of a decision: the policy on a Decide request, or a reviewer by
// hand through the enforcement service.
const (
	SourcePolicy = "policy"
	SourceManual = "manual"
)

// ErrPrecondition means a manual action does not apply to the subject's
// standing now (lifting a hold that is not in force, suspending a suspended
// account).
var ErrPrecondition = errors.New("failed precondition")

// Cleared is a rule cleared for a subject by an overturned appeal: the same
// code with the same evidence does not fire again for the subject until
// Until. The policy sees these as input.history.cleared.
type Cleared struct {
	Code       string           `json:"code"`
	Rule       string           `json:"rule,omitempty"`
	Evidence   []map[string]any `json:"evidence"`
	Until      time.Time        `json:"until"`
	AppealID   string           `json:"appeal_id"`
	DecisionID string           `json:"decision_id"`
}

// Suppressed is a reason the policy would have given but did not, because
// an earlier overturn cleared it on the same evidence.
type Suppressed struct {
	Code               string           `json:"code"`
	Action             Action           `json:"action"`
	Rule               string           `json:"rule,omitempty"`
	Evidence           []map[string]any `json:"evidence,omitempty"`
	ClearedByAppeal    string           `json:"cleared_by_appeal"`
	OverturnedDecision string           `json:"overturned_decision"`
	Until              time.Time        `json:"until,omitzero"`
}

// Suspension is a suspension in force.
type Suspension struct {
	DecisionID string    `json:"decision_id"`
	Since      time.Time `json:"since"`
	Until      time.Time `json:"until,omitzero"` // zero: until lifted
	Source     string    `json:"source"`         // SourcePolicy or SourceManual
}

// Strike is an unexpired strike that was not overturned.
type Strike struct {
	DecisionID string    `json:"decision_id"`
	Codes      []string  `json:"codes"`
	At         time.Time `json:"at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// OpenAppeal is an appeal of one of the subject's decisions still open.
type OpenAppeal struct {
	AppealID   string    `json:"appeal_id"`
	DecisionID string    `json:"decision_id"`
	FiledAt    time.Time `json:"filed_at"`
}

// OpenCase is a review case about the subject still open.
type OpenCase struct {
	CaseID   string    `json:"case_id"`
	OpenedAt time.Time `json:"opened_at"`
	DueAt    time.Time `json:"due_at"`
}

// Standing is an account's standing now: what holds it, and why.
type Standing struct {
	SubjectID   string
	Holds       []Hold
	Suspension  *Suspension
	Strikes     []Strike
	OpenAppeals []OpenAppeal
	OpenCases   []OpenCase
	Cleared     []Cleared
	Recent      []*Record
	// Version changes whenever the subject's standing does.
	Version int64
}

// ManualKind is what a reviewer does by hand.
type ManualKind string

const (
	ManualSuspend   ManualKind = "suspend"
	ManualRestrict  ManualKind = "restrict"
	ManualLift      ManualKind = "lift"
	ManualReinstate ManualKind = "reinstate"
)

// Manual is a reviewer's action on an account, as recorded with its
// decision.
type Manual struct {
	Kind       ManualKind `json:"kind"`
	ReasonCode string     `json:"reason_code"`
	Note       string     `json:"note"`
	Reviewer   string     `json:"reviewer"`
	// Caller is the authenticated caller that sent the action.
	Caller string `json:"caller,omitempty"`
	// Capabilities are held (restrict) or lifted (lift).
	Capabilities []string `json:"capabilities,omitempty"`
	// Suspension, on a lift, lifts the suspension in force.
	Suspension bool `json:"suspension,omitempty"`
	// Duration of a suspension or hold; zero: until lifted.
	Duration time.Duration `json:"duration,omitempty"`
	// Lifted are the decisions whose holds or suspension a lift or
	// reinstatement ended.
	Lifted []string `json:"lifted,omitempty"`
	// LiftedSuspension is the decision whose suspension the action lifted.
	LiftedSuspension string `json:"lifted_suspension,omitempty"`
	// AppealIDs are the subject's appeals open when the action was taken:
	// the action is recorded against them.
	AppealIDs []string `json:"appeal_ids,omitempty"`
	// CaseID is the review case the action resolves, if any.
	CaseID string `json:"case_id,omitempty"`
}

// Effect kinds and states: what a decision did to the account, and what
// became of it.
const (
	EffectHold       = "hold"
	EffectSuspension = "suspension"
	EffectStrike     = "strike"

	StateInForce    = "in_force"
	StateExpired    = "expired"
	StateRemedied   = "remedied"
	StateLifted     = "lifted"
	StateOverturned = "overturned"
)

// Effect is one effect of a decision on the account and its state now.
type Effect struct {
	Kind       string    `json:"kind"`
	Capability string    `json:"capability,omitempty"`
	Since      time.Time `json:"since"`
	Until      time.Time `json:"until,omitzero"`
	State      string    `json:"state"`
	// StateAt is when the effect ended (zero while in force); By names
	// what ended it: the decision that passed the remedy or lifted it by
	// hand, or the appeal that overturned it; Reviewer who, by hand.
	StateAt  time.Time `json:"state_at,omitzero"`
	By       string    `json:"by,omitempty"`
	Reviewer string    `json:"reviewer,omitempty"`
}

// Basis is what a decision was made on, for a ledger that serialises the
// decisions of one subject: the version of the subject's standing the
// history was read at, and how to decide again on a newer history.
type Basis struct {
	Version int64
	// Redo decides again on h, read under the subject's lock as of the
	// record's DecidedAt (which the ledger may move forward to the time
	// of the commit), updating the record being committed. An error
	// aborts the commit.
	Redo func(ctx context.Context, h History) error
}

// ManualAction asks to act on an account by hand.
type ManualAction struct {
	RequestID    string
	SubjectID    string
	Kind         ManualKind
	ReasonCode   string
	Note         string
	Reviewer     string
	Caller       string
	Capabilities []string
	Suspension   bool
	Duration     time.Duration
	// CaseID names the review case the action resolves: it is recorded
	// resolved in the action's own transaction, or the action is refused.
	CaseID string
}

// Catalog is the reason catalog of the active bundle, for actions Go
// records without evaluating the policy.
type Catalog interface {
	// Reason returns the catalog entry of a reason code.
	Reason(code string) (Reason, bool)
	// Capabilities returns the capabilities a hold can name.
	Capabilities() []string
}
