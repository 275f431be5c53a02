package admission_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gavel/gavel/internal/admission"
	"github.com/gavel/gavel/internal/auth"
)

const decide = "/gavel.decision.v1.DecisionService/Decide"

func call(h http.Handler, caller string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, decide, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req = req.WithContext(auth.NewContext(req.Context(), auth.Principal{Name: caller}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestInFlightCapShedsAtOnce: with MaxInFlight requests being served, the
// next caller gets resource_exhausted at once (it does not wait for a slot),
// it is counted, and a slot freed serves again.
func TestInFlightCapShedsAtOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := admission.New(admission.Config{MaxInFlight: 2}, reg)
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}))
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); call(h, "signup") }()
	}
	<-entered
	<-entered
	rec := call(h, "signup") // returns while the two still hold their slots
	if rec.Code != http.StatusTooManyRequests {
		t.Errorf("third concurrent request = HTTP %d, want 429 (resource_exhausted)", rec.Code)
	}
	if !strings.Contains(rec.Body.String(), "resource_exhausted") {
		t.Errorf("third concurrent request body = %s, want the Connect code resource_exhausted", rec.Body)
	}
	if got := testutil.ToFloat64(gauge(t, reg, "gavel_requests_in_flight")); got != 2 {
		t.Errorf("gavel_requests_in_flight = %v, want 2", got)
	}
	close(release)
	wg.Wait()
	if rec := call(h, "signup"); rec.Code != http.StatusOK {
		t.Errorf("request after the others finished = HTTP %d, want 200", rec.Code)
	}
	want := `
# HELP gavel_requests_shed_total RPC requests refused with resource_exhausted before being read, by reason (in_flight: the cap on requests served at once; rate_limit: the caller's token bucket) and caller.
# TYPE gavel_requests_shed_total counter
gavel_requests_shed_total{caller="signup",reason="in_flight"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gavel_requests_shed_total"); err != nil {
		t.Error(err)
	}
}

// TestRateLimitPerCaller: a caller past its bucket is refused, with a
// Retry-After, and counted; another caller is not affected.
func TestRateLimitPerCaller(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := admission.New(admission.Config{Callers: map[string]admission.Limit{"signup": {Rate: 0.001, Burst: 2}}}, reg)
	h := c.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for i := range 2 {
		if rec := call(h, "signup"); rec.Code != http.StatusOK {
			t.Fatalf("request %d within the burst = HTTP %d, want 200", i, rec.Code)
		}
	}
	rec := call(h, "signup")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Errorf("request past the burst = HTTP %d, Retry-After %q; want 429 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	for range 5 {
		if rec := call(h, "ops"); rec.Code != http.StatusOK {
			t.Errorf("another caller = HTTP %d, want 200 (limits are per caller)", rec.Code)
		}
	}
	if got := testutil.ToFloat64(counter(t, reg, "rate_limit", "signup")); got != 1 {
		t.Errorf("gavel_requests_shed_total{reason=rate_limit,caller=signup} = %v, want 1", got)
	}
}

// TestGRPCCallersGetResourceExhausted: the refusal speaks gRPC to gRPC.
func TestGRPCCallersGetResourceExhausted(t *testing.T) {
	c := admission.New(admission.Config{Callers: map[string]admission.Limit{"x": {Rate: 0.001, Burst: 1}}}, prometheus.NewRegistry())
	h := c.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	grpcCall := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, decide, strings.NewReader(""))
		req.Header.Set("Content-Type", "application/grpc")
		req.ProtoMajor = 2
		req = req.WithContext(auth.NewContext(req.Context(), auth.Principal{Name: "x"}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	grpcCall()
	rec := grpcCall()
	got := rec.Header().Get("Grpc-Status")
	if got == "" {
		got = rec.Result().Trailer.Get("Grpc-Status")
	}
	if want := "8"; got != want { // codes.ResourceExhausted
		t.Errorf("grpc-status = %q, want %s (%v)", got, want, connect.CodeResourceExhausted)
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	return collectorFor(t, reg, name)
}

func counter(t *testing.T, reg *prometheus.Registry, reason, caller string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gavel_requests_shed_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["reason"] == reason && labels["caller"] == caller {
				g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
				g.Set(m.GetCounter().GetValue())
				return g
			}
		}
	}
	return prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
}

func collectorFor(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			g.Set(mf.GetMetric()[0].GetGauge().GetValue())
		}
	}
	return g
}
