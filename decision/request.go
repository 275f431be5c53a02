package decision

import "time"

// Profile is what the account holder claims about themselves.
type Profile struct {
	GivenName   string `json:"given_name,omitempty"`
	FamilyName  string `json:"family_name,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	Country     string `json:"country,omitempty"` // ISO 3166-1 alpha-2, upper case
	Email       string `json:"email,omitempty"`
	Phone       string `json:"phone,omitempty"`
	DateOfBirth string `json:"date_of_birth,omitempty"` // YYYY-MM-DD
}

// Subject is the account a decision is about.
type Subject struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	Profile   Profile   `json:"profile"`
}

// Context is where the request came from.
type Context struct {
	IP        string `json:"ip,omitempty"`
	DeviceID  string `json:"device_id,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	SessionID string `json:"session_id,omitempty"`
}

// Signal is one identity-risk observation, from a detector or the caller.
type Signal struct {
	Name       string         `json:"name"`
	Score      float64        `json:"score"`
	Value      string         `json:"value,omitempty"`
	Evidence   map[string]any `json:"evidence,omitempty"`
	Confidence float64        `json:"confidence"`
	// Source is the detector that emitted the signal, or "caller".
	Source string `json:"source"`
}

// SourceCaller marks signals supplied in the request itself.
const SourceCaller = "caller"

// Request asks for a decision about one subject at one checkpoint.
type Request struct {
	RequestID  string         `json:"request_id"`
	Subject    Subject        `json:"subject"`
	Checkpoint string         `json:"checkpoint"`
	Context    Context        `json:"context"`
	Attributes map[string]any `json:"attributes,omitempty"`
	Signals    []Signal       `json:"signals,omitempty"`
	DryRun     bool           `json:"dry_run,omitempty"`
	// OccurredAt is when the event happened, when the caller knows it
	// (a history import, a backfill, an event queued while offline); zero
	// means now. It must lie within Limits.MaxEventAge before and
	// Limits.MaxEventSkew after the decision. Detectors see it as the
	// request's time, so velocity windows and links count event time.
	OccurredAt time.Time `json:"occurred_at,omitzero"`
}

// EventTime is when the request's event happened: OccurredAt, or now.
func (r *Request) EventTime(now time.Time) time.Time {
	if r.OccurredAt.IsZero() {
		return now
	}
	return r.OccurredAt
}
