package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/pflag"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/gavel/gavel/internal/config"
	"github.com/gavel/gavel/internal/logbuf"
	"github.com/gavel/gavel/internal/tracing"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
	"github.com/gavel/gavel/proto/gavel/decision/v1/decisionv1connect"
)

// testServer is a gavel on a temporary data folder, the embedded policies,
// no detectors, tracing into exp, served in-process.
func testServer(t *testing.T, exp *tracetest.InMemoryExporter) (*Server, string, *logbuf.Buffer) {
	t.Helper()
	env := []string{"GAVEL_DATA_DIR=" + t.TempDir(), "GAVEL_LOG__LEVEL=debug"}
	for _, d := range []string{"EMAIL", "VELOCITY", "LINKAGE", "DOCUMENT", "GEO", "PHONE", "MODEL"} {
		env = append(env, "GAVEL_DETECTORS__PLUGINS__"+d+"__ENABLED=false")
	}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	config.Flags(fs)
	cfg, err := config.Load(fs, env)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logbuf.Buffer{}
	log := slog.New(tracing.LogHandler(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	s, err := newServer(t.Context(), cfg, log, tracing.WithExporter(exp, 1, "test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, hs.URL, logs
}

// TestTracing: a Decide carrying a caller's W3C traceparent yields a server
// span that is its child, and beneath it one span each for the request-id
// lookup, history, detector fan-out, policy evaluation (with the bundle
// revision) and ledger commit; the request's log lines carry the trace id.
func TestTracing(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	s, url, logs := testServer(t, exp)
	const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	client := decisionv1connect.NewDecisionServiceClient(http.DefaultClient, url)
	req := connect.NewRequest(&decisionv1.DecideRequest{RequestId: "trace-1", Checkpoint: "signup", Subject: &decisionv1.Subject{Id: "acct-trace"}})
	req.Header().Set("traceparent", fmt.Sprintf("00-%s-%s-01", traceID, callerSpan))
	resp, err := client.Decide(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.tracing.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}

	spans := map[string]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		if s.SpanContext.TraceID().String() == traceID {
			spans[s.Name] = s
		}
	}
	server, ok := spans["gavel.decision.v1.DecisionService/Decide"]
	if !ok {
		t.Fatalf("no server span in trace %s; spans: %v", traceID, names(exp))
	}
	if server.Parent.SpanID().String() != callerSpan {
		t.Errorf("server span parent = %s, want the caller's %s (traceparent honoured)", server.Parent.SpanID(), callerSpan)
	}
	for _, name := range []string{"ledger.lookup_request", "ledger.history", "detectors", "policy.evaluate", "ledger.commit"} {
		s, ok := spans[name]
		if !ok {
			t.Errorf("no %s span in trace %s; spans: %v", name, traceID, names(exp))
			continue
		}
		if s.Parent.SpanID() != server.SpanContext.SpanID() {
			t.Errorf("%s span parent = %s, want the server span %s", name, s.Parent.SpanID(), server.SpanContext.SpanID())
		}
	}
	var revision string
	for _, a := range spans["policy.evaluate"].Attributes {
		if a.Key == "gavel.bundle_revision" {
			revision = a.Value.AsString()
		}
	}
	if revision == "" || revision != resp.Msg.GetBundleRevision() {
		t.Errorf("policy.evaluate gavel.bundle_revision = %q, want the decision's %q", revision, resp.Msg.GetBundleRevision())
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `msg=decided`) {
			if !strings.Contains(line, "trace_id="+traceID) || !strings.Contains(line, "decision_id="+resp.Msg.GetDecisionId()) {
				t.Errorf("log line %q, want trace_id=%s and the decision_id", line, traceID)
			}
			return
		}
	}
	t.Errorf("no \"decided\" log line:\n%s", logs)
}

func names(exp *tracetest.InMemoryExporter) []string {
	var out []string
	for _, s := range exp.GetSpans() {
		out = append(out, s.Name)
	}
	return out
}

// BenchmarkDecideTracing is the cost of tracing on Decide, side by side:
// tracing off (the default, a no-op provider) and on (every span recorded
// and batched to an exporter that discards them, so the network is not
// measured). It reports the p50 and p99 of the calls.
func BenchmarkDecideTracing(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "off", true: "on"}[on]
		b.Run(name, func(b *testing.B) {
			_, url := benchServer(b, on)
			client := decisionv1connect.NewDecisionServiceClient(http.DefaultClient, url)
			for i := range 50 { // warm up
				client.Decide(context.Background(), connect.NewRequest(&decisionv1.DecideRequest{RequestId: fmt.Sprintf("warm-%d", i), Checkpoint: "signup", Subject: &decisionv1.Subject{Id: "acct-warm"}}))
			}
			lat := make([]time.Duration, 0, b.N)
			i := 0
			for b.Loop() {
				start := time.Now()
				_, err := client.Decide(context.Background(), connect.NewRequest(&decisionv1.DecideRequest{
					RequestId: fmt.Sprintf("bench-%d", i), Checkpoint: "signup", Subject: &decisionv1.Subject{Id: fmt.Sprintf("acct-%d", i%100)},
				}))
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

func benchServer(b *testing.B, traced bool) (*Server, string) {
	b.Helper()
	env := []string{"GAVEL_DATA_DIR=" + b.TempDir()}
	for _, d := range []string{"EMAIL", "VELOCITY", "LINKAGE", "DOCUMENT", "GEO", "PHONE", "MODEL"} {
		env = append(env, "GAVEL_DETECTORS__PLUGINS__"+d+"__ENABLED=false")
	}
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	config.Flags(fs)
	cfg, err := config.Load(fs, env)
	if err != nil {
		b.Fatal(err)
	}
	tr, err := tracing.New(b.Context(), tracing.Config{}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	if traced {
		tr = tracing.WithExporter(tracetest.NewNoopExporter(), 1, "bench")
	}
	s, err := newServer(b.Context(), cfg, slog.New(slog.DiscardHandler), tr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	hs := httptest.NewServer(s.Handler())
	b.Cleanup(hs.Close)
	return s, hs.URL
}
