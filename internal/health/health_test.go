package health_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	"github.com/gavel/gavel/internal/health"
)

func TestReadiness(t *testing.T) {
	type state struct{ err error }
	var bundle, ledger atomic.Pointer[state]
	bundle.Store(&state{errors.New("no bundle active")})
	ledger.Store(&state{})
	probe := func(v *atomic.Pointer[state]) func(context.Context) error {
		return func(context.Context) error { return v.Load().err }
	}
	c := health.New([]string{"gavel.decision.v1.DecisionService"},
		health.Probe{Name: "policy", Check: probe(&bundle)},
		health.Probe{Name: "ledger", Check: probe(&ledger)})
	c.CacheFor(0)

	status := func(service string) grpchealth.Status {
		t.Helper()
		resp, err := c.Check(t.Context(), &grpchealth.CheckRequest{Service: service})
		if err != nil {
			t.Fatalf("Check(%q) error = %v", service, err)
		}
		return resp.Status
	}
	get := func(h http.Handler) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		return rec.Code, rec.Body.String()
	}

	if got := status(""); got != grpchealth.StatusNotServing {
		t.Errorf("Check(\"\") with no bundle = %v, want NOT_SERVING", got)
	}
	if code, body := get(c.Readiness()); code != 503 || !strings.Contains(body, "policy: no bundle active") {
		t.Errorf("/readyz with no bundle = %d %s, want 503 naming the policy", code, body)
	}
	if code, _ := get(c.Liveness()); code != 200 {
		t.Errorf("/healthz = %d, want 200 (liveness does not depend on readiness)", code)
	}

	bundle.Store(&state{})
	if got := status("gavel.decision.v1.DecisionService"); got != grpchealth.StatusServing {
		t.Errorf("Check(DecisionService) ready = %v, want SERVING", got)
	}
	if code, _ := get(c.Readiness()); code != 200 {
		t.Errorf("/readyz ready = %d, want 200", code)
	}

	ledger.Store(&state{errors.New("3 decisions journaled, waiting for the ledger")})
	if got := status(""); got != grpchealth.StatusNotServing {
		t.Errorf("Check(\"\") with the ledger away = %v, want NOT_SERVING", got)
	}
	ledger.Store(&state{})
	c.Stopping()
	if got := status(""); got != grpchealth.StatusNotServing {
		t.Errorf("Check(\"\") shutting down = %v, want NOT_SERVING", got)
	}
	if code, _ := get(c.Liveness()); code != 200 {
		t.Errorf("/healthz shutting down = %d, want 200", code)
	}
	if _, err := c.Check(t.Context(), &grpchealth.CheckRequest{Service: "no.such.Service"}); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("Check(unknown service) error = %v, want NotFound", err)
	}
}
