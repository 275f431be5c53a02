// Package config loads gavel's configuration: built-in defaults, then a YAML
// file, then GAVEL_ environment variables, then command-line flags. Unknown
// keys and invalid values are errors that name the key, all reported at once.
package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"

	"github.com/gavel/gavel/console"
	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/events"
	"github.com/gavel/gavel/internal/replay"
	"github.com/gavel/gavel/internal/tracing"
	"github.com/gavel/gavel/plugins/builtin"
	"github.com/gavel/gavel/review"
)

// Config is the whole of gavel's configuration.
type Config struct {
	// File is the YAML file read, if any: --config, or ./gavel.yaml.
	File string `koanf:"-"`
	// DataDir holds the SQLite ledger, persisted bundles and detector state.
	DataDir   string          `koanf:"data_dir"`
	Server    ServerConfig    `koanf:"server"`
	Auth      AuthConfig      `koanf:"auth"`
	Decision  DecisionConfig  `koanf:"decision"`
	Policy    PolicyConfig    `koanf:"policy"`
	Detectors DetectorsConfig `koanf:"detectors"`
	Ledger    LedgerConfig    `koanf:"ledger"`
	Appeals   AppealsConfig   `koanf:"appeals"`
	Log       LogConfig       `koanf:"log"`
	// DecisionLogs ships every decision, masked by the bundle's
	// data.system.log.mask policy, with OPA's decision-log plugin.
	DecisionLogs DecisionLogsConfig `koanf:"decision_logs"`
	// Console is the web console under /console/.
	Console console.Config `koanf:"console"`
	// Replay is the replay service (candidate bundles replayed on history).
	Replay replay.ServiceConfig `koanf:"replay"`
	// Tracing exports OpenTelemetry traces over OTLP; off by default.
	Tracing tracing.Config `koanf:"tracing"`
	// Lists are the runtime block and allow lists.
	Lists ListsConfig `koanf:"lists"`
	// Review is the review queue of cases and appeals.
	Review review.Config `koanf:"review"`
	// Events are delivered to the marketplace's endpoints (package events).
	Events events.Config `koanf:"events"`
}

// ListsConfig is the runtime lists' part.
type ListsConfig struct {
	// HashKey keys the hashes of personal list values (HMAC-SHA-256, as the
	// linkage detector's HASH_KEY). Empty: the linkage detector's
	// env.hash_key; when that is empty too, a random key kept in
	// <data_dir>/lists.key. Replicas sharing a PostgreSQL ledger must set
	// the same key; changing it makes hashed entries unmatchable.
	HashKey Secret `koanf:"hash_key"`
	// SyncInterval is how often each replica reads list changes from the
	// ledger: a change is matched everywhere within about this long.
	SyncInterval time.Duration `koanf:"sync_interval"`
}

// ServerConfig is the Connect/gRPC/gRPC-Web listener.
type ServerConfig struct {
	Listen            string        `koanf:"listen"`
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout"`
	ReadTimeout       time.Duration `koanf:"read_timeout"`
	WriteTimeout      time.Duration `koanf:"write_timeout"`
	IdleTimeout       time.Duration `koanf:"idle_timeout"`
	MaxHeaderBytes    int           `koanf:"max_header_bytes"`
	MaxRequestBytes   int           `koanf:"max_request_bytes"`
	ShutdownTimeout   time.Duration `koanf:"shutdown_timeout"`
	// Reflection serves gRPC server reflection; with auth on it needs a
	// credential like any procedure.
	Reflection bool `koanf:"reflection"`
	// Metrics serves Prometheus metrics: on MetricsListen without a
	// credential when that is set, else on /metrics of the main port, where
	// with auth on it needs the metrics or admin role.
	Metrics       bool   `koanf:"metrics"`
	MetricsListen string `koanf:"metrics_listen"`
	// Pprof serves Go's profiles (net/http/pprof) under /debug/pprof/ on
	// MetricsListen, which has no authentication: off by default, and to
	// be bound to a loopback or private address.
	Pprof bool `koanf:"pprof"`
	// TLS serves the listener over TLS, and mTLS with a client CA.
	TLS TLSConfig `koanf:"tls"`
	// MaxInFlight caps the requests being served at once; past it callers
	// get resource_exhausted at once instead of queueing. 0 is no cap.
	// DefaultMaxInFlight by default.
	MaxInFlight int `koanf:"max_in_flight"`
	// LatencyTarget lowers that cap, down to MinInFlight, while requests
	// served with the server busy take longer than it, and raises it back
	// while they take less: gavel admits what it answers in time and
	// refuses the rest at once. 0 keeps the cap at MaxInFlight.
	LatencyTarget time.Duration `koanf:"latency_target"`
	MinInFlight   int           `koanf:"min_in_flight"`
	// ReadyNeedsLedger makes readiness NOT_SERVING while the ledger is
	// unreachable or the journal holds decisions for it.
	ReadyNeedsLedger bool `koanf:"ready_needs_ledger"`
}

// TLSConfig is the listener's certificate and, for mTLS, the CA that client
// certificates must chain to. Files are re-read when they change.
type TLSConfig struct {
	CertFile     string `koanf:"cert_file"`
	KeyFile      string `koanf:"key_file"`
	ClientCAFile string `koanf:"client_ca_file"`
	// ClientAuth is "require" (default with a client CA: every caller
	// presents a certificate) or "optional" (a certificate or a token).
	ClientAuth string `koanf:"client_auth"`
}

// Enabled reports whether the listener serves TLS.
func (t TLSConfig) Enabled() bool { return t.CertFile != "" }

// AuthConfig lists the bearer tokens callers present. With no tokens, gavel
// serves without authentication, and only on a loopback address.
type AuthConfig struct {
	Tokens map[string]Token `koanf:"tokens"`
	// Clients name callers by the common name of their verified client
	// certificate (server.tls.client_ca_file), as tokens do.
	Clients map[string]Client `koanf:"clients"`
}

// Disabled reports whether no credential is configured: gavel then serves
// without authentication (Validate allows that on loopback only).
func (a AuthConfig) Disabled() bool { return len(a.Tokens) == 0 && len(a.Clients) == 0 }

// Token is one caller's credential and what it may do.
type Token struct {
	Secret Secret   `koanf:"secret"`
	Roles  []string `koanf:"roles"`
	Limit  Rate     `koanf:",squash"`
}

// Client is a caller named by its client certificate.
type Client struct {
	CommonName string   `koanf:"common_name"`
	Roles      []string `koanf:"roles"`
	Limit      Rate     `koanf:",squash"`
}

// Rate is a caller's token bucket: Rate requests a second on average,
// bursts of Burst. Rate 0 is unlimited.
type Rate struct {
	Rate  float64 `koanf:"rate"`
	Burst int     `koanf:"burst"`
}

// Roles a token may hold.
const (
	RoleDecide = "decide" // Decide
	RoleRead   = "read"   // GetDecision, ListDecisions
	RoleReview = "review" // appeals
	RoleAdmin  = "admin"  // GetStatus
	// RoleMetrics reads /metrics on the main port.
	RoleMetrics = "metrics"
)

// Roles are every role a caller may hold.
var Roles = []string{RoleDecide, RoleRead, RoleReview, RoleAdmin, RoleMetrics}

var knownRoles = Roles

// Secret is a string that never prints.
type Secret string

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// MarshalText keeps secrets out of printed configuration.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// DecisionConfig is the decision engine's part.
type DecisionConfig struct {
	Checkpoints   []string      `koanf:"checkpoints"`
	FailureAction string        `koanf:"failure_action"`
	PolicyTimeout time.Duration `koanf:"policy_timeout"`
	SignalTimeout time.Duration `koanf:"signal_timeout"`
}

// PolicyConfig says where the enforcement bundle comes from.
type PolicyConfig struct {
	// Source is "embedded" (the policies compiled into gavel), a folder, a
	// file:// tarball or an http(s) bundle server URL.
	Source     string        `koanf:"source"`
	Entrypoint string        `koanf:"entrypoint"`
	ReadyWait  time.Duration `koanf:"ready_wait"`
	Polling    PollingConfig `koanf:"polling"`
	// Signing verifies the bundle's signature (.signatures.json).
	Signing SigningConfig `koanf:"signing"`
	// Shadow evaluates a candidate bundle beside the active one on live
	// traffic, never enforced; its verdicts go to the ledger.
	Shadow ShadowConfig `koanf:"shadow"`
	// Optimize evaluates each activated bundle's entry point as `opa build
	// -O=1` would have built it, once OPA's optimizer has (in the
	// background, within a few seconds; the bundle serves as written until
	// then, or if the optimizer fails on it). Same decisions, less work per
	// evaluation. Applies to the shadow bundle too.
	Optimize bool `koanf:"optimize"`
}

// ShadowConfig is the candidate bundle evaluated in shadow. An empty Source
// turns shadowing off.
type ShadowConfig struct {
	// Source is a folder, a file:// tarball or an http(s) bundle server URL.
	Source     string        `koanf:"source"`
	Entrypoint string        `koanf:"entrypoint"` // default: policy.entrypoint
	Polling    PollingConfig `koanf:"polling"`    // default: policy.polling
}

// SigningConfig is the key that bundle signatures are verified with.
type SigningConfig struct {
	// KeyID is the key's name; a signature must name the same key id.
	KeyID string `koanf:"key_id"`
	// PublicKeyFile is a PEM public key file; PublicKey is the PEM text
	// itself, or the shared secret for HS* algorithms. Set one.
	PublicKeyFile string `koanf:"public_key_file"`
	PublicKey     Secret `koanf:"public_key"`
	Algorithm     string `koanf:"algorithm"` // default RS256
	// Required refuses unsigned bundles. Unset, it is true for a tarball or
	// a bundle server and false for embedded policies or a folder
	// (development); Load fills it in.
	Required *bool `koanf:"required"`
}

// signingAlgorithms are the JWT algorithms OPA verifies bundles with.
var signingAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "HS256", "HS384", "HS512"}

// SigningRequired reports whether unsigned bundles are refused: the
// signing.required setting, or by default true unless the source is the
// embedded policies or a local folder.
func (p PolicyConfig) SigningRequired() bool {
	if p.Signing.Required != nil {
		return *p.Signing.Required
	}
	return !developmentSource(p.Source)
}

// developmentSource reports whether a policy source is a development one:
// the embedded policies or a folder on disk (not a tarball, not a server).
func developmentSource(src string) bool {
	if src == "embedded" {
		return true
	}
	path := src
	if strings.Contains(src, "://") {
		rest, ok := strings.CutPrefix(src, "file://")
		if !ok {
			return false // http(s)
		}
		path = rest
	}
	if fi, err := os.Stat(path); err == nil {
		return fi.IsDir()
	}
	return !strings.HasSuffix(path, ".tar.gz") && !strings.HasSuffix(path, ".tgz")
}

// SigningKey is the verification key's PEM text or secret, read from
// public_key_file when that is set; empty when no key is configured.
func (p PolicyConfig) SigningKey() (string, error) {
	if f := p.Signing.PublicKeyFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("policy.signing.public_key_file: %w", err)
		}
		return string(b), nil
	}
	return string(p.Signing.PublicKey), nil
}

// PollingConfig is how often a bundle source is checked for a new revision.
type PollingConfig struct {
	Min time.Duration `koanf:"min"`
	Max time.Duration `koanf:"max"`
}

// DetectorsConfig lists the detector plugins.
type DetectorsConfig struct {
	// Dir is where detector binaries are found by default; empty means the
	// folder of the gavel executable.
	Dir string `koanf:"dir"`
	// OnFailure is "degrade" (start and report the detector unavailable) or
	// "refuse" (do not start) when a detector cannot start.
	OnFailure    string        `koanf:"on_failure"`
	StartTimeout time.Duration `koanf:"start_timeout"`
	// DefaultTimeout bounds each call of a detector that sets no timeout.
	DefaultTimeout    time.Duration `koanf:"default_timeout"`
	RestartBackoffMin time.Duration `koanf:"restart_backoff_min"`
	RestartBackoffMax time.Duration `koanf:"restart_backoff_max"`
	// BreakerFailures consecutive failed calls open a detector's circuit
	// breaker for BreakerCooldown: it is reported unavailable, not called.
	// A call answered late but within BreakerGrace past its timeout is slow
	// (a saturated machine), not failed; one not answered by then is hung.
	BreakerFailures int                       `koanf:"breaker_failures"`
	BreakerCooldown time.Duration             `koanf:"breaker_cooldown"`
	BreakerGrace    time.Duration             `koanf:"breaker_grace"`
	Plugins         map[string]DetectorConfig `koanf:"plugins"`
	// Budgets bound each checkpoint's whole detector fan-out ("default" for
	// checkpoints not listed; a budget of a checkpoint not configured is
	// unused): detectors run in parallel and share their checkpoint's
	// budget; a detector's timeout only caps its own part.
	Budgets map[string]time.Duration `koanf:"budgets"`
}

// DetectorConfig is one detector plugin.
type DetectorConfig struct {
	Enabled bool `koanf:"enabled"`
	// Path to the binary; empty means <dir>/gavel-detector-<name>.
	Path string `koanf:"path"`
	// SHA256 pins the binary; empty computes and logs it at start.
	SHA256   string            `koanf:"sha256"`
	Timeout  time.Duration     `koanf:"timeout"`
	Required bool              `koanf:"required"`
	Env      map[string]string `koanf:"env"`
	// Mode is "process" (a go-plugin binary, the default) or "in_process"
	// (a built-in detector run inside gavel: no process hop; see the
	// README's isolation trade-off). The built-in detectors default to
	// in_process.
	Mode string `koanf:"mode"`
}

// Detector modes.
const (
	ModeProcess   = "process"
	ModeInProcess = "in_process"
)

// LedgerConfig selects the ledger backend.
type LedgerConfig struct {
	Driver    string        `koanf:"driver"` // sqlite or postgres
	Path      string        `koanf:"path"`   // sqlite file; empty means <data_dir>/ledger.db
	DSN       Secret        `koanf:"dsn"`    // postgres
	MaxConns  int           `koanf:"max_conns"`
	StrikeTTL time.Duration `koanf:"strike_ttl"`
	// Timeout bounds each decision's request-id lookup and commit; past it
	// the decision fails over to the journal.
	Timeout    time.Duration `koanf:"timeout"`
	StoreInput bool          `koanf:"store_input"`
	SQLite     SQLiteConfig  `koanf:"sqlite"`
}

// SQLiteConfig tunes the SQLite ledger.
type SQLiteConfig struct {
	// Synchronous is "normal" (survives a crash of gavel's process) or
	// "full" (also survives power loss and OS crashes, an fsync per commit).
	Synchronous string `koanf:"synchronous"`
	// CommitBatch is the most decisions committed in one transaction when
	// many arrive at once (group commit); 1 commits each alone.
	CommitBatch int `koanf:"commit_batch"`
}

// AppealsConfig is the internal complaint-handling system.
type AppealsConfig struct {
	// Window is how long after a decision its appeal may be filed.
	Window time.Duration `koanf:"window"`
	// ClaimTTL is how long a reviewer's claim on an open appeal lasts.
	ClaimTTL time.Duration `koanf:"claim_ttl"`
	// ClearFor is how long an overturn clears the rules that fired in the
	// overturned decision, on their evidence, for the account. Zero: the
	// appeal window.
	ClearFor time.Duration `koanf:"clear_for"`
}

// DecisionLogsConfig is OPA's decision-log plugin on the active bundle. It
// is off unless URL is set or Console is true.
type DecisionLogsConfig struct {
	URL          string        `koanf:"url"`           // the collector's base URL; "" uploads nothing
	Path         string        `koanf:"path"`          // the resource events are POSTed to
	BufferEvents int           `koanf:"buffer_events"` // past it OPA drops the oldest events
	MinDelay     time.Duration `koanf:"min_delay"`     // between uploads (whole seconds)
	MaxDelay     time.Duration `koanf:"max_delay"`
	Console      bool          `koanf:"console"` // also write each masked event to gavel's log
	Token        Secret        `koanf:"token"`   // bearer token for the collector, optional
}

// Enabled reports whether decisions are logged anywhere.
func (d DecisionLogsConfig) Enabled() bool { return d.URL != "" || d.Console }

// LogConfig is the structured log.
type LogConfig struct {
	Level  string `koanf:"level"`  // debug, info, warn, error
	Format string `koanf:"format"` // json or text
}

// Defaults returns the built-in configuration: SQLite under ./data, the
// built-in detectors, the policies compiled into gavel, loopback only.
func Defaults() map[string]any {
	return map[string]any{
		"data_dir":                   "data",
		"server.listen":              "127.0.0.1:8080",
		"server.read_header_timeout": "5s",
		"server.read_timeout":        "10s",
		"server.write_timeout":       "15s",
		"server.idle_timeout":        "120s",
		"server.max_header_bytes":    64 << 10,
		"server.max_request_bytes":   256 << 10,
		"server.shutdown_timeout":    "20s",
		"server.reflection":          true,
		"server.metrics":             true,
		"server.metrics_listen":      "",
		"server.pprof":               false,
		"server.tls.cert_file":       "",
		"server.tls.key_file":        "",
		"server.tls.client_ca_file":  "",
		"server.tls.client_auth":     "",
		"server.max_in_flight":       DefaultMaxInFlight,
		"server.latency_target":      "50ms",
		"server.min_in_flight":       8,
		"server.ready_needs_ledger":  true,
		"decision.checkpoints": []string{
			"signup", "login", "profile_update", "identity_verification",
			"payout_method_change", "proposal_submit", "contract_start", "withdrawal",
			"phone_verification", "email_verification",
		},
		"decision.failure_action":       "challenge",
		"decision.policy_timeout":       "250ms",
		"decision.signal_timeout":       "300ms",
		"policy.source":                 "embedded",
		"policy.entrypoint":             "data.gavel.enforcement.decision",
		"policy.ready_wait":             "30s",
		"policy.polling.min":            "10s",
		"policy.polling.max":            "30s",
		"policy.shadow.source":          "",
		"policy.shadow.entrypoint":      "",
		"policy.optimize":               true,
		"policy.shadow.polling.min":     "0s",
		"policy.shadow.polling.max":     "0s",
		"detectors.on_failure":          "degrade",
		"detectors.start_timeout":       "10s",
		"detectors.default_timeout":     "250ms",
		"detectors.restart_backoff_min": "200ms",
		"detectors.restart_backoff_max": "30s",
		"detectors.breaker_failures":    5,
		"detectors.breaker_cooldown":    "10s",
		"detectors.breaker_grace":       "1s",
		"detectors.plugins.email":       map[string]any{"enabled": true, "mode": ModeInProcess},
		"detectors.plugins.velocity":    map[string]any{"enabled": true, "mode": ModeInProcess},
		"detectors.plugins.linkage":     map[string]any{"enabled": true, "mode": ModeInProcess},
		"detectors.plugins.document":    map[string]any{"enabled": true, "mode": ModeInProcess},
		"detectors.plugins.geo":         map[string]any{"enabled": true, "mode": ModeInProcess},
		"detectors.plugins.phone":       map[string]any{"enabled": true, "mode": ModeInProcess},
		"detectors.plugins.model":       map[string]any{"enabled": true, "mode": ModeInProcess},
		"detectors.budgets":             map[string]any{"default": "150ms", "signup": "150ms", "login": "100ms", "identity_verification": "250ms", "payout_method_change": "250ms", "withdrawal": "250ms"},
		"ledger.driver":                 "sqlite",
		"ledger.max_conns":              8,
		"ledger.strike_ttl":             "2160h",
		"ledger.timeout":                "1s",
		"ledger.store_input":            true,
		"ledger.sqlite.synchronous":     "normal",
		"ledger.sqlite.commit_batch":    64,
		"appeals.window":                "4320h",
		"appeals.claim_ttl":             "30m",
		"console.enabled":               true,
		"console.session_ttl":           "8h",
		"console.secure_cookie":         false,
		"console.review_due":            "48h",
		"review.appeal_sla":             "48h",
		"replay.max_bundle_bytes":       8 << 20,
		"replay.max_running":            2,
		"appeals.clear_for":             "0s",
		"log.level":                     "info",
		"log.format":                    "text",
		"decision_logs.url":             "",
		"decision_logs.path":            "/logs",
		"decision_logs.buffer_events":   10000,
		"decision_logs.min_delay":       "5s",
		"decision_logs.max_delay":       "30s",
		"decision_logs.console":         false,
		"decision_logs.token":           "",
		"lists.hash_key":                "",
		"lists.sync_interval":           "250ms",
	}
}

// DefaultMaxInFlight is server.max_in_flight's default.
const DefaultMaxInFlight = 256

// DefaultFile is the configuration file read from the working directory
// when --config is not given.
const DefaultFile = "gavel.yaml"

// Flags registers the command-line flags that override configuration keys.
func Flags(fs *pflag.FlagSet) {
	fs.String("config", "", "YAML configuration file (default: ./gavel.yaml when present)")
	fs.String("listen", "", "address to serve on (server.listen)")
	fs.String("data-dir", "", "folder for the ledger, bundles and detector state (data_dir)")
	fs.String("policy-source", "", "embedded, a bundle folder, a file:// tarball or a bundle server URL (policy.source)")
	fs.String("ledger-driver", "", "sqlite or postgres (ledger.driver)")
	fs.String("ledger-dsn", "", "PostgreSQL DSN (ledger.dsn)")
	fs.String("log-level", "", "debug, info, warn or error (log.level)")
	fs.String("log-format", "", "text or json (log.format)")
}

var flagKeys = map[string]string{
	"listen":        "server.listen",
	"data-dir":      "data_dir",
	"policy-source": "policy.source",
	"ledger-driver": "ledger.driver",
	"ledger-dsn":    "ledger.dsn",
	"log-level":     "log.level",
	"log-format":    "log.format",
}

// clientVars are GAVEL_ variables read by the client commands (gavel decide,
// appeal, status …), not configuration keys of the server.
var clientVars = map[string]bool{"addr": true, "token": true}

// Load builds the configuration from defaults, the file named by --config,
// the environment (GAVEL_SECTION__KEY) and the changed flags. environ is
// the process environment (os.Environ in production).
func Load(fs *pflag.FlagSet, environ []string) (*Config, error) {
	k := koanf.New(".")
	defaults := Defaults()
	maps.Copy(defaults, tracing.Defaults())
	maps.Copy(defaults, events.Defaults())
	if err := k.Load(confmap.Provider(defaults, "."), nil); err != nil {
		return nil, fmt.Errorf("load defaults: %w", err)
	}
	path, _ := fs.GetString("config")
	if path == "" {
		// As most tools do, a gavel.yaml in the working directory is read
		// when no --config names another (gavel serve says which it read).
		if _, err := os.Stat(DefaultFile); err == nil {
			path = DefaultFile
		}
	}
	if path != "" {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return nil, fmt.Errorf("load config file %s: %w", path, err)
		}
	}
	if err := k.Load(env.Provider(".", env.Opt{
		Prefix:      "GAVEL_",
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(key, v string) (string, any) {
			key = strings.ToLower(strings.TrimPrefix(key, "GAVEL_"))
			if strings.HasPrefix(key, "detector_") || strings.HasPrefix(key, "test_") || clientVars[key] {
				return "", nil // detector plugin settings, test knobs and the client commands' variables
			}
			key = strings.ReplaceAll(key, "__", ".")
			if k.Get(key) != nil {
				if _, isList := k.Get(key).([]string); isList || isSlice(k.Get(key)) {
					return key, splitList(v)
				}
			}
			return key, v
		},
	}), nil); err != nil {
		return nil, fmt.Errorf("load environment: %w", err)
	}
	if err := k.Load(posflag.ProviderWithFlag(fs, ".", k, func(f *pflag.Flag) (string, any) {
		key, ok := flagKeys[f.Name]
		if !ok || !f.Changed {
			return "", nil
		}
		return key, f.Value.String()
	}), nil); err != nil {
		return nil, fmt.Errorf("load flags: %w", err)
	}

	var cfg Config
	dc := &mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
			mapstructure.TextUnmarshallerHookFunc(),
		),
		WeaklyTypedInput: true,
		ErrorUnused:      true,
		Result:           &cfg,
		TagName:          "koanf",
	}
	if err := k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{DecoderConfig: dc}); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	cfg.File = path
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Policy.Signing.Required == nil { // the effective default, for Print
		req := cfg.Policy.SigningRequired()
		cfg.Policy.Signing.Required = &req
	}
	return &cfg, nil
}

func isSlice(v any) bool {
	switch v.(type) {
	case []any, []string:
		return true
	}
	return false
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Problems lists every configuration problem found.
type Problems []string

func (p Problems) Error() string {
	return "invalid configuration:\n  - " + strings.Join(p, "\n  - ")
}

// Validate checks the configuration and reports every problem at once.
func (c *Config) Validate() error {
	var p Problems
	bad := func(key, format string, args ...any) {
		p = append(p, key+": "+fmt.Sprintf(format, args...))
	}
	positive := func(key string, d time.Duration) {
		if d <= 0 {
			bad(key, "must be a positive duration, got %v", d)
		}
	}

	if c.DataDir == "" {
		bad("data_dir", "is required")
	}
	loopback := false
	if host, _, err := net.SplitHostPort(c.Server.Listen); err != nil {
		bad("server.listen", "%q is not host:port", c.Server.Listen)
	} else {
		loopback = isLoopback(host)
	}
	positive("server.read_header_timeout", c.Server.ReadHeaderTimeout)
	positive("server.read_timeout", c.Server.ReadTimeout)
	positive("server.write_timeout", c.Server.WriteTimeout)
	positive("server.idle_timeout", c.Server.IdleTimeout)
	positive("server.shutdown_timeout", c.Server.ShutdownTimeout)
	if c.Server.MaxRequestBytes < 1024 {
		bad("server.max_request_bytes", "must be at least 1024, got %d", c.Server.MaxRequestBytes)
	}
	if c.Server.MaxHeaderBytes < 4096 {
		bad("server.max_header_bytes", "must be at least 4096, got %d", c.Server.MaxHeaderBytes)
	}

	if c.Auth.Disabled() && !loopback && c.Server.Listen != "" {
		bad("auth.tokens", "at least one token (or auth.clients entry) is required when server.listen (%s) is not a loopback address", c.Server.Listen)
	}
	c.validateEdge(bad)
	secrets := map[Secret]string{}
	for _, name := range sortedKeys(c.Auth.Tokens) {
		t := c.Auth.Tokens[name]
		key := "auth.tokens." + name
		if len(t.Secret) < 16 {
			bad(key+".secret", "must be at least 16 characters")
		}
		if other, dup := secrets[t.Secret]; dup && t.Secret != "" {
			bad(key+".secret", "is the same as auth.tokens.%s.secret", other)
		}
		secrets[t.Secret] = name
		if len(t.Roles) == 0 {
			bad(key+".roles", "at least one of %s", strings.Join(knownRoles, ", "))
		}
		for _, r := range t.Roles {
			if !slices.Contains(knownRoles, r) {
				bad(key+".roles", "unknown role %q (want %s)", r, strings.Join(knownRoles, ", "))
			}
		}
	}

	if len(c.Decision.Checkpoints) == 0 {
		bad("decision.checkpoints", "at least one checkpoint is required")
	}
	seen := map[string]bool{}
	for _, cp := range c.Decision.Checkpoints {
		if !decision.ValidCheckpointName(cp) {
			bad("decision.checkpoints", "%q must be lower_snake_case", cp)
		}
		if seen[cp] {
			bad("decision.checkpoints", "%q is listed twice", cp)
		}
		seen[cp] = true
	}
	if _, err := decision.ParseAction(c.Decision.FailureAction); err != nil {
		bad("decision.failure_action", "%v", err)
	}
	positive("decision.policy_timeout", c.Decision.PolicyTimeout)
	positive("decision.signal_timeout", c.Decision.SignalTimeout)

	if c.Policy.Source == "" {
		bad("policy.source", "is required (embedded, a folder, file://… or http(s)://…)")
	}
	if !strings.HasPrefix(c.Policy.Entrypoint, "data.") {
		bad("policy.entrypoint", "must be a reference such as data.gavel.enforcement.decision")
	}
	positive("policy.ready_wait", c.Policy.ReadyWait)
	positive("policy.polling.min", c.Policy.Polling.Min)
	if c.Policy.Polling.Max < c.Policy.Polling.Min {
		bad("policy.polling.max", "must not be less than policy.polling.min")
	}
	c.validateSigning(bad)
	if sh := c.Policy.Shadow; sh.Source != "" {
		if sh.Source == "embedded" {
			bad("policy.shadow.source", "must be a folder, file://… or http(s)://… (the embedded policies are the active ones)")
		}
		if sh.Entrypoint != "" && !strings.HasPrefix(sh.Entrypoint, "data.") {
			bad("policy.shadow.entrypoint", "must be a reference such as data.gavel.enforcement.decision")
		}
		if sh.Polling.Min < 0 || (sh.Polling.Min > 0 && sh.Polling.Min < time.Second) {
			bad("policy.shadow.polling.min", "must be 0 (policy.polling.min) or at least 1s, got %v", sh.Polling.Min)
		}
		if sh.Polling.Max != 0 && sh.Polling.Max < sh.Polling.Min {
			bad("policy.shadow.polling.max", "must not be less than policy.shadow.polling.min")
		}
	}

	if c.Detectors.OnFailure != "degrade" && c.Detectors.OnFailure != "refuse" {
		bad("detectors.on_failure", "must be degrade or refuse, got %q", c.Detectors.OnFailure)
	}
	positive("detectors.start_timeout", c.Detectors.StartTimeout)
	positive("detectors.default_timeout", c.Detectors.DefaultTimeout)
	for _, cp := range sortedKeys(c.Detectors.Budgets) {
		b, key := c.Detectors.Budgets[cp], "detectors.budgets."+cp
		switch {
		case b <= 0:
			bad(key, "must be a positive duration")
		case c.Decision.SignalTimeout > 0 && b > c.Decision.SignalTimeout:
			bad(key, "%v is more than decision.signal_timeout (%v), which bounds the whole fan-out", b, c.Decision.SignalTimeout)
		}
	}
	positive("detectors.restart_backoff_min", c.Detectors.RestartBackoffMin)
	positive("detectors.breaker_cooldown", c.Detectors.BreakerCooldown)
	positive("detectors.breaker_grace", c.Detectors.BreakerGrace)
	if c.Detectors.BreakerFailures < 1 {
		bad("detectors.breaker_failures", "must be at least 1, got %d", c.Detectors.BreakerFailures)
	}
	if c.Detectors.RestartBackoffMax < c.Detectors.RestartBackoffMin {
		bad("detectors.restart_backoff_max", "must not be less than detectors.restart_backoff_min")
	}
	for _, name := range sortedKeys(c.Detectors.Plugins) {
		d := c.Detectors.Plugins[name]
		key := "detectors.plugins." + name
		if !decision.ValidCheckpointName(name) {
			bad(key, "detector names must be lower_snake_case")
		}
		if d.Timeout < 0 {
			bad(key+".timeout", "must be a positive duration (or unset for detectors.default_timeout)")
		}
		if d.SHA256 != "" && !isHex64(d.SHA256) {
			bad(key+".sha256", "must be 64 hexadecimal characters")
		}
		switch d.Mode {
		case "", ModeProcess:
		case ModeInProcess:
			if _, ok := builtin.Opener(name); !ok {
				bad(key+".mode", "in_process is for the built-in detectors (%s) only", strings.Join(builtin.Names(), ", "))
			}
		default:
			bad(key+".mode", "must be %s or %s, got %q", ModeProcess, ModeInProcess, d.Mode)
		}
	}

	switch c.Ledger.Driver {
	case "sqlite":
	case "postgres":
		if c.Ledger.DSN == "" {
			bad("ledger.dsn", "is required when ledger.driver is postgres")
		}
	default:
		bad("ledger.driver", "must be sqlite or postgres, got %q", c.Ledger.Driver)
	}
	if c.Ledger.MaxConns < 1 {
		bad("ledger.max_conns", "must be at least 1")
	}
	if s := c.Ledger.SQLite.Synchronous; s != "normal" && s != "full" {
		bad("ledger.sqlite.synchronous", "must be normal or full, got %q", s)
	}
	if n := c.Ledger.SQLite.CommitBatch; n < 1 || n > 1024 {
		bad("ledger.sqlite.commit_batch", "must be between 1 and 1024, got %d", n)
	}
	positive("ledger.strike_ttl", c.Ledger.StrikeTTL)
	positive("ledger.timeout", c.Ledger.Timeout)
	positive("appeals.window", c.Appeals.Window)
	positive("appeals.claim_ttl", c.Appeals.ClaimTTL)
	for _, err := range []error{c.Console.Validate(), c.Replay.Validate(), c.Review.Validate()} {
		if err != nil {
			p = append(p, strings.Split(err.Error(), "\n")...)
		}
	}
	if c.Appeals.ClearFor < 0 {
		bad("appeals.clear_for", "must not be negative (0 means the appeal window), got %v", c.Appeals.ClearFor)
	}

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "must be text or json, got %q", c.Log.Format)
	}
	c.validateDecisionLogs(bad)
	c.Tracing.Validate(bad)
	c.Events.Validate(bad)
	if c.Lists.SyncInterval <= 0 || c.Lists.SyncInterval > time.Second {
		bad("lists.sync_interval", "must be a positive duration of at most 1s (replicas see list changes within a second), got %v", c.Lists.SyncInterval)
	}
	if c.Lists.HashKey != "" && len(c.Lists.HashKey) < 16 {
		bad("lists.hash_key", "must be at least 16 characters")
	}
	if len(p) > 0 {
		return p
	}
	return nil
}

func (c *Config) validateSigning(bad func(key, format string, args ...any)) {
	sg := c.Policy.Signing
	switch {
	case sg.PublicKeyFile != "" && sg.PublicKey != "":
		bad("policy.signing", "set public_key_file or public_key, not both")
	case sg.PublicKeyFile != "":
		if _, err := c.Policy.SigningKey(); err != nil {
			bad("policy.signing.public_key_file", "%v", errors.Unwrap(err))
		}
	}
	hasKey := sg.PublicKeyFile != "" || sg.PublicKey != ""
	if hasKey && sg.KeyID == "" {
		bad("policy.signing.key_id", "is required with a public key")
	}
	if !hasKey && sg.KeyID != "" {
		bad("policy.signing", "key_id %q has no public_key_file or public_key", sg.KeyID)
	}
	if sg.Algorithm != "" && !slices.Contains(signingAlgorithms, sg.Algorithm) {
		bad("policy.signing.algorithm", "%q: want one of %s", sg.Algorithm, strings.Join(signingAlgorithms, ", "))
	}
	if c.Policy.SigningRequired() && !hasKey {
		if sg.Required != nil {
			bad("policy.signing", "required is true but no key is set (key_id and public_key_file or public_key)")
		} else {
			bad("policy.signing", "policy.source %s is a tarball or a bundle server, so signatures are required: set key_id and public_key_file (or public_key), or required: false to accept unsigned bundles", c.Policy.Source)
		}
	}
}

func (c *Config) validateDecisionLogs(bad func(key, format string, args ...any)) {
	d := c.DecisionLogs
	if d.URL != "" {
		if u, err := url.Parse(d.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("decision_logs.url", "must be an http:// or https:// URL with a host, got %q", d.URL)
		}
	}
	if d.Token != "" && d.URL == "" {
		bad("decision_logs.token", "is set but decision_logs.url is empty")
	}
	if !d.Enabled() {
		return
	}
	if !strings.HasPrefix(d.Path, "/") {
		bad("decision_logs.path", "must start with /, got %q", d.Path)
	}
	if d.BufferEvents < 1 {
		bad("decision_logs.buffer_events", "must be at least 1, got %d", d.BufferEvents)
	}
	if d.MinDelay < time.Second {
		bad("decision_logs.min_delay", "must be at least 1s, got %v", d.MinDelay)
	}
	if d.MaxDelay < d.MinDelay {
		bad("decision_logs.max_delay", "must not be less than decision_logs.min_delay")
	}
}

// AuthDisabled reports whether gavel serves without authentication (no tokens
// or clients configured; Validate allows that only on loopback).
func (c *Config) AuthDisabled() bool { return c.Auth.Disabled() }

// LedgerPath is the SQLite file.
func (c *Config) LedgerPath() string {
	if c.Ledger.Path != "" {
		return c.Ledger.Path
	}
	return filepath.Join(c.DataDir, "ledger.db")
}

// ShadowPolicy is the shadow bundle's settings with policy's as defaults,
// or ok false when shadowing is off.
func (c *Config) ShadowPolicy() (sh ShadowConfig, ok bool) {
	sh = c.Policy.Shadow
	if sh.Source == "" {
		return sh, false
	}
	if sh.Entrypoint == "" {
		sh.Entrypoint = c.Policy.Entrypoint
	}
	if sh.Polling.Min == 0 {
		sh.Polling.Min = c.Policy.Polling.Min
	}
	if sh.Polling.Max == 0 {
		sh.Polling.Max = max(c.Policy.Polling.Max, sh.Polling.Min)
	}
	return sh, true
}

// DetectorTimeout is a detector's call timeout: its own, or
// detectors.default_timeout.
func (c *Config) DetectorTimeout(name string) time.Duration {
	if t := c.Detectors.Plugins[name].Timeout; t > 0 {
		return t
	}
	return c.Detectors.DefaultTimeout
}

// DetectorPath resolves a detector's binary.
func (c *Config) DetectorPath(name string) (string, error) {
	d := c.Detectors.Plugins[name]
	if d.Path != "" {
		return d.Path, nil
	}
	dir := c.Detectors.Dir
	if dir == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("detector %s: find gavel's own folder: %w", name, err)
		}
		dir = filepath.Dir(exe)
	}
	return filepath.Join(dir, "gavel-detector-"+name), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
