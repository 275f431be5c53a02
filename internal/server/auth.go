package server

import (
	"context"

	"github.com/gavel/gavel/internal/auth"
	"github.com/gavel/gavel/internal/config"
)

const (
	roleDecide  = config.RoleDecide
	roleRead    = config.RoleRead
	roleReview  = config.RoleReview
	roleAdmin   = config.RoleAdmin
	roleMetrics = config.RoleMetrics
)

// requireRole checks a further role inside a handler (e.g. the reviewer view).
func requireRole(ctx context.Context, roles ...string) error {
	return auth.RequireRole(ctx, roles...)
}

// callerName returns the authenticated caller's name.
func callerName(ctx context.Context) string {
	p, _ := auth.FromContext(ctx)
	return p.Name
}
