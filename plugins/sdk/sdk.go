// Package sdk is what a gavel detector imports: implement Detector, call Serve
// from main, and build signals with NewSignal. The host starts the binary,
// calls Describe once and Detect on every decision whose checkpoint the
// detector wants, under a deadline. See plugins/PROTOCOL.md for the wire
// contract.
package sdk

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gavel/gavel/plugins"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// Detector is a gavel detector. Detect must honour ctx's deadline: the host
// ignores answers that arrive late. Both methods may be called concurrently.
type Detector interface {
	Describe(ctx context.Context) (*detectorv1.DescribeResponse, error)
	Detect(ctx context.Context, req *detectorv1.DetectRequest) (*detectorv1.DetectResponse, error)
}

// Observer is optionally implemented by a Detector that learns from the
// decisions gavel commits (a linkage detector learning which accounts were
// suspended). The host calls Observe, after the reply has left, for every
// committed decision that is not a dry run, provided Describe set Observes;
// delivery is best effort and may drop observations under load. A Detector
// that does not implement Observer answers the call with UNIMPLEMENTED, which
// the host ignores.
type Observer interface {
	Observe(ctx context.Context, req *detectorv1.ObserveRequest) error
}

// Serve serves d to the gavel host over go-plugin's gRPC transport and blocks
// until the host stops it. Run by hand (without the host's handshake cookie),
// it prints a message and exits with status 1. The detector exits on its own
// when the host that started it dies.
func Serve(d Detector) {
	go watchParent(os.Getppid(), time.Second)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugins.Handshake,
		Plugins:         plugins.PluginSet(&server{d: d}),
		GRPCServer:      plugin.DefaultGRPCServer,
		Logger:          hclogger,
	})
}

// watchParent exits when the process is re-parented, i.e. when the host that
// started it has died (Pdeathsig covers Linux hosts; this covers the rest).
func watchParent(ppid int, every time.Duration) {
	if ppid <= 1 {
		return
	}
	for range time.Tick(every) {
		if os.Getppid() != ppid {
			Logger().Error("gavel host died; exiting", "host_pid", ppid)
			os.Exit(2)
		}
	}
}

// DataDir returns the folder where the detector may keep state: the host's
// GAVEL_DETECTOR_DATA_DIR, else the system's temporary folder.
func DataDir() string {
	if d := os.Getenv(plugins.EnvDataDir); d != "" {
		return d
	}
	return os.TempDir()
}

// Env returns the value the host configured for key (read from
// GAVEL_DETECTOR_<KEY>, key upper-cased), or def when it is not set.
func Env(key, def string) string {
	if v, ok := os.LookupEnv(plugins.EnvPrefix + strings.ToUpper(key)); ok {
		return v
	}
	return def
}

// server adapts a Detector to the generated gRPC service. A panicking Detect
// fails that call, not the detector.
type server struct {
	detectorv1.UnimplementedDetectorServiceServer
	d Detector
}

func (s *server) Describe(ctx context.Context, _ *detectorv1.DescribeRequest) (resp *detectorv1.DescribeResponse, err error) {
	defer recoverInto(&err, "Describe")
	resp, err = s.d.Describe(ctx)
	if err == nil && resp == nil {
		err = status.Error(codes.Internal, "Describe returned no description")
	}
	return resp, err
}

func (s *server) Detect(ctx context.Context, req *detectorv1.DetectRequest) (resp *detectorv1.DetectResponse, err error) {
	defer recoverInto(&err, "Detect")
	resp, err = s.d.Detect(TraceContext(ctx), req)
	if err == nil && resp == nil {
		resp = &detectorv1.DetectResponse{}
	}
	return resp, err
}

func (s *server) Observe(ctx context.Context, req *detectorv1.ObserveRequest) (resp *detectorv1.ObserveResponse, err error) {
	o, ok := s.d.(Observer)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "this detector does not observe decisions")
	}
	defer recoverInto(&err, "Observe")
	if err = o.Observe(ctx, req); err != nil {
		return nil, err
	}
	return &detectorv1.ObserveResponse{}, nil
}

func recoverInto(err *error, method string) {
	if r := recover(); r != nil {
		Logger().Error("detector panicked", "method", method, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		*err = status.Errorf(codes.Internal, "%s panicked: %v", method, r)
	}
}

// hclogger is go-plugin's server logger: JSON lines on the real stderr, which
// the host parses and re-emits with the detector's name.
var hclogger = hclog.New(&hclog.LoggerOptions{
	Name:       "detector",
	Output:     os.Stderr,
	JSONFormat: true,
	Level:      hclog.LevelFromString(Env("LOG_LEVEL", "info")),
})

var logger = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{
	Level:       slogLevel(Env("LOG_LEVEL", "info")),
	ReplaceAttr: hclogKeys,
}))

// Logger returns a structured logger for the detector. Its lines reach the
// host's log at their level, tagged with the detector's name. Create loggers
// from it (or write to it) rather than to os.Stderr, which go-plugin redirects
// once Serve runs.
func Logger() *slog.Logger { return logger }

// hclogKeys renames slog's JSON keys to the ones the host parses.
func hclogKeys(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.TimeKey:
		return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
	case slog.LevelKey:
		l, _ := a.Value.Any().(slog.Level)
		switch {
		case l < slog.LevelDebug:
			return slog.String("@level", "trace")
		case l < slog.LevelInfo:
			return slog.String("@level", "debug")
		case l < slog.LevelWarn:
			return slog.String("@level", "info")
		case l < slog.LevelError:
			return slog.String("@level", "warn")
		default:
			return slog.String("@level", "error")
		}
	case slog.MessageKey:
		return slog.String("@message", a.Value.String())
	}
	return a
}

func slogLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// TraceContext returns ctx carrying the caller's span, from the W3C
// traceparent that gavel sends in the Detect call's gRPC metadata, so a
// detector that traces with OpenTelemetry starts its spans as children of
// the decision's. The SDK's server applies it before calling Detect.
func TraceContext(ctx context.Context) context.Context {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return ctx
	}
	carrier := propagation.MapCarrier{}
	for _, k := range []string{"traceparent", "tracestate"} {
		if v := md.Get(k); len(v) > 0 {
			carrier[k] = v[0]
		}
	}
	return propagation.TraceContext{}.Extract(ctx, carrier)
}
