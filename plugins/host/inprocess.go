package host

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// In-process detectors. A built-in detector may run inside gavel's own
// process instead of as a go-plugin binary: no process hop, no TLS, no
// protobuf round trip. It implements the same interface as the SDK's
// Detector, and the host drives it through the same code as a plugin (the
// same per-call deadline, circuit breaker, signal checks and statuses), so
// the failure guarantees hold:
//   - a panic in Describe, Detect or Observe is recovered and becomes that
//     call's error (the detector's status "error"), never gavel's crash;
//   - a call that ignores its deadline is abandoned at the deadline (status
//     "timeout"); it keeps running in the background until it returns,
//     which the circuit breaker bounds by not calling a detector that keeps
//     timing out;
//   - an answer with invalid or undeclared signals is rejected as a plugin's
//     is.
//
// What in-process cannot give is a process boundary: a detector that leaks
// memory, blocks a thread in C code, or writes to shared state is inside
// gavel. Third-party and other-language detectors stay out of process.

// How a detector runs, as Health reports it.
const (
	ModeProcess   = "process"
	ModeInProcess = "in_process"
)

// InProcess is a detector run inside gavel. It has the method set of the
// SDK's Detector; Observe (the SDK's Observer) is optional. Detect must
// treat the request as read-only: every detector of a decision gets the
// same one.
type InProcess interface {
	Describe(ctx context.Context) (*detectorv1.DescribeResponse, error)
	Detect(ctx context.Context, req *detectorv1.DetectRequest) (*detectorv1.DetectResponse, error)
}

type inProcessObserver interface {
	Observe(ctx context.Context, req *detectorv1.ObserveRequest) error
}

// Opener constructs an in-process detector. env reads the detector's
// configured env (as a plugin reads GAVEL_DETECTOR_<KEY>); dataDir is its
// data folder. The io.Closer, when not nil, is closed when the host stops
// the detector.
type Opener func(ctx context.Context, env func(key, def string) string, dataDir string) (InProcess, io.Closer, error)

// envReader reads a detector's configured env by upper-cased key, as a
// plugin sees it.
func envReader(env map[string]string) func(key, def string) string {
	upper := make(map[string]string, len(env))
	for k, v := range env {
		upper[strings.ToUpper(k)] = v
	}
	return func(key, def string) string {
		if v, ok := upper[strings.ToUpper(key)]; ok {
			return v
		}
		return def
	}
}

// localClient serves the generated client interface from an in-process
// detector, so Collect and Observe do not know which kind they call.
type localClient struct {
	d    InProcess
	name string
	log  *slog.Logger
}

var _ detectorv1.DetectorServiceClient = (*localClient)(nil)

func (c *localClient) Describe(ctx context.Context, _ *detectorv1.DescribeRequest, _ ...grpc.CallOption) (*detectorv1.DescribeResponse, error) {
	resp, err := guard(ctx, c, "Describe", func(ctx context.Context) (*detectorv1.DescribeResponse, error) {
		return c.d.Describe(ctx)
	})
	if err == nil && resp == nil {
		err = status.Error(codes.Internal, "Describe returned no description")
	}
	return resp, err
}

func (c *localClient) Detect(ctx context.Context, req *detectorv1.DetectRequest, _ ...grpc.CallOption) (*detectorv1.DetectResponse, error) {
	resp, err := guard(ctx, c, "Detect", func(ctx context.Context) (*detectorv1.DetectResponse, error) {
		return c.d.Detect(ctx, req)
	})
	if err == nil && resp == nil {
		resp = &detectorv1.DetectResponse{}
	}
	return resp, err
}

func (c *localClient) Observe(ctx context.Context, req *detectorv1.ObserveRequest, _ ...grpc.CallOption) (*detectorv1.ObserveResponse, error) {
	o, ok := c.d.(inProcessObserver)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "this detector does not observe decisions")
	}
	return guard(ctx, c, "Observe", func(ctx context.Context) (*detectorv1.ObserveResponse, error) {
		if err := o.Observe(ctx, req); err != nil {
			return nil, err
		}
		return &detectorv1.ObserveResponse{}, nil
	})
}

type answer[T any] struct {
	v   T
	err error
}

// guard runs call on its own goroutine, so that a call that ignores ctx is
// abandoned at ctx's deadline, and turns a panic into an Internal error.
// Errors are given gRPC codes as a plugin's would be: a deadline is
// DeadlineExceeded, anything else the detector returned keeps its code or
// is Unknown.
func guard[T any](ctx context.Context, c *localClient, method string, call func(context.Context) (T, error)) (T, error) {
	done := make(chan answer[T], 1)
	go func() {
		var a answer[T]
		defer func() {
			if r := recover(); r != nil {
				c.log.Error("in-process detector panicked", "method", method, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				a.err = status.Errorf(codes.Internal, "%s panicked: %v", method, r)
			}
			done <- a
		}()
		a.v, a.err = call(ctx)
	}()
	select {
	case a := <-done:
		if a.err != nil && ctx.Err() != nil {
			a.err = status.FromContextError(ctx.Err()).Err()
		} else if a.err != nil {
			if _, ok := status.FromError(a.err); !ok {
				a.err = status.Error(codes.Unknown, a.err.Error())
			}
		}
		return a.v, a.err
	case <-ctx.Done():
		var zero T
		return zero, status.FromContextError(ctx.Err()).Err()
	}
}
