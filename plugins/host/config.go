package host

import (
	"encoding/hex"
	"errors"
	"fmt"
	"go.opentelemetry.io/otel/trace"
	"regexp"
	"strings"
	"time"

	"github.com/gavel/gavel/decision"
)

// DetectorConfig is one detector binary.
type DetectorConfig struct {
	// Name is the detector's name in policies (input.detectors.<name>) and logs.
	Name string
	// Path is the executable; it is resolved to an absolute path.
	Path string
	// SHA256 pins the executable (hex). Empty means trust on first start: the
	// host computes the digest, logs it, and refuses a different binary on restart.
	SHA256 string
	// Timeout bounds one Detect call; the checkpoint's budget and the
	// decision's deadline may shorten it.
	Timeout time.Duration
	// Env is passed to the detector as GAVEL_DETECTOR_<KEY> (key upper-cased).
	Env map[string]string
	// Open, when set, runs the detector in gavel's process (inprocess.go)
	// instead of the binary at Path, which is then unused.
	Open Opener
	// Required makes a start failure of this detector fail Start even when
	// OnFailure is "degrade".
	Required bool
}

// Failure policies for detectors that cannot start.
const (
	OnFailureRefuse  = "refuse"
	OnFailureDegrade = "degrade"
)

// Config is the detector host's part of gavel's configuration.
type Config struct {
	Detectors []DetectorConfig
	// Tracer makes one span per detector call, child of the decision's, and
	// the call carries its W3C trace context (gRPC metadata traceparent) so
	// a detector's own spans join the trace. Nil traces nothing.
	Tracer trace.Tracer
	// Budgets bound each checkpoint's whole fan-out (budget.go); a
	// detector's own Timeout may only shorten its part of it.
	Budgets Budgets
	// DataDir is the parent of each detector's data folder (DataDir/<name>).
	// Empty leaves detectors on the system's temporary folder.
	DataDir string
	// StartTimeout bounds a detector's handshake and Describe.
	StartTimeout time.Duration
	// RestartBackoffMin and RestartBackoffMax bound the delay before restarting
	// a detector that died or failed to start; it doubles, with jitter.
	RestartBackoffMin, RestartBackoffMax time.Duration
	// OnFailure is what Start does when a detector cannot start: "refuse"
	// (return the errors) or "degrade" (the default: log, report the detector
	// unavailable and keep retrying in the background).
	OnFailure string
	// BreakerFailures is how many consecutive failed calls open a
	// detector's circuit breaker: it is then reported unavailable without
	// being called for BreakerCooldown, after which one call probes it
	// (half-open) and closes the breaker if it succeeds. A failed call is an
	// error, a rejected answer, or no answer within the detector's timeout
	// plus BreakerGrace while the detector answered no other call either
	// (hung). A call answered after the decision stopped waiting but within
	// the grace is slow, not broken (a saturated machine makes every call
	// late): it counts as a success; one unanswered while others were
	// answered was queued, and counts neither way. The call stays open,
	// detached from its decision, for the timeout plus the grace.
	BreakerFailures int
	BreakerCooldown time.Duration
	BreakerGrace    time.Duration
	// Limits bound what one signal may carry (value and evidence strings,
	// evidence depth and size), as for caller-supplied signals; zero fields
	// take decision's defaults.
	Limits decision.Limits
	// MaxEvidenceBytes bounds one signal's evidence, marshalled.
	MaxEvidenceBytes int
}

// Defaults applied by New to zero fields.
const (
	DefaultTimeout           = 250 * time.Millisecond
	DefaultStartTimeout      = 10 * time.Second
	DefaultRestartBackoffMin = 500 * time.Millisecond
	DefaultRestartBackoffMax = 30 * time.Second
	DefaultBreakerFailures   = 5
	DefaultBreakerCooldown   = 10 * time.Second
	DefaultBreakerGrace      = time.Second
	DefaultMaxEvidenceBytes  = 16 << 10
)

// MaxSignals is the most signals one Detect response may carry.
const MaxSignals = 64

var (
	namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	envPattern  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)
	// reservedEnv are keys whose variables the host or go-plugin set itself.
	reservedEnv = map[string]bool{"DATA_DIR": true, "PLUGIN": true}
)

func (c Config) withDefaults() Config {
	if c.StartTimeout <= 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.RestartBackoffMin <= 0 {
		c.RestartBackoffMin = DefaultRestartBackoffMin
	}
	if c.RestartBackoffMax <= 0 {
		c.RestartBackoffMax = DefaultRestartBackoffMax
	}
	if c.OnFailure == "" {
		c.OnFailure = OnFailureDegrade
	}
	if c.BreakerFailures <= 0 {
		c.BreakerFailures = DefaultBreakerFailures
	}
	if c.BreakerCooldown <= 0 {
		c.BreakerCooldown = DefaultBreakerCooldown
	}
	if c.BreakerGrace <= 0 {
		c.BreakerGrace = DefaultBreakerGrace
	}
	if c.MaxEvidenceBytes <= 0 {
		c.MaxEvidenceBytes = DefaultMaxEvidenceBytes
	}
	ds := make([]DetectorConfig, len(c.Detectors))
	copy(ds, c.Detectors)
	for i := range ds {
		if ds[i].Timeout <= 0 {
			ds[i].Timeout = DefaultTimeout
		}
	}
	c.Detectors = ds
	return c
}

// Validate reports every problem in the configuration at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch c.OnFailure {
	case "", OnFailureRefuse, OnFailureDegrade:
	default:
		bad("detectors: on_failure %q must be %q or %q", c.OnFailure, OnFailureRefuse, OnFailureDegrade)
	}
	if c.BreakerFailures < 0 {
		bad("detectors: breaker failures %d is negative", c.BreakerFailures)
	}
	if c.BreakerCooldown < 0 {
		bad("detectors: breaker cool-down %v is negative", c.BreakerCooldown)
	}
	if c.BreakerGrace < 0 {
		bad("detectors: breaker grace %v is negative", c.BreakerGrace)
	}
	if err := c.Budgets.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxEvidenceBytes < 0 {
		bad("detectors: max evidence bytes %d is negative", c.MaxEvidenceBytes)
	}
	if c.RestartBackoffMin > 0 && c.RestartBackoffMax > 0 && c.RestartBackoffMin > c.RestartBackoffMax {
		bad("detectors: restart backoff min %v exceeds max %v", c.RestartBackoffMin, c.RestartBackoffMax)
	}
	seen := make(map[string]bool, len(c.Detectors))
	for i, d := range c.Detectors {
		field := fmt.Sprintf("detectors[%d]", i)
		if d.Name != "" {
			field = fmt.Sprintf("detector %q", d.Name)
		}
		switch {
		case !namePattern.MatchString(d.Name):
			bad("%s: name must be 1-64 lower-case letters, digits or '_', starting with a letter", field)
		case seen[d.Name]:
			bad("%s: configured twice", field)
		}
		seen[d.Name] = true
		if d.Path == "" && d.Open == nil {
			bad("%s: path is required", field)
		}
		if d.SHA256 != "" {
			if b, err := hex.DecodeString(d.SHA256); err != nil || len(b) != 32 {
				bad("%s: sha256 must be 64 hexadecimal digits", field)
			}
		}
		if d.Timeout < 0 {
			bad("%s: timeout %v is negative", field, d.Timeout)
		}
		upper := make(map[string]bool, len(d.Env))
		for k := range d.Env {
			u := strings.ToUpper(k)
			switch {
			case upper[u]:
				bad("%s: env key %q is given twice (keys are upper-cased)", field, k)
			case !envPattern.MatchString(k):
				bad("%s: env key %q must be letters, digits or '_'", field, k)
			case reservedEnv[u]:
				bad("%s: env key %q is reserved", field, k)
			}
			upper[u] = true
		}
	}
	return errors.Join(errs...)
}
