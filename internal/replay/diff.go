package replay

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/gavel/gavel/decision"
)

// ReasonChange is how one reason code differs between a stored decision
// and the candidate's verdict on the same input. From is the stored
// action and To the candidate's; ActionUnspecified on either side means
// the reason did not fire there (it appeared or went away). The order
// reasons are listed in is not a change: a verdict lists them by
// severity, so a reason whose action changes may move in the list.
type ReasonChange struct {
	Code string          `json:"code"`
	From decision.Action `json:"from,omitzero"`
	To   decision.Action `json:"to,omitzero"`
}

// String reads "CODE warn → restrict", "+CODE restrict" (fires only under
// the candidate) or "-CODE challenge" (fires only in the stored decision).
func (c ReasonChange) String() string {
	switch {
	case c.From == decision.ActionUnspecified:
		return fmt.Sprintf("+%s %s", c.Code, c.To)
	case c.To == decision.ActionUnspecified:
		return fmt.Sprintf("-%s %s", c.Code, c.From)
	default:
		return fmt.Sprintf("%s %s → %s", c.Code, c.From, c.To)
	}
}

// ActionChanged reports whether the reason fired on both sides with a
// different action.
func (c ReasonChange) ActionChanged() bool {
	return c.From != decision.ActionUnspecified && c.To != decision.ActionUnspecified && c.From != c.To
}

// reasonActions maps each reason code to its action; a code listed more
// than once counts with its most severe action.
func reasonActions(reasons []decision.Reason) map[string]decision.Action {
	out := make(map[string]decision.Action, len(reasons))
	for _, r := range reasons {
		if r.Code == "" {
			continue
		}
		out[r.Code] = max(out[r.Code], r.Action)
	}
	return out
}

// diffReasons returns what changed between the stored reasons and the
// candidate's, by code: reasons that appeared, went away or changed their
// action. Reasons that fire on both sides with the same action are not
// listed, wherever they stand in either list. The result is sorted by code.
func diffReasons(stored, candidate []decision.Reason) []ReasonChange {
	before, after := reasonActions(stored), reasonActions(candidate)
	var out []ReasonChange
	for code, from := range before {
		if to := after[code]; to != from {
			out = append(out, ReasonChange{Code: code, From: from, To: to})
		}
	}
	for code, to := range after {
		if _, ok := before[code]; !ok {
			out = append(out, ReasonChange{Code: code, To: to})
		}
	}
	slices.SortFunc(out, func(x, y ReasonChange) int { return cmp.Compare(x.Code, y.Code) })
	return out
}

// changesText is a decision's reason changes on one line.
func changesText(changes []ReasonChange) string {
	if len(changes) == 0 {
		return "same reasons, same actions"
	}
	parts := make([]string, len(changes))
	for i, c := range changes {
		parts[i] = c.String()
	}
	return strings.Join(parts, "; ")
}
