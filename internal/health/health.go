// Package health is gavel's liveness and readiness. Liveness is simple: the
// process answers. Readiness says whether gavel should get traffic now: not
// while no policy bundle is active, not while the ledger is unreachable and
// decisions are being journaled (when configured), not once shutdown has
// begun. It is served as gRPC health (grpc.health.v1, for the overall
// service "" and each gavel service) and as HTTP /healthz and /readyz.
package health

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
)

// Probe reports why gavel is not ready, or nil when this part is.
type Probe struct {
	Name  string
	Check func(ctx context.Context) error
}

// Checker computes readiness from its probes. It is safe for concurrent
// use; probe results are cached for CacheFor so health checks stay cheap.
type Checker struct {
	services []string
	probes   []Probe
	cacheFor time.Duration
	timeout  time.Duration

	stopping atomic.Bool

	mu      sync.Mutex
	checked time.Time
	last    []string // reasons not ready at checked
}

// New returns a checker for the named gRPC services.
func New(services []string, probes ...Probe) *Checker {
	return &Checker{services: services, probes: probes, cacheFor: time.Second, timeout: time.Second}
}

// CacheFor sets how long probe results are reused (default 1s).
func (c *Checker) CacheFor(d time.Duration) { c.cacheFor = d }

// Stopping marks gavel as shutting down: not ready from now on.
func (c *Checker) Stopping() { c.stopping.Store(true) }

// Ready reports whether gavel is ready, and if not, why.
func (c *Checker) Ready(ctx context.Context) (bool, []string) {
	if c.stopping.Load() {
		return false, []string{"shutting down"}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cacheFor > 0 && !c.checked.IsZero() && time.Since(c.checked) < c.cacheFor {
		return len(c.last) == 0, c.last
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var reasons []string
	for _, p := range c.probes {
		if err := p.Check(ctx); err != nil {
			reasons = append(reasons, p.Name+": "+err.Error())
		}
	}
	c.checked, c.last = time.Now(), reasons
	return len(reasons) == 0, reasons
}

// Check implements grpchealth.Checker: readiness, for the whole server
// ("") and each of its services.
func (c *Checker) Check(ctx context.Context, req *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	if req.Service != "" && !slices.Contains(c.services, req.Service) {
		return nil, connect.NewError(connect.CodeNotFound, nil)
	}
	if ok, _ := c.Ready(ctx); !ok {
		return &grpchealth.CheckResponse{Status: grpchealth.StatusNotServing}, nil
	}
	return &grpchealth.CheckResponse{Status: grpchealth.StatusServing}, nil
}

// Liveness is /healthz: 200 while the process serves HTTP.
func (c *Checker) Liveness() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write([]byte(`{"status":"alive"}` + "\n"))
	})
}

// Readiness is /readyz: 200 when ready, else 503 with the reasons.
func (c *Checker) Readiness() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, reasons := c.Ready(r.Context())
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		body := struct {
			Status  string   `json:"status"`
			Reasons []string `json:"reasons,omitempty"`
		}{Status: "ready", Reasons: reasons}
		if !ok {
			body.Status = "not ready"
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(body)
	})
}
