// Package console is the web page gavel serves under /console/ for the
// people who run enforcement: reviewers working the queue of appeals and
// the Trust & Safety policy manager watching what the rules do. It renders
// HTML on the server (html/template, assets embedded, htmx and uPlot
// vendored) and is a client of gavel's own RPC services, called in process
// with the signed-in user's token: every page goes through the same
// handlers, validation and authorisation as the API, never a second path to
// the ledger.
package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"connectrpc.com/connect"

	"github.com/gavel/gavel/proto/gavel/admin/v1/adminv1connect"
	"github.com/gavel/gavel/proto/gavel/appeal/v1/appealv1connect"
	"github.com/gavel/gavel/proto/gavel/decision/v1/decisionv1connect"
	"github.com/gavel/gavel/proto/gavel/enforcement/v1/enforcementv1connect"
	"github.com/gavel/gavel/proto/gavel/lists/v1/listsv1connect"
	"github.com/gavel/gavel/proto/gavel/replay/v1/replayv1connect"
	"github.com/gavel/gavel/proto/gavel/review/v1/reviewv1connect"
)

// Prefix is where the console is served.
const Prefix = "/console/"

// Config is the console's part of gavel's configuration.
type Config struct {
	// Enabled serves the console under /console/.
	Enabled bool `koanf:"enabled"`
	// SessionTTL is how long a sign-in lasts.
	SessionTTL time.Duration `koanf:"session_ttl"`
	// SecureCookie marks the session cookie Secure even when gavel sees
	// plain HTTP (TLS ends at a proxy in front). Over TLS it always is.
	SecureCookie bool `koanf:"secure_cookie"`
	// ReviewDue is how long after an appeal is filed it is due: the
	// queue shows the due time and marks appeals past it.
	ReviewDue time.Duration `koanf:"review_due"`
}

// DefaultConfig is the console on, sessions of 8 hours, appeals due 48
// hours after filing.
func DefaultConfig() Config {
	return Config{Enabled: true, SessionTTL: 8 * time.Hour, ReviewDue: 48 * time.Hour}
}

// Validate reports every problem with c, each naming its key.
func (c Config) Validate() error {
	var errs []error
	if c.SessionTTL < time.Minute || c.SessionTTL > 7*24*time.Hour {
		errs = append(errs, fmt.Errorf("console.session_ttl: %v must be between 1m and 168h", c.SessionTTL))
	}
	if c.ReviewDue <= 0 {
		errs = append(errs, fmt.Errorf("console.review_due: %v must be a positive duration", c.ReviewDue))
	}
	return errors.Join(errs...)
}

// Roles a principal may hold, as the API names them.
const (
	RoleDecide = "decide"
	RoleRead   = "read"
	RoleReview = "review"
	RoleAdmin  = "admin"
)

// Principal is who signed in: the API token's name and roles.
type Principal struct {
	Name  string
	Roles []string
}

// Has reports whether p holds any of roles.
func (p Principal) Has(roles ...string) bool {
	for _, r := range roles {
		if slices.Contains(p.Roles, r) {
			return true
		}
	}
	return false
}

// Deps is what the console is given by the process that serves it.
type Deps struct {
	// API serves gavel's RPC procedures; the console calls them in process.
	API http.Handler
	// Authenticate checks an API token as the API does.
	Authenticate func(token string) (Principal, bool)
	// Open: no tokens are configured (loopback development); everyone is
	// signed in with every role, and every page says so.
	Open bool
	Log  *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// MaxUploadBytes bounds an uploaded candidate bundle (the replay
	// service's own limit).
	MaxUploadBytes int64
}

// Console serves the pages; it is an http.Handler for Prefix.
type Console struct {
	cfg       Config
	maxUpload int64
	open      bool
	auth      func(string) (Principal, bool)
	log       *slog.Logger
	now       func() time.Time
	sessions  *sessions
	pages     *pages
	assets    *assets
	mux       *http.ServeMux

	decisions   decisionv1connect.DecisionServiceClient
	appeals     appealv1connect.AppealServiceClient
	admin       adminv1connect.AdminServiceClient
	replays     replayv1connect.ReplayServiceClient
	enforcement enforcementv1connect.EnforcementServiceClient
	lists       listsv1connect.ListServiceClient
	review      reviewv1connect.ReviewServiceClient
}

// New builds the console over the API handler in d.
func New(cfg Config, d Deps) (*Console, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.API == nil || (d.Authenticate == nil && !d.Open) {
		return nil, errors.New("console: the API handler and an authenticator are required")
	}
	c := &Console{cfg: cfg, open: d.Open, auth: d.Authenticate, log: d.Log, now: d.Now, maxUpload: d.MaxUploadBytes}
	if c.maxUpload <= 0 {
		c.maxUpload = 8 << 20
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	var err error
	if c.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if c.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	c.sessions = newSessions(cfg.SessionTTL, c.now)

	hc := &http.Client{Transport: handlerTransport{d.API}}
	opts := []connect.ClientOption{
		connect.WithInterceptors(bearerFromContext{}),
		// In process: nothing to gain from compressing.
		connect.WithAcceptCompression("gzip", nil, nil),
	}
	const base = "http://gavel.in-process"
	c.decisions = decisionv1connect.NewDecisionServiceClient(hc, base, opts...)
	c.appeals = appealv1connect.NewAppealServiceClient(hc, base, opts...)
	c.admin = adminv1connect.NewAdminServiceClient(hc, base, opts...)
	c.replays = replayv1connect.NewReplayServiceClient(hc, base, opts...)
	c.enforcement = enforcementv1connect.NewEnforcementServiceClient(hc, base, opts...)
	c.lists = listsv1connect.NewListServiceClient(hc, base, opts...)
	c.review = reviewv1connect.NewReviewServiceClient(hc, base, opts...)
	c.routes()
	return c, nil
}

// ServeHTTP implements http.Handler: security headers on every response,
// then the page.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	c.mux.ServeHTTP(w, r)
}

// csp allows only the console's own scripts, styles and images: no inline
// script, no eval, no other origin.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// bearerFromContext puts the signed-in user's token on every API call.
type bearerFromContext struct{}

type tokenKey struct{}

func withToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, tokenKey{}, token)
}

func (bearerFromContext) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if t, _ := ctx.Value(tokenKey{}).(string); t != "" {
			req.Header().Set("Authorization", "Bearer "+t)
		}
		return next(ctx, req)
	}
}

func (bearerFromContext) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if t, _ := ctx.Value(tokenKey{}).(string); t != "" {
			conn.RequestHeader().Set("Authorization", "Bearer "+t)
		}
		return conn
	}
}

func (bearerFromContext) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
