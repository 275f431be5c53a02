package decision

import (
	"context"
	"time"
)

// ListMatch is one runtime-list entry the request matched.
type ListMatch struct {
	List    string `json:"list"`
	Kind    string `json:"kind"`
	Purpose string `json:"purpose"` // block or allow
	// Field is where in the request the matched value was: subject.id,
	// subject.profile.email, context.ip, attributes.payout.account_hash, …
	Field string `json:"field"`
	// Action is what a block list's hit does; Exempts the reason codes an
	// allow list's hit exempts. Both are the operator's.
	Action  string   `json:"action,omitempty"`
	Exempts []string `json:"exempts,omitempty"`
	// Entry is the matched entry as stored: a normalised value, a CIDR
	// range, or "hmac:…" for personal values.
	Entry string `json:"entry"`
	Note  string `json:"note,omitempty"`
}

// ListMatcher matches a request against the runtime lists. Match never
// fails as a whole: a matcher that cannot answer returns no matches and
// says so in its own status. It must return by ctx's deadline.
type ListMatcher interface {
	Match(ctx context.Context, req *Request, now time.Time) []ListMatch
}

// SetLists has the engine match every request against m, beside the history
// read and the detectors; the matches reach the policy as input.lists.
func (e *Engine) SetLists(m ListMatcher) { e.lists = m }

// listsDoc is input.lists: the matches as plain JSON values.
func listsDoc(ms []ListMatch) []any {
	out := make([]any, 0, len(ms))
	for i := range ms {
		m := &ms[i]
		ex := make([]any, 0, len(m.Exempts))
		for _, c := range m.Exempts {
			ex = append(ex, c)
		}
		out = append(out, map[string]any{
			"list":    m.List,
			"kind":    m.Kind,
			"purpose": m.Purpose,
			"field":   m.Field,
			"action":  m.Action,
			"exempts": ex,
			"entry":   m.Entry,
			"note":    m.Note,
		})
	}
	return out
}
