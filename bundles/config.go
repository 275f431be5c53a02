package bundles

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Defaults for the zero fields of Config.
const (
	DefaultName       = "gavel"
	DefaultRole       = "active"
	DefaultEntrypoint = "data.gavel.enforcement.decision"
	DefaultPollMin    = 10 * time.Second
	DefaultPollMax    = 20 * time.Second
)

// serviceName is the name of the OPA service generated for an HTTP source.
const serviceName = "bundle_server"

// Config says where one engine's bundle comes from and how it is checked.
type Config struct {
	// Name is the bundle's name in OPA (status, persistence). Default "gavel".
	Name string
	// Role is reported in Status: "active" (default) or "shadow".
	Role string
	// Source is a folder path, "file:///abs/dir", "file:///abs/bundle.tar.gz"
	// or an http(s) URL of a bundle on a bundle server.
	Source string
	// Entrypoint is the Rego reference evaluated for a verdict.
	// Default "data.gavel.enforcement.decision".
	Entrypoint string
	// PersistDir keeps the last good downloaded bundle on disk so a restart
	// serves it before the bundle server answers. HTTP sources only.
	PersistDir string
	// Polling sets the bundle server polling delays (whole seconds, rounded
	// up) and, for a local source, how often it is checked for changes.
	Polling Polling
	// Signing verifies bundle signatures (.signatures.json).
	Signing *Signing
	// InputSchema is the JSON schema of the input document. When set, each
	// bundle is type-checked against it (and its modules' own schema
	// annotations) as it activates, and refused if that fails, as
	// `gavel bundle build` would have. Nil skips the check.
	InputSchema []byte
	// OnLoad, when set, is called after each attempt to load a bundle, from
	// OPA's goroutines; it must not block.
	OnLoad func(LoadResult)
	// DecisionLogs, when set, runs OPA's decision-log plugin beside the
	// bundle plugin; the engine then logs each decision it Observes.
	DecisionLogs *DecisionLogs
	// NoOptimize evaluates the bundle's modules as written. By default,
	// after each activation, the entry point is also built as `opa build
	// -O=1` would and evaluated so once ready (optimize.go); the modules as
	// written serve until then, and after an optimisation that fails.
	NoOptimize bool
	// OptimizeTimeout bounds one optimisation. Default 10s.
	OptimizeTimeout time.Duration
}

// LoadResult is the outcome of one attempt to load a bundle.
type LoadResult struct {
	Role string
	// Activated: the bundle now serves. Otherwise it was refused (OPA could
	// not download, verify or compile it, or gavel could not use it) and Err
	// says why.
	Activated bool
	Revision  string
	Err       error
}

// Polling sets how often the source is checked for a new bundle.
type Polling struct {
	Min time.Duration // default 10s
	Max time.Duration // default 20s; HTTP only
	// LongPollTimeout enables long polling on the bundle server when set.
	LongPollTimeout time.Duration
}

// Signing configures bundle signature verification.
type Signing struct {
	// KeyID names the key. A signature must name it too (its JWT "kid"):
	// a bundle signed under another key id is refused as unknown.
	KeyID string
	// PublicKey is a PEM-encoded public key, or the secret for HS* algorithms.
	PublicKey string
	// Algorithm is the JWT signing algorithm. Default "RS256".
	Algorithm string
	// Scope, when set, must match the scope claim of the signature.
	Scope string
	// Required refuses unsigned bundles. Without it a signature is verified
	// when present but an unsigned bundle is accepted.
	Required bool
}

var (
	nameRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "HS256", "HS384", "HS512"}
)

// DefaultOptimizeTimeout is Config.OptimizeTimeout's default.
const DefaultOptimizeTimeout = 10 * time.Second

func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Role == "" {
		c.Role = DefaultRole
	}
	if c.Entrypoint == "" {
		c.Entrypoint = DefaultEntrypoint
	}
	if c.OptimizeTimeout <= 0 {
		c.OptimizeTimeout = DefaultOptimizeTimeout
	}
	if c.Polling.Min == 0 {
		c.Polling.Min = DefaultPollMin
	}
	if c.Polling.Max == 0 {
		c.Polling.Max = max(DefaultPollMax, c.Polling.Min)
	}
	if c.Signing != nil && c.Signing.Algorithm == "" {
		s := *c.Signing
		s.Algorithm = "RS256"
		c.Signing = &s
	}
	if c.DecisionLogs != nil {
		d := c.DecisionLogs.withDefaults()
		c.DecisionLogs = &d
	}
	return c
}

// Validate reports every problem with the configuration (after defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if !nameRE.MatchString(c.Name) {
		errs = append(errs, fmt.Errorf("bundle name %q: want letters, digits, '.', '_' or '-'", c.Name))
	}
	if c.Role != "active" && c.Role != "shadow" {
		errs = append(errs, fmt.Errorf("bundle role %q: want active or shadow", c.Role))
	}
	src, err := parseSource(c.Source)
	if err != nil {
		errs = append(errs, err)
	}
	if _, err := parseEntrypoint(c.Entrypoint); err != nil {
		errs = append(errs, err)
	}
	if c.Polling.Min < time.Second {
		errs = append(errs, fmt.Errorf("bundle polling min %v: want at least 1s", c.Polling.Min))
	}
	if c.Polling.Max < c.Polling.Min {
		errs = append(errs, fmt.Errorf("bundle polling max %v is below min %v", c.Polling.Max, c.Polling.Min))
	}
	if c.Polling.LongPollTimeout < 0 || (c.Polling.LongPollTimeout > 0 && c.Polling.LongPollTimeout < time.Second) {
		errs = append(errs, fmt.Errorf("bundle long poll timeout %v: want 0 (off) or at least 1s", c.Polling.LongPollTimeout))
	}
	if err == nil && src.local() && c.Polling.LongPollTimeout > 0 {
		errs = append(errs, errors.New("bundle long polling needs an HTTP source"))
	}
	if _, err := inputSchema(c.InputSchema); err != nil {
		errs = append(errs, err)
	}
	if s := c.Signing; s != nil {
		if s.KeyID == "" {
			errs = append(errs, errors.New("bundle signing: key id is required"))
		}
		if s.PublicKey == "" {
			errs = append(errs, errors.New("bundle signing: public key (or HMAC secret) is required"))
		}
		if !slices.Contains(algorithms, s.Algorithm) {
			errs = append(errs, fmt.Errorf("bundle signing: algorithm %q: want one of %s", s.Algorithm, strings.Join(algorithms, ", ")))
		}
	}
	if c.DecisionLogs != nil {
		errs = append(errs, c.DecisionLogs.validate()...)
	}
	if len(errs) > 0 {
		return fmt.Errorf("bundle %q configuration: %w", c.Name, errors.Join(errs...))
	}
	return nil
}

// source is a parsed Config.Source.
type source struct {
	path    string // local folder or tarball, absolute
	service string // bundle server base URL (scheme://host)
	res     string // resource on the bundle server
}

func (s source) local() bool { return s.path != "" }

// resource is the OPA bundle resource: a file:// URL or a server path.
func (s source) resource() string {
	if s.local() {
		return (&url.URL{Scheme: "file", Path: s.path}).String()
	}
	return s.res
}

func parseSource(raw string) (source, error) {
	if raw == "" {
		return source{}, errors.New("bundle source is required")
	}
	if !strings.Contains(raw, "://") {
		abs, err := filepath.Abs(raw)
		if err != nil {
			return source{}, fmt.Errorf("bundle source %q: %w", raw, err)
		}
		return source{path: abs}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return source{}, fmt.Errorf("bundle source: %w", err)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" || !filepath.IsAbs(u.Path) {
			return source{}, fmt.Errorf("bundle source %q: want file:///absolute/path", raw)
		}
		return source{path: filepath.Clean(u.Path)}, nil
	case "http", "https":
		if u.Host == "" {
			return source{}, fmt.Errorf("bundle source %q: no host", raw)
		}
		res := strings.Trim(u.EscapedPath(), "/")
		if res == "" {
			return source{}, fmt.Errorf("bundle source %q: no bundle path", raw)
		}
		if u.RawQuery != "" {
			res += "?" + u.RawQuery
		}
		return source{service: u.Scheme + "://" + u.Host, res: res}, nil
	default:
		return source{}, fmt.Errorf("bundle source %q: scheme %q not supported (want a path, file://, http:// or https://)", raw, u.Scheme)
	}
}

func parseEntrypoint(s string) (ast.Ref, error) {
	ref, err := ast.ParseRef(s)
	if err != nil {
		return nil, fmt.Errorf("bundle entry point %q: %w", s, err)
	}
	if !ref.HasPrefix(ast.DefaultRootRef) || len(ref) < 2 || !ref.IsGround() {
		return nil, fmt.Errorf("bundle entry point %q: want a ground reference under data, such as %s", s, DefaultEntrypoint)
	}
	return ref, nil
}

// seconds rounds d up to whole seconds, as OPA's polling settings want.
func seconds(d time.Duration) int64 {
	return int64(math.Ceil(d.Seconds()))
}

// opaConfig is the OPA configuration document for c (defaults applied,
// validated).
func (c Config) opaConfig(src source) ([]byte, error) {
	b := map[string]any{"resource": src.resource()}
	if src.local() {
		// A local source is read when the engine starts and whenever the
		// engine's watcher sees it change; manual mode makes OPA report
		// load errors to the caller of Trigger.
		b["trigger"] = "manual"
	} else {
		polling := map[string]any{
			"min_delay_seconds": seconds(c.Polling.Min),
			"max_delay_seconds": seconds(c.Polling.Max),
		}
		if c.Polling.LongPollTimeout > 0 {
			polling["long_polling_timeout_seconds"] = seconds(c.Polling.LongPollTimeout)
		}
		b["service"] = serviceName
		b["trigger"] = "periodic"
		b["polling"] = polling
		b["persist"] = c.PersistDir != ""
	}
	doc := map[string]any{"bundles": map[string]any{c.Name: b}}
	if !src.local() {
		doc["services"] = map[string]any{serviceName: map[string]any{"url": src.service}}
		if c.PersistDir != "" {
			doc["persistence_directory"] = c.PersistDir
		}
	}
	if s := c.Signing; s != nil {
		key := map[string]any{"key": s.PublicKey, "algorithm": s.Algorithm}
		if s.Scope != "" {
			key["scope"] = s.Scope
		}
		doc["keys"] = map[string]any{s.KeyID: key}
		if s.Required {
			// No keyid here: OPA then takes the key id from the
			// signature and finds it among keys, so a signature under an
			// unknown key id is refused by name.
			signing := map[string]any{}
			if s.Scope != "" {
				signing["scope"] = s.Scope
			}
			b["signing"] = signing
		}
	}
	if c.DecisionLogs != nil {
		c.DecisionLogs.opaConfig(doc)
	}
	return json.Marshal(doc)
}
