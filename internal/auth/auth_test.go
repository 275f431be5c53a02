package auth_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gavel/gavel/internal/auth"
	"github.com/gavel/gavel/internal/config"
)

// countingBody records whether a handler read the request body.
type countingBody struct {
	io.Reader
	read *atomic.Int32
}

func (b countingBody) Read(p []byte) (int, error) {
	b.read.Add(1)
	return b.Reader.Read(p)
}

func newAuth() *auth.Authenticator {
	return auth.New(config.AuthConfig{
		Tokens: map[string]config.Token{
			"signup": {Secret: "signup-secret-0000001", Roles: []string{config.RoleDecide}},
			"ops":    {Secret: "ops-secret-00000000001", Roles: []string{config.RoleAdmin, config.RoleRead}},
		},
		Clients: map[string]config.Client{
			"payouts": {CommonName: "payouts.internal", Roles: []string{config.RoleDecide}},
		},
	}, map[string][]string{
		"/gavel.decision.v1.DecisionService/Decide": {config.RoleDecide},
		"/gavel.admin.v1.AdminService/GetStatus":    {config.RoleAdmin},
	}, "/grpc.health.v1.Health/")
}

// TestMiddlewareAuthenticatesBeforeReading: every procedure on the mux —
// including one of a service the authenticator was never told about — is
// refused without credentials before its body is read, in the protocol
// the caller spoke.
func TestMiddlewareAuthenticatesBeforeReading(t *testing.T) {
	a := newAuth()
	var reads atomic.Int32
	var served atomic.Value
	mux := http.NewServeMux()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		p, _ := auth.FromContext(r.Context())
		served.Store(p.Name)
		w.WriteHeader(http.StatusOK)
	})
	mux.Handle("/gavel.decision.v1.DecisionService/", h)
	mux.Handle("/gavel.admin.v1.AdminService/", h)
	mux.Handle("/gavel.later.v1.LaterService/", h) // mounted later, listed nowhere
	mux.Handle("/grpc.health.v1.Health/", h)
	srv := a.Middleware(mux)

	tests := []struct {
		name, path, contentType, authz string
		tls                            *tls.ConnectionState
		wantStatus                     int
		wantGRPC                       string // grpc-status, for gRPC
		wantCaller                     string
	}{
		{"connect no token", "/gavel.decision.v1.DecisionService/Decide", "application/json", "", nil, 401, "", ""},
		{"grpc no token", "/gavel.decision.v1.DecisionService/Decide", "application/grpc", "", nil, 200, "16", ""},
		{"grpc-web no token", "/gavel.decision.v1.DecisionService/Decide", "application/grpc-web+proto", "", nil, 200, "16", ""},
		{"later service no token", "/gavel.later.v1.LaterService/Anything", "application/proto", "", nil, 401, "", ""},
		{"wrong token", "/gavel.decision.v1.DecisionService/Decide", "application/json", "Bearer nope-nope-nope-nope", nil, 401, "", ""},
		{"bearer", "/gavel.decision.v1.DecisionService/Decide", "application/json", "Bearer signup-secret-0000001", nil, 200, "", "signup"},
		{"bearer lower case", "/gavel.decision.v1.DecisionService/Decide", "application/json", "bearer signup-secret-0000001", nil, 200, "", "signup"},
		{"BEARER upper case", "/gavel.decision.v1.DecisionService/Decide", "application/json", "BEARER signup-secret-0000001", nil, 200, "", "signup"},
		{"basic scheme", "/gavel.decision.v1.DecisionService/Decide", "application/json", "Basic signup-secret-0000001", nil, 401, "", ""},
		{"role missing", "/gavel.admin.v1.AdminService/GetStatus", "application/json", "Bearer signup-secret-0000001", nil, 403, "", ""},
		{"later service with token", "/gavel.later.v1.LaterService/Anything", "application/proto", "Bearer ops-secret-00000000001", nil, 200, "", "ops"},
		{"client certificate", "/gavel.decision.v1.DecisionService/Decide", "application/json", "", verified("payouts.internal"), 200, "", "payouts"},
		{"unknown certificate", "/gavel.decision.v1.DecisionService/Decide", "application/json", "", verified("someone.else"), 401, "", ""},
		{"health is open", "/grpc.health.v1.Health/Check", "application/json", "", nil, 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reads.Store(0)
			served.Store("")
			req := httptest.NewRequest(http.MethodPost, tt.path, countingBody{strings.NewReader(`{"request_id":"r"}`), &reads})
			req.Header.Set("Content-Type", tt.contentType)
			if strings.HasPrefix(tt.contentType, "application/grpc") {
				req.ProtoMajor = 2
			}
			if tt.authz != "" {
				req.Header.Set("Authorization", tt.authz)
			}
			req.TLS = tt.tls
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d (body %s)", rec.Code, tt.wantStatus, rec.Body)
			}
			got := rec.Header().Get("Grpc-Status")
			if got == "" {
				got = rec.Result().Trailer.Get("Grpc-Status")
			}
			if tt.wantGRPC != "" && got != tt.wantGRPC {
				t.Errorf("grpc-status = %q, want %q", got, tt.wantGRPC)
			}
			if tt.wantStatus != 200 || tt.wantGRPC != "" {
				if n := reads.Load(); n != 0 {
					t.Errorf("refused request's body was read %d times, want never", n)
				}
			}
			if got := served.Load(); got != tt.wantCaller {
				t.Errorf("handler saw caller %q, want %q", got, tt.wantCaller)
			}
		})
	}
}

func verified(cn string) *tls.ConnectionState {
	return &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{{Subject: pkix.Name{CommonName: cn}}}}}
}

func TestRequireGuardsPlainHandlers(t *testing.T) {
	a := newAuth()
	h := a.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("metrics")) }), config.RoleMetrics, config.RoleAdmin)
	for authz, want := range map[string]int{"": 401, "Bearer signup-secret-0000001": 403, "Bearer ops-secret-00000000001": 200} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("GET /metrics with %q = %d, want %d", authz, rec.Code, want)
		}
	}
	open := auth.New(config.AuthConfig{}, nil)
	rec := httptest.NewRecorder()
	open.Require(http.NotFoundHandler(), config.RoleMetrics).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != 404 {
		t.Errorf("GET /metrics with auth off = %d, want it served (404 from the wrapped handler)", rec.Code)
	}
}

func TestIsProcedure(t *testing.T) {
	for path, want := range map[string]bool{
		"/gavel.decision.v1.DecisionService/Decide": true,
		"/grpc.health.v1.Health/Check":              true,
		"/metrics":                                  false,
		"/console/queue":                            false,
		"/healthz":                                  false,
		"":                                          false,
		"/a.b/c/d":                                  false,
	} {
		if got := auth.IsProcedure(path); got != want {
			t.Errorf("IsProcedure(%q) = %v, want %v", path, got, want)
		}
	}
}
