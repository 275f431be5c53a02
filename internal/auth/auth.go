// Package auth authenticates gavel's callers in net/http middleware, in
// front of every Connect, gRPC and gRPC-Web handler on the mux, so a
// request without credentials is refused before its body is read or
// decoded. A caller is named by a bearer token or by a verified client
// certificate (mTLS); each name carries roles, and each procedure says
// which roles may call it.
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"

	"connectrpc.com/connect"

	"github.com/gavel/gavel/internal/config"
)

// Principal is the authenticated caller.
type Principal struct {
	Name  string
	Roles []string
	// Via is how the caller was named: "token", "certificate" or
	// "anonymous" (authentication off, loopback only).
	Via string
}

// Has reports whether the principal holds any of roles.
func (p Principal) Has(roles ...string) bool {
	for _, r := range roles {
		if slices.Contains(p.Roles, r) {
			return true
		}
	}
	return false
}

type principalKey struct{}

// FromContext returns the caller authenticated for this request.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// Authenticator checks credentials against the configured tokens (in
// constant time) and client certificate names.
type Authenticator struct {
	disabled bool
	tokens   []tokenEntry
	clients  map[string]Principal // certificate common name → caller
	needs    map[string][]string  // procedure → any of these roles
	open     map[string]bool      // procedures served to anyone (health)
	errors   *connect.ErrorWriter
}

type tokenEntry struct {
	digest [32]byte
	p      Principal
}

// New returns an authenticator for cfg. needs maps a procedure
// ("/pkg.Service/Method") to the roles that may call it; a procedure not
// listed needs an authenticated caller with any role. open lists procedure
// prefixes served without credentials (gRPC health).
func New(cfg config.AuthConfig, needs map[string][]string, open ...string) *Authenticator {
	a := &Authenticator{
		disabled: cfg.Disabled(),
		clients:  map[string]Principal{},
		needs:    needs,
		open:     map[string]bool{},
		errors:   connect.NewErrorWriter(),
	}
	for _, o := range open {
		a.open[o] = true
	}
	for name, t := range cfg.Tokens {
		a.tokens = append(a.tokens, tokenEntry{digest: sha256.Sum256([]byte(t.Secret)), p: Principal{Name: name, Roles: t.Roles, Via: "token"}})
	}
	for name, c := range cfg.Clients {
		a.clients[c.CommonName] = Principal{Name: name, Roles: c.Roles, Via: "certificate"}
	}
	return a
}

// ErrUnauthenticated is the answer to a request without valid credentials.
var ErrUnauthenticated = errors.New("missing or unknown bearer token or client certificate")

// bearerToken returns the credentials of an Authorization header using the
// Bearer scheme, whose name is case-insensitive (RFC 9110 §11.1).
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// Authenticate names the caller of r: its verified client certificate when
// that names a configured client, else its bearer token.
func (a *Authenticator) Authenticate(r *http.Request) (Principal, bool) {
	if a.disabled {
		return Principal{Name: "anonymous", Roles: slices.Clone(config.Roles), Via: "anonymous"}, true
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		if p, ok := a.clients[r.TLS.VerifiedChains[0][0].Subject.CommonName]; ok {
			return p, true
		}
	}
	token, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok {
		return Principal{}, false
	}
	d := sha256.Sum256([]byte(token))
	found := -1
	for i := range a.tokens {
		// Compare every entry so timing does not reveal which one matched.
		if subtle.ConstantTimeCompare(d[:], a.tokens[i].digest[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Principal{}, false
	}
	return a.tokens[found].p, true
}

// IsProcedure reports whether path names an RPC procedure,
// "/package.Service/Method", as Connect, gRPC and gRPC-Web requests do.
func IsProcedure(path string) bool {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return false
	}
	svc, method, ok := strings.Cut(rest, "/")
	return ok && strings.Contains(svc, ".") && method != "" && !strings.Contains(method, "/")
}

// Middleware authenticates every RPC procedure served by next — whatever
// service it belongs to, including services mounted later — before the
// request body is read: a caller without credentials gets unauthenticated,
// one without the procedure's role permission_denied, in the protocol it
// spoke. Paths that are not procedures (/metrics, /healthz, the console)
// pass through: each guards itself (see Require).
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !IsProcedure(r.URL.Path) || a.isOpen(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		p, ok := a.Authenticate(r)
		if !ok {
			a.refuse(w, r, connect.NewError(connect.CodeUnauthenticated, ErrUnauthenticated))
			return
		}
		if needs, listed := a.needs[r.URL.Path]; listed && !p.Has(needs...) {
			a.refuse(w, r, connect.NewError(connect.CodePermissionDenied, errors.New(p.Via+" "+p.Name+" may not call "+r.URL.Path)))
			return
		}
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), p)))
	})
}

func (a *Authenticator) isOpen(path string) bool {
	for o := range a.open {
		if strings.HasPrefix(path, o) {
			return true
		}
	}
	return false
}

// Require guards a plain HTTP handler (not a procedure) with the same
// credentials: the caller must hold one of roles.
func (a *Authenticator) Require(next http.Handler, roles ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.Authenticate(r)
		switch {
		case !ok:
			w.Header().Set("WWW-Authenticate", `Bearer realm="gavel"`)
			http.Error(w, ErrUnauthenticated.Error(), http.StatusUnauthorized)
		case !p.Has(roles...):
			http.Error(w, p.Name+" may not read "+r.URL.Path+": needs the "+strings.Join(roles, " or ")+" role", http.StatusForbidden)
		default:
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), p)))
		}
	})
}

// refuse writes err in the request's protocol (Connect, gRPC, gRPC-Web),
// or as plain HTTP when it is none of them. The body is left unread.
func (a *Authenticator) refuse(w http.ResponseWriter, r *http.Request, err *connect.Error) {
	if connect.CodeOf(err) == connect.CodeUnauthenticated {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gavel"`)
	}
	WriteError(a.errors, w, r, err)
}

// WriteError writes err in the request's RPC protocol, or as plain HTTP.
func WriteError(ew *connect.ErrorWriter, w http.ResponseWriter, r *http.Request, err *connect.Error) {
	if ew.IsSupported(r) {
		_ = ew.Write(w, r, err)
		return
	}
	status := http.StatusBadRequest
	switch err.Code() {
	case connect.CodeUnauthenticated:
		status = http.StatusUnauthorized
	case connect.CodePermissionDenied:
		status = http.StatusForbidden
	case connect.CodeResourceExhausted:
		status = http.StatusTooManyRequests
	case connect.CodeUnavailable:
		status = http.StatusServiceUnavailable
	}
	http.Error(w, err.Message(), status)
}

// RequireRole checks a further role inside a handler (e.g. the reviewer
// view of a decision).
func RequireRole(ctx context.Context, roles ...string) error {
	p, ok := FromContext(ctx)
	if !ok || !p.Has(roles...) {
		return connect.NewError(connect.CodePermissionDenied, errors.New("this view needs the "+strings.Join(roles, " or ")+" role"))
	}
	return nil
}
