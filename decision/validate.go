package decision

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// FieldError says which field of a request is wrong and why.
type FieldError struct {
	Field  string
	Reason string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Reason }

// ValidationError lists every problem found in a request at once.
type ValidationError []FieldError

func (v ValidationError) Error() string {
	parts := make([]string, len(v))
	for i, e := range v {
		parts[i] = e.Error()
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

// Limits bounds what a request may carry. Zero values take the defaults.
type Limits struct {
	MaxSignals        int // caller-supplied signals
	MaxAttributeDepth int
	MaxAttributeKeys  int // keys and elements counted over the whole tree
	MaxStringBytes    int // any single string field
	// Earliest is the earliest timestamp a request may carry (default
	// 2000-01-01); MaxFuture how far past now it may be (default a day).
	Earliest  time.Time
	MaxFuture time.Duration
	// Now is the clock timestamps are judged by; nil means time.Now.
	Now func() time.Time
	// MaxEventAge and MaxEventSkew bound a request's occurred_at: at most
	// this long before, and this long after, the decision's time.
	MaxEventAge  time.Duration
	MaxEventSkew time.Duration
}

// Default bounds of occurred_at: a month of history imports and backfills;
// a few minutes of clock skew ahead.
const (
	DefaultMaxEventAge  = 30 * 24 * time.Hour
	DefaultMaxEventSkew = 5 * time.Minute
)

func (l Limits) withDefaults() Limits {
	if l.MaxSignals == 0 {
		l.MaxSignals = 64
	}
	if l.MaxAttributeDepth == 0 {
		l.MaxAttributeDepth = 8
	}
	if l.MaxAttributeKeys == 0 {
		l.MaxAttributeKeys = 512
	}
	if l.MaxStringBytes == 0 {
		l.MaxStringBytes = 4096
	}
	if l.Earliest.IsZero() {
		l.Earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if l.MaxFuture == 0 {
		l.MaxFuture = 24 * time.Hour
	}
	if l.Now == nil {
		l.Now = time.Now
	}
	if l.MaxEventAge == 0 {
		l.MaxEventAge = DefaultMaxEventAge
	}
	if l.MaxEventSkew == 0 {
		l.MaxEventSkew = DefaultMaxEventSkew
	}
	return l
}

// IDRule says what an identifier a caller chooses (a subject id, a
// request id) may be; ValidID checks it.
const IDRule = "must be 1-128 characters of letters, digits, '.', '_', ':' or '-', starting with a letter or digit"

// ValidID reports whether id follows IDRule.
func ValidID(id string) bool { return idPattern.MatchString(id) }

var (
	idPattern         = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$`)
	signalNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)
	countryPattern    = regexp.MustCompile(`^[A-Z]{2}$`)
	datePattern       = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

// ValidSignalName reports whether name is a namespaced signal name such as
// "email.disposable".
func ValidSignalName(name string) bool { return signalNamePattern.MatchString(name) }

// Validate checks a request against the configured checkpoints and limits and
// normalises it in place (country codes upper-cased, caller signals marked).
// It returns a ValidationError naming every bad field.
func Validate(r *Request, checkpoints map[string]bool, lim Limits) error {
	lim = lim.withDefaults()
	var errs ValidationError
	bad := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	checkID := func(field, v string, required bool) {
		switch {
		case v == "" && required:
			bad(field, "is required")
		case v != "" && !idPattern.MatchString(v):
			bad(field, IDRule)
		}
	}
	checkText := func(field, v string) {
		if len(v) > lim.MaxStringBytes {
			bad(field, "is longer than %d bytes", lim.MaxStringBytes)
		} else if !utf8.ValidString(v) {
			bad(field, "is not valid UTF-8")
		}
	}

	checkID("request_id", r.RequestID, true)
	checkID("subject.id", r.Subject.ID, true)
	checkText("subject.kind", r.Subject.Kind)
	if t := r.Subject.CreatedAt; !t.IsZero() {
		if latest := lim.Now().Add(lim.MaxFuture); t.Before(lim.Earliest) || t.After(latest) {
			bad("subject.created_at", "must be between %s and %s (now + %v)", lim.Earliest.Format(time.DateOnly), latest.UTC().Format(time.RFC3339), lim.MaxFuture)
		}
	}
	switch {
	case r.Checkpoint == "":
		bad("checkpoint", "is required")
	case !checkpoints[r.Checkpoint]:
		bad("checkpoint", "unknown checkpoint %q", truncate(r.Checkpoint, 64))
	}

	p := &r.Subject.Profile
	checkText("subject.profile.given_name", p.GivenName)
	checkText("subject.profile.family_name", p.FamilyName)
	checkText("subject.profile.display_name", p.DisplayName)
	checkText("subject.profile.email", p.Email)
	checkText("subject.profile.phone", p.Phone)
	p.Country = strings.ToUpper(strings.TrimSpace(p.Country))
	if p.Country != "" && !countryPattern.MatchString(p.Country) {
		bad("subject.profile.country", "must be an ISO 3166-1 alpha-2 code")
	}
	if p.Email != "" && (strings.Count(p.Email, "@") != 1 || strings.HasPrefix(p.Email, "@") || strings.HasSuffix(p.Email, "@")) {
		bad("subject.profile.email", "is not an email address")
	}
	if p.DateOfBirth != "" {
		if d, err := time.Parse(time.DateOnly, p.DateOfBirth); !datePattern.MatchString(p.DateOfBirth) || err != nil {
			bad("subject.profile.date_of_birth", "must be a date, YYYY-MM-DD")
		} else if d.Year() < 1900 || d.After(lim.Now()) {
			bad("subject.profile.date_of_birth", "must be between 1900-01-01 and today")
		}
	}

	if r.Context.IP != "" {
		if _, err := netip.ParseAddr(r.Context.IP); err != nil {
			bad("context.ip", "is not an IP address")
		}
	}
	checkText("context.device_id", r.Context.DeviceID)
	checkText("context.user_agent", r.Context.UserAgent)
	checkText("context.session_id", r.Context.SessionID)

	if r.Attributes != nil {
		n := 0
		if err := checkTree(r.Attributes, 1, lim, &n); err != "" {
			bad("attributes", "%s", err)
		} else {
			checkVocabulary(r.Attributes, bad)
		}
	}

	if len(r.Signals) > lim.MaxSignals {
		bad("signals", "more than %d signals", lim.MaxSignals)
	} else {
		for i := range r.Signals {
			s := &r.Signals[i]
			field := fmt.Sprintf("signals[%d]", i)
			if err := CheckSignal(s, lim); err != nil {
				bad(field, "%v", err)
			}
			s.Source = SourceCaller
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// CheckEventTime reports a request whose occurred_at lies outside the
// window around now that lim allows, as a ValidationError naming the field.
func CheckEventTime(r *Request, now time.Time, lim Limits) error {
	if r.OccurredAt.IsZero() {
		return nil
	}
	lim = lim.withDefaults()
	switch at := r.OccurredAt; {
	case at.Before(now.Add(-lim.MaxEventAge)):
		return ValidationError{{Field: "occurred_at", Reason: fmt.Sprintf("%s is more than %v before now (%s)",
			at.UTC().Format(time.RFC3339), lim.MaxEventAge, now.UTC().Format(time.RFC3339))}}
	case at.After(now.Add(lim.MaxEventSkew)):
		return ValidationError{{Field: "occurred_at", Reason: fmt.Sprintf("%s is more than %v after now (%s)",
			at.UTC().Format(time.RFC3339), lim.MaxEventSkew, now.UTC().Format(time.RFC3339))}}
	}
	return nil
}

// CheckSignal reports why an untrusted signal is unacceptable, or nil.
func CheckSignal(s *Signal, lim Limits) error {
	lim = lim.withDefaults()
	switch {
	case !ValidSignalName(s.Name):
		return fmt.Errorf("name %q must be dotted lower-case, e.g. \"email.disposable\"", truncate(s.Name, 64))
	case math.IsNaN(s.Score) || math.IsInf(s.Score, 0) || s.Score < 0 || s.Score > 1:
		return fmt.Errorf("%s: score %v is outside 0..1", s.Name, s.Score)
	case math.IsNaN(s.Confidence) || math.IsInf(s.Confidence, 0) || s.Confidence < 0 || s.Confidence > 1:
		return fmt.Errorf("%s: confidence %v is outside 0..1", s.Name, s.Confidence)
	case len(s.Value) > lim.MaxStringBytes || !utf8.ValidString(s.Value):
		return fmt.Errorf("%s: value is longer than %d bytes or not UTF-8", s.Name, lim.MaxStringBytes)
	}
	if s.Evidence != nil {
		n := 0
		if err := checkTree(s.Evidence, 1, lim, &n); err != "" {
			return fmt.Errorf("%s: evidence %s", s.Name, err)
		}
	}
	return nil
}

// checkTree bounds the depth, size and string length of a decoded JSON tree.
func checkTree(v any, depth int, lim Limits, n *int) string {
	if depth > lim.MaxAttributeDepth {
		return fmt.Sprintf("nest deeper than %d levels", lim.MaxAttributeDepth)
	}
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			*n++
			if *n > lim.MaxAttributeKeys {
				return fmt.Sprintf("have more than %d keys and elements", lim.MaxAttributeKeys)
			}
			if len(k) > 256 {
				return "have a key longer than 256 bytes"
			}
			if err := checkTree(e, depth+1, lim, n); err != "" {
				return err
			}
		}
	case []any:
		for _, e := range t {
			*n++
			if *n > lim.MaxAttributeKeys {
				return fmt.Sprintf("have more than %d keys and elements", lim.MaxAttributeKeys)
			}
			if err := checkTree(e, depth+1, lim, n); err != "" {
				return err
			}
		}
	case string:
		if len(t) > lim.MaxStringBytes {
			return fmt.Sprintf("have a string longer than %d bytes", lim.MaxStringBytes)
		}
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return "have a number that is not finite"
		}
	case nil, bool, int, int64:
	default:
		return fmt.Sprintf("have a value of unsupported type %T", v)
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

var checkpointPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// ValidCheckpointName reports whether name is lower_snake_case, as checkpoint
// and detector names must be.
func ValidCheckpointName(name string) bool { return checkpointPattern.MatchString(name) }

// DefaultLimits returns the limits a zero Limits stands for.
func DefaultLimits() Limits { return Limits{}.withDefaults() }
