package host

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Budgets are per-checkpoint budgets for a decision's whole detector
// fan-out: detectors run in parallel, so each of them shares the one budget
// of its checkpoint (the time a person at that step can be made to wait),
// rather than each being held to its own few milliseconds. Key
// DefaultBudgetKey applies to checkpoints not listed; without it, or with no
// budgets at all, only each detector's timeout and the decision's deadline
// bound the wait.
type Budgets map[string]time.Duration

// DefaultBudgetKey is the budget of checkpoints without one of their own.
const DefaultBudgetKey = "default"

// For returns the budget of checkpoint, 0 for none.
func (b Budgets) For(checkpoint string) time.Duration {
	if d, ok := b[checkpoint]; ok {
		return d
	}
	return b[DefaultBudgetKey]
}

// Validate reports every non-positive budget.
func (b Budgets) Validate() error {
	var errs []string
	for _, k := range slices.Sorted(maps.Keys(b)) {
		if b[k] <= 0 {
			errs = append(errs, fmt.Sprintf("detectors: budget of %q is %v, want a positive duration", k, b[k]))
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}
