package decision

import "fmt"

// Action is a graduated enforcement outcome. Actions are ordered: a larger
// value is more severe, so the most severe of several is their maximum.
type Action int8

const (
	ActionUnspecified Action = iota
	Allow
	Warn
	Challenge
	Restrict
	Suspend
)

var actionNames = [...]string{"unspecified", "allow", "warn", "challenge", "restrict", "suspend"}

// String returns the action's policy name ("allow", "warn", ...).
func (a Action) String() string {
	if a < 0 || int(a) >= len(actionNames) {
		return fmt.Sprintf("action(%d)", int(a))
	}
	return actionNames[a]
}

// Valid reports whether a is one of the five enforceable actions.
func (a Action) Valid() bool { return a >= Allow && a <= Suspend }

// ParseAction parses a policy action name.
func ParseAction(s string) (Action, error) {
	for i, n := range actionNames {
		if i > 0 && n == s {
			return Action(i), nil
		}
	}
	return ActionUnspecified, fmt.Errorf("unknown action %q (want allow, warn, challenge, restrict or suspend)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Action) UnmarshalText(b []byte) error {
	v, err := ParseAction(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}
