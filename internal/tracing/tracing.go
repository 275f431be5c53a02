// Package tracing is gavel's OpenTelemetry tracing: a tracer provider that
// exports over OTLP when configured (off by default), W3C trace context
// honoured from callers and passed on to detectors, the Connect handlers'
// spans (otelconnect), and a log handler that puts trace_id and span_id on
// every line logged with a request's context.
package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"

	"connectrpc.com/connect"
	"connectrpc.com/otelconnect"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Config is the tracing part of gavel's configuration.
type Config struct {
	// Exporter is "" (tracing off), "otlp-grpc" or "otlp-http".
	Exporter string `koanf:"exporter"`
	// Endpoint is the collector: host:port for otlp-grpc, a URL for
	// otlp-http; empty takes the exporter's default (localhost:4317,
	// http://localhost:4318/v1/traces).
	Endpoint string `koanf:"endpoint"`
	// Insecure sends without TLS (a collector on the same host).
	Insecure bool `koanf:"insecure"`
	// SampleRatio is the share of new traces sampled (0..1); a caller's
	// sampled traceparent is always followed.
	SampleRatio float64 `koanf:"sample_ratio"`
}

// Defaults are the configuration's defaults, under the tracing key.
func Defaults() map[string]any {
	return map[string]any{
		"tracing.exporter":     "",
		"tracing.endpoint":     "",
		"tracing.insecure":     false,
		"tracing.sample_ratio": 1.0,
	}
}

// Validate reports every problem through bad.
func (c Config) Validate(bad func(key, format string, args ...any)) {
	switch c.Exporter {
	case "", "otlp-grpc", "otlp-http":
	default:
		bad("tracing.exporter", "must be empty (off), otlp-grpc or otlp-http, got %q", c.Exporter)
	}
	if c.SampleRatio < 0 || c.SampleRatio > 1 {
		bad("tracing.sample_ratio", "must be between 0 and 1, got %v", c.SampleRatio)
	}
	if c.Exporter == "otlp-http" && c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			bad("tracing.endpoint", "must be an http(s) URL for otlp-http, got %q", c.Endpoint)
		}
	}
	if c.Endpoint != "" && c.Exporter == "" {
		bad("tracing.endpoint", "is set but tracing.exporter is empty (tracing is off)")
	}
}

// Propagator is W3C trace context, the one format gavel reads and writes.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// Tracing is a configured tracer provider.
type Tracing struct {
	Provider trace.TracerProvider
	sdk      *sdktrace.TracerProvider // nil when off
}

// New starts tracing as configured; with no exporter the provider is a
// no-op and costs next to nothing.
func New(ctx context.Context, cfg Config, version string) (*Tracing, error) {
	var exp sdktrace.SpanExporter
	var err error
	switch cfg.Exporter {
	case "":
		return &Tracing{Provider: tracenoop.NewTracerProvider()}, nil
	case "otlp-grpc":
		opts := []otlptracegrpc.Option{}
		if cfg.Endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpoint(cfg.Endpoint))
		}
		if cfg.Insecure {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		exp, err = otlptracegrpc.New(ctx, opts...)
	case "otlp-http":
		opts := []otlptracehttp.Option{}
		if cfg.Endpoint != "" {
			opts = append(opts, otlptracehttp.WithEndpointURL(cfg.Endpoint))
		}
		if cfg.Insecure {
			opts = append(opts, otlptracehttp.WithInsecure())
		}
		exp, err = otlptracehttp.New(ctx, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: %s exporter: %w", cfg.Exporter, err)
	}
	return WithExporter(exp, cfg.SampleRatio, version), nil
}

// WithExporter is tracing into exp (tests pass an in-memory exporter).
func WithExporter(exp sdktrace.SpanExporter, ratio float64, version string) *Tracing {
	res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName("gavel"), semconv.ServiceVersion(version))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	)
	return &Tracing{Provider: tp, sdk: tp}
}

// Enabled reports whether spans are recorded and exported.
func (t *Tracing) Enabled() bool { return t.sdk != nil }

// Shutdown flushes and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	return t.sdk.Shutdown(ctx)
}

// ForceFlush exports the spans ended so far.
func (t *Tracing) ForceFlush(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	return t.sdk.ForceFlush(ctx)
}

// Tracer is gavel's tracer.
func (t *Tracing) Tracer() trace.Tracer { return t.Provider.Tracer("github.com/gavel/gavel") }

// HandlerOptions instrument Connect handlers: a server span per call,
// child of the caller's traceparent when it sends one. Metrics stay with
// gavel's own Prometheus series.
func (t *Tracing) HandlerOptions() ([]connect.HandlerOption, error) {
	if !t.Enabled() {
		return nil, nil
	}
	ic, err := otelconnect.NewInterceptor(
		otelconnect.WithTracerProvider(t.Provider),
		otelconnect.WithPropagator(Propagator),
		otelconnect.WithMeterProvider(noop.NewMeterProvider()),
		otelconnect.WithoutMetrics(),
		otelconnect.WithTrustRemote(),
	)
	if err != nil {
		return nil, fmt.Errorf("tracing: connect interceptor: %w", err)
	}
	return []connect.HandlerOption{connect.WithInterceptors(ic)}, nil
}

// LogHandler adds trace_id and span_id to every record logged with a
// context that carries a span.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{h.Handler.WithAttrs(as)}
}
func (h logHandler) WithGroup(name string) slog.Handler { return logHandler{h.Handler.WithGroup(name)} }
