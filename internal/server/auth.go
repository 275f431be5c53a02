package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"slices"
	"strings"

	"connectrpc.com/connect"

	"github.com/gavel/gavel/internal/config"
)

const (
	roleDecide = config.RoleDecide
	roleRead   = config.RoleRead
	roleReview = config.RoleReview
	roleAdmin  = config.RoleAdmin
)

// principal is the authenticated caller.
type principal struct {
	name  string
	roles []string
}

type principalKey struct{}

// authenticator checks bearer tokens against the configured secrets in
// constant time and says which role each procedure needs.
type authenticator struct {
	disabled bool
	tokens   []tokenEntry
	needs    map[string][]string // procedure → any of these roles
}

type tokenEntry struct {
	digest [32]byte
	p      principal
}

func newAuthenticator(cfg config.AuthConfig, needs map[string][]string) *authenticator {
	a := &authenticator{disabled: len(cfg.Tokens) == 0, needs: needs}
	for name, t := range cfg.Tokens {
		a.tokens = append(a.tokens, tokenEntry{digest: sha256.Sum256([]byte(t.Secret)), p: principal{name: name, roles: t.Roles}})
	}
	return a
}

var errUnauthenticated = connect.NewError(connect.CodeUnauthenticated, errors.New("missing or unknown bearer token"))

func (a *authenticator) authenticate(header string) (principal, bool) {
	token, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || token == "" {
		return principal{}, false
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
		return principal{}, false
	}
	return a.tokens[found].p, true
}

// WrapUnary implements connect.Interceptor.
func (a *authenticator) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		ctx, err := a.check(ctx, req.Spec().Procedure, req.Header().Get("Authorization"))
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

// WrapStreamingClient implements connect.Interceptor.
func (a *authenticator) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler implements connect.Interceptor.
func (a *authenticator) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := a.check(ctx, conn.Spec().Procedure, conn.RequestHeader().Get("Authorization"))
		if err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

func (a *authenticator) check(ctx context.Context, procedure, header string) (context.Context, error) {
	if a.disabled {
		return context.WithValue(ctx, principalKey{}, principal{name: "anonymous", roles: []string{roleDecide, roleRead, roleReview, roleAdmin}}), nil
	}
	p, ok := a.authenticate(header)
	if !ok {
		return ctx, errUnauthenticated
	}
	if needs, ok := a.needs[procedure]; ok && !hasAny(p.roles, needs) {
		return ctx, connect.NewError(connect.CodePermissionDenied, errors.New("token "+p.name+" may not call "+procedure))
	}
	return context.WithValue(ctx, principalKey{}, p), nil
}

// requireRole checks a further role inside a handler (e.g. the reviewer view).
func requireRole(ctx context.Context, roles ...string) error {
	p, ok := ctx.Value(principalKey{}).(principal)
	if !ok || !hasAny(p.roles, roles) {
		return connect.NewError(connect.CodePermissionDenied, errors.New("this view needs the "+strings.Join(roles, " or ")+" role"))
	}
	return nil
}

// callerName returns the authenticated caller's name.
func callerName(ctx context.Context) string {
	p, _ := ctx.Value(principalKey{}).(principal)
	return p.name
}

func hasAny(have, want []string) bool {
	for _, w := range want {
		if slices.Contains(have, w) {
			return true
		}
	}
	return false
}
