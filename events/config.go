package events

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
)

// Config is the events part of gavel's configuration (key "events").
type Config struct {
	// Source is the CloudEvents source attribute of every event: a URI
	// reference naming this gavel (default "/gavel").
	Source string `koanf:"source"`
	// Endpoints are the receivers, by name. None: events are kept in the
	// outbox and sent nowhere.
	Endpoints map[string]Endpoint `koanf:"endpoints"`
	// PollInterval is how often each replica looks for work it was not
	// woken for (events committed by another replica, retries falling due).
	PollInterval time.Duration `koanf:"poll_interval"`
	// SweepInterval is how often holds and suspensions that ran out get
	// their expiry events.
	SweepInterval time.Duration `koanf:"sweep_interval"`
	// Retention is how long a delivered event is kept in the ledger; dead
	// letters and pending deliveries are kept until they are delivered.
	// 0 keeps everything.
	Retention time.Duration `koanf:"retention"`
}

// Endpoint is one receiver of events.
type Endpoint struct {
	// URL receives a POST per event; http or https.
	URL string `koanf:"url"`
	// Types are the event types it wants: exact types, prefixes such as
	// "gavel.hold.*", or "*". None: every type.
	Types []string `koanf:"types"`
	// Secrets sign each request, Standard Webhooks style ("whsec_" and
	// base64). Several at once while a secret is rotated: each request
	// carries one signature per secret.
	Secrets []Secret `koanf:"secrets"`
	// Timeout cuts off a receiver that does not answer (default 10s); the
	// attempt counts as failed and is retried.
	Timeout time.Duration `koanf:"timeout"`
	// MaxAttempts after which a delivery is dead-lettered (default 15).
	MaxAttempts int `koanf:"max_attempts"`
	// BackoffMin and BackoffMax bound the wait before a retry: the n-th
	// failure waits a random time up to min(BackoffMax, BackoffMin·2^(n-1))
	// (full jitter). Defaults 1s and 1h.
	BackoffMin time.Duration `koanf:"backoff_min"`
	BackoffMax time.Duration `koanf:"backoff_max"`
	// Concurrency bounds the requests in flight to this endpoint from one
	// replica (default 16): at most one per subject, so subjects beyond
	// it wait their turn.
	Concurrency int `koanf:"concurrency"`
}

// Secret is a signing secret; it prints redacted.
type Secret string

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "whsec_…(redacted)"
}

// MarshalText redacts the secret wherever configuration is printed.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// key decodes the secret.
func (s Secret) key() ([]byte, error) {
	raw, ok := strings.CutPrefix(string(s), "whsec_")
	if !ok {
		return nil, fmt.Errorf("must start with whsec_")
	}
	k, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("is not whsec_ and base64: %v", err)
	}
	if len(k) < 24 {
		return nil, fmt.Errorf("is %d bytes; use at least 24 random bytes", len(k))
	}
	return k, nil
}

// Defaults are the built-in values of the events keys, for koanf.
func Defaults() map[string]any {
	return map[string]any{
		"events.source":         "/gavel",
		"events.poll_interval":  "250ms",
		"events.sweep_interval": "5s",
		"events.retention":      "168h",
	}
}

// The defaults of an endpoint's optional keys.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultMaxAttempts = 15
	DefaultBackoffMin  = time.Second
	DefaultBackoffMax  = time.Hour
	DefaultConcurrency = 16
)

// WithDefaults fills an endpoint's unset keys.
func (e Endpoint) WithDefaults() Endpoint {
	if e.Timeout == 0 {
		e.Timeout = DefaultTimeout
	}
	if e.MaxAttempts == 0 {
		e.MaxAttempts = DefaultMaxAttempts
	}
	if e.BackoffMin == 0 {
		e.BackoffMin = DefaultBackoffMin
	}
	if e.BackoffMax == 0 {
		e.BackoffMax = max(DefaultBackoffMax, e.BackoffMin)
	}
	if e.Concurrency == 0 {
		e.Concurrency = DefaultConcurrency
	}
	return e
}

// Names returns the endpoints' names, sorted.
func (c Config) Names() []string {
	names := make([]string, 0, len(c.Endpoints))
	for n := range c.Endpoints {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Validate reports every problem through bad, naming the key.
func (c Config) Validate(bad func(key, format string, args ...any)) {
	if u, err := url.Parse(c.Source); c.Source == "" || err != nil {
		bad("events.source", "must be a URI reference, got %q", c.Source)
	} else if u.String() == "" {
		bad("events.source", "must be a URI reference, got %q", c.Source)
	}
	if c.PollInterval <= 0 || c.PollInterval > time.Minute {
		bad("events.poll_interval", "must be a positive duration of at most 1m, got %v", c.PollInterval)
	}
	if c.SweepInterval <= 0 || c.SweepInterval > time.Hour {
		bad("events.sweep_interval", "must be a positive duration of at most 1h, got %v", c.SweepInterval)
	}
	if c.Retention < 0 {
		bad("events.retention", "must not be negative (0 keeps everything), got %v", c.Retention)
	}
	for _, name := range c.Names() {
		e := c.Endpoints[name]
		key := "events.endpoints." + name
		if name == "" || strings.ContainsAny(name, " \t\n.") {
			bad(key, "an endpoint's name must be a word without spaces or dots")
		}
		u, err := url.Parse(e.URL)
		switch {
		case e.URL == "":
			bad(key+".url", "is required")
		case err != nil:
			bad(key+".url", "%q is not a URL: %v", e.URL, err)
		case u.Scheme != "http" && u.Scheme != "https":
			bad(key+".url", "must be an http or https URL, got %q", e.URL)
		case u.Host == "":
			bad(key+".url", "has no host: %q", e.URL)
		}
		for i, t := range e.Types {
			p, wild := strings.CutSuffix(t, "*")
			if t == "*" || (!wild && slices.Contains(Types, t)) {
				continue
			}
			if wild && strings.HasSuffix(p, ".") && slices.ContainsFunc(Types, func(x string) bool { return strings.HasPrefix(x, p) }) {
				continue
			}
			bad(fmt.Sprintf("%s.types[%d]", key, i), "%q is not an event type or a prefix of one (%s)", t, strings.Join(Types, ", "))
		}
		if len(e.Secrets) == 0 {
			bad(key+".secrets", "at least one signing secret (whsec_ and base64 of at least 24 random bytes) is required")
		}
		for i, s := range e.Secrets {
			if _, err := s.key(); err != nil {
				bad(fmt.Sprintf("%s.secrets[%d]", key, i), "%v", err)
			}
		}
		if e.Timeout < 0 || e.Timeout > 5*time.Minute {
			bad(key+".timeout", "must be a positive duration of at most 5m, got %v", e.Timeout)
		}
		if e.MaxAttempts < 0 || e.MaxAttempts > 100 {
			bad(key+".max_attempts", "must be between 1 and 100, got %d", e.MaxAttempts)
		}
		if e.BackoffMin < 0 || e.BackoffMax < 0 || (e.BackoffMax > 0 && e.BackoffMin > e.BackoffMax) {
			bad(key+".backoff_min", "must be positive and at most backoff_max, got %v and %v", e.BackoffMin, e.BackoffMax)
		}
		if e.Concurrency < 0 || e.Concurrency > 1024 {
			bad(key+".concurrency", "must be between 1 and 1024, got %d", e.Concurrency)
		}
	}
}
