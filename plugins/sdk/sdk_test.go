package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/structpb"

	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

func TestNewSignal(t *testing.T) {
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	got := NewSignal("email.disposable", 0.8, "mailinator.com", map[string]any{
		"domain":   "mailinator.com",
		"count":    3,
		"ratio":    float32(0.5),
		"lists":    []string{"a", "b"},
		"ports":    []int{25, 587},
		"seen":     when,
		"meta":     map[string]any{"age_days": int64(2), "tags": []any{"x", true, nil}},
		"labels":   map[string]string{"k": "v"},
		"nan":      math.NaN(),
		"inf_deep": map[string]any{"x": []float64{1, math.Inf(-1)}},
		"chan":     make(chan int),
		"func":     func() {},
	}, 0.95)

	mustStruct := func(m map[string]any) *structpb.Struct {
		s, err := structpb.NewStruct(m)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	want := &detectorv1.Signal{
		Name: "email.disposable", Score: 0.8, Value: "mailinator.com", Confidence: 0.95,
		Evidence: mustStruct(map[string]any{
			"domain": "mailinator.com",
			"count":  3,
			"ratio":  0.5,
			"lists":  []any{"a", "b"},
			"ports":  []any{25, 587},
			"seen":   "2026-01-02T03:04:05Z",
			"meta":   map[string]any{"age_days": 2, "tags": []any{"x", true, nil}},
			"labels": map[string]any{"k": "v"},
		}),
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("NewSignal() mismatch (-want +got):\n%s", diff)
	}
}

func TestNewSignalWithoutEvidence(t *testing.T) {
	for _, ev := range []map[string]any{nil, {}} {
		if got := NewSignal("a.b", 0, "", ev, 1); got.Evidence != nil {
			t.Errorf("NewSignal(evidence=%v).Evidence = %v, want nil", ev, got.Evidence)
		}
	}
}

func TestNewSignalTooDeep(t *testing.T) {
	var v any = "bottom"
	for range 10 {
		v = map[string]any{"x": v}
	}
	got := NewSignal("a.b", 0, "", map[string]any{"deep": v, "ok": 1}, 1)
	if _, ok := got.Evidence.GetFields()["deep"]; ok || len(got.Evidence.GetFields()) != 1 {
		t.Errorf("NewSignal(deep evidence).Evidence = %v, want only \"ok\"", got.Evidence)
	}
}

func TestEnvAndDataDir(t *testing.T) {
	t.Setenv("GAVEL_DETECTOR_REDIS_URL", "redis://x")
	t.Setenv("GAVEL_DETECTOR_EMPTY", "")
	for _, tc := range []struct{ key, def, want string }{
		{"redis_url", "d", "redis://x"},
		{"REDIS_URL", "d", "redis://x"},
		{"empty", "d", ""},
		{"missing", "d", "d"},
	} {
		if got := Env(tc.key, tc.def); got != tc.want {
			t.Errorf("Env(%q, %q) = %q, want %q", tc.key, tc.def, got, tc.want)
		}
	}

	t.Setenv("GAVEL_DETECTOR_DATA_DIR", "")
	if got := DataDir(); got != os.TempDir() {
		t.Errorf("DataDir() without the host's folder = %q, want %q", got, os.TempDir())
	}
	t.Setenv("GAVEL_DETECTOR_DATA_DIR", "/var/lib/gavel/email")
	if got := DataDir(); got != "/var/lib/gavel/email" {
		t.Errorf("DataDir() = %q, want /var/lib/gavel/email", got)
	}
}

// The detector's log lines use the keys go-plugin's host parses.
func TestLoggerSpeaksHCLogJSON(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: hclogKeys}))
	l.Warn("store slow", "ms", 12)
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	if got["@level"] != "warn" || got["@message"] != "store slow" || got["ms"] != 12.0 {
		t.Errorf("log line = %v, want @level=warn @message=\"store slow\" ms=12", got)
	}
	ts, _ := got["@timestamp"].(string)
	if _, err := time.Parse("2006-01-02T15:04:05.000000Z07:00", ts); err != nil {
		t.Errorf("@timestamp %q is not in hclog's format: %v", ts, err)
	}
	if strings.Contains(buf.String(), `"msg"`) {
		t.Errorf("log line %s still has slog's keys", buf.String())
	}
}

// TestTraceContextJoinsTheDecision: the traceparent gavel sends in a Detect
// call's metadata becomes the parent of the detector's spans.
func TestTraceContextJoinsTheDecision(t *testing.T) {
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("traceparent", parent))
	sc := trace.SpanContextFromContext(TraceContext(ctx))
	if !sc.IsRemote() || sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || sc.SpanID().String() != "00f067aa0ba902b7" || !sc.IsSampled() {
		t.Errorf("TraceContext(traceparent %s) = %+v, want that remote, sampled span", parent, sc)
	}
	if sc := trace.SpanContextFromContext(TraceContext(context.Background())); sc.IsValid() {
		t.Errorf("TraceContext(no metadata) = %+v, want no span", sc)
	}
}
