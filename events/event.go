package events

import (
	"encoding/json"
	"strings"
	"time"
)

// The event types gavel emits, each a CloudEvents type attribute. A
// subject's events are delivered in the order they were committed.
const (
	// TypeDecisionRestrictive: a decision restricted or suspended an
	// account (policy or manual; dry runs and fallbacks emit nothing).
	TypeDecisionRestrictive = "gavel.decision.restrictive"
	// TypeHoldPlaced: a capability was put on hold.
	TypeHoldPlaced = "gavel.hold.placed"
	// TypeHoldLifted: a hold ended before its time — remedied, lifted by
	// a reviewer, or overturned on appeal (Data.How says which).
	TypeHoldLifted = "gavel.hold.lifted"
	// TypeHoldExpired: a hold ran out.
	TypeHoldExpired = "gavel.hold.expired"
	// TypeAccountSuspended: an account was suspended.
	TypeAccountSuspended = "gavel.account.suspended"
	// TypeAccountReinstated: a suspension ended — lifted by a reviewer,
	// overturned on appeal, or expired.
	TypeAccountReinstated = "gavel.account.reinstated"
	// TypeAppealFiled and TypeAppealResolved: an appeal was filed, and
	// resolved (upheld or overturned).
	TypeAppealFiled    = "gavel.appeal.filed"
	TypeAppealResolved = "gavel.appeal.resolved"
	// TypeCaseOpened and TypeCaseResolved: the review queue opened a case
	// on an account, and resolved it.
	TypeCaseOpened   = "gavel.case.opened"
	TypeCaseResolved = "gavel.case.resolved"
	// TypeListChanged: a runtime list was created or its entries changed.
	// Its subject is "list:<name>"; no entry value is ever sent.
	TypeListChanged = "gavel.list.changed"
)

// Types lists every event type, for configuration checks and help.
var Types = []string{
	TypeDecisionRestrictive, TypeHoldPlaced, TypeHoldLifted, TypeHoldExpired,
	TypeAccountSuspended, TypeAccountReinstated, TypeAppealFiled, TypeAppealResolved,
	TypeCaseOpened, TypeCaseResolved, TypeListChanged,
}

// How a hold or suspension ended (HoldData.How, SuspensionData.How).
const (
	EndedRemedied   = "remedied"
	EndedLifted     = "lifted"
	EndedOverturned = "overturned"
	EndedExpired    = "expired"
)

// ListSubject is the subject of a list's events.
func ListSubject(name string) string { return "list:" + name }

// Event is one entry of the outbox: what changed, about which subject, when.
// Seq numbers the outbox in commit order for each subject.
type Event struct {
	Seq     int64
	ID      string // the CloudEvents id and the webhook-id, the same on every attempt
	Type    string
	Subject string // the account id, or ListSubject(name)
	Time    time.Time
	Data    json.RawMessage
}

// The data of each type. Like the decision log, it carries ids, codes and
// times, never the account holder's profile or a list entry's value.

// DecisionData is a restrictive decision.
type DecisionData struct {
	DecisionID   string            `json:"decision_id"`
	SubjectID    string            `json:"subject_id"`
	Checkpoint   string            `json:"checkpoint"`
	Action       string            `json:"action"`
	Reasons      []string          `json:"reasons"`
	Restrictions []RestrictionData `json:"restrictions,omitempty"`
	// Source is "policy" or "manual".
	Source           string    `json:"source"`
	Appealable       bool      `json:"appealable"`
	RemedyCheckpoint string    `json:"remedy_checkpoint,omitempty"`
	DecidedAt        time.Time `json:"decided_at"`
}

// RestrictionData is a capability a decision restricts, until when (absent:
// until lifted).
type RestrictionData struct {
	Capability string    `json:"capability"`
	Until      time.Time `json:"until,omitzero"`
}

// HoldData is a hold placed, lifted or expired.
type HoldData struct {
	SubjectID  string `json:"subject_id"`
	Capability string `json:"capability"`
	// DecisionID is the decision that placed the hold.
	DecisionID       string    `json:"decision_id"`
	Since            time.Time `json:"since"`
	Until            time.Time `json:"until,omitzero"`
	RemedyCheckpoint string    `json:"remedy_checkpoint,omitempty"`
	// Set once it ended: when, how (EndedRemedied, EndedLifted,
	// EndedOverturned, EndedExpired) and by which decision or appeal.
	EndedAt time.Time `json:"ended_at,omitzero"`
	How     string    `json:"how,omitempty"`
	By      string    `json:"by,omitempty"`
}

// SuspensionData is a suspension placed or ended.
type SuspensionData struct {
	SubjectID  string    `json:"subject_id"`
	DecisionID string    `json:"decision_id"`
	Since      time.Time `json:"since"`
	Until      time.Time `json:"until,omitzero"`
	Source     string    `json:"source,omitempty"`
	EndedAt    time.Time `json:"ended_at,omitzero"`
	How        string    `json:"how,omitempty"`
	By         string    `json:"by,omitempty"`
}

// AppealData is an appeal filed or resolved.
type AppealData struct {
	AppealID   string    `json:"appeal_id"`
	DecisionID string    `json:"decision_id"`
	SubjectID  string    `json:"subject_id"`
	FiledAt    time.Time `json:"filed_at"`
	// Set once resolved: "upheld" or "overturned".
	Outcome    string    `json:"outcome,omitempty"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
}

// CaseData is a review case opened or resolved.
type CaseData struct {
	CaseID     string   `json:"case_id"`
	SubjectID  string   `json:"subject_id"`
	DecisionID string   `json:"decision_id,omitempty"`
	Reasons    []string `json:"reasons,omitempty"`
	// Set once resolved: the resolution and the decision it made, if any.
	Resolution string    `json:"resolution,omitempty"`
	ResolvedBy string    `json:"resolved_by_decision,omitempty"`
	At         time.Time `json:"at"`
}

// ListData is a change of a runtime list: which list, what was done, to
// how many entries.
type ListData struct {
	List    string    `json:"list"`
	Kind    string    `json:"kind,omitempty"`
	Purpose string    `json:"purpose,omitempty"`
	Op      string    `json:"op"`
	Entries int       `json:"entries"`
	At      time.Time `json:"at"`
}

// NewEvent builds an event of type typ about subject at t with data encoded as
// JSON. The outbox gives it its Seq and ID.
func NewEvent(typ, subject string, t time.Time, data any) (Event, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return Event{}, err
	}
	return Event{Type: typ, Subject: subject, Time: t, Data: b}, nil
}

// Wants reports whether an endpoint that asked for types (each an exact
// type, a prefix ending in ".*", or "*"; none: every type) wants typ.
func Wants(types []string, typ string) bool {
	if len(types) == 0 {
		return true
	}
	for _, t := range types {
		if t == "*" || t == typ {
			return true
		}
		if p, ok := strings.CutSuffix(t, "*"); ok && strings.HasPrefix(typ, p) {
			return true
		}
	}
	return false
}
