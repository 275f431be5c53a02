package host

import (
	"context"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestDetectorSpansJoinTheDecision: each detector call is a span, child of
// the decision's, and the detector sees that span as its parent (the W3C
// traceparent travels in the Detect call's metadata).
func TestDetectorSpansJoinTheDecision(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	tr := tp.Tracer("test")
	h, _ := startHost(t, Config{Tracer: tr, Detectors: []DetectorConfig{detectorConfig("alpha", nil), detectorConfig("beta", nil)}})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx, decision := tr.Start(ctx, "decide")
	got := h.Collect(ctx, request("signup", "trace"), time.Unix(1700000000, 0))
	decision.End()

	spans := map[string]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		spans[s.Name] = s
	}
	root := spans["decide"]
	for _, r := range got {
		s, ok := spans["detector "+r.Name]
		if !ok {
			t.Fatalf("no span for detector %s among %v", r.Name, exp.GetSpans().Snapshots())
		}
		if s.Parent.SpanID() != root.SpanContext.SpanID() || s.SpanContext.TraceID() != root.SpanContext.TraceID() {
			t.Errorf("detector %s span parent = %v, want the decision's span %v", r.Name, s.Parent.SpanID(), root.SpanContext.SpanID())
		}
		if len(r.Signals) != 1 {
			t.Fatalf("detector %s answered %+v, want one signal", r.Name, r)
		}
		if want := s.SpanContext.TraceID().String() + "/" + s.SpanContext.SpanID().String(); r.Signals[0].Value != want {
			t.Errorf("detector %s saw parent %q, want its call's span %q", r.Name, r.Signals[0].Value, want)
		}
	}
}
