package host

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gavel/gavel/plugins"
	"github.com/gavel/gavel/plugins/sdk"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// The test binary doubles as the detectors under test (go-plugin's
// TestHelperProcess pattern): started by a Host, it sees the handshake cookie
// and serves testDetector instead of running tests. With envHostMode it is a
// gavel host instead, for the orphan test.
const envHostMode = "GAVEL_HOST_TEST_MODE"

var (
	selfPath   string // this test binary
	selfSHA256 string
)

func TestMain(m *testing.M) {
	if os.Getenv(plugins.Handshake.MagicCookieKey) == plugins.Handshake.MagicCookieValue {
		runTestDetector()
		os.Exit(0)
	}
	var err error
	if selfPath, err = os.Executable(); err != nil {
		fmt.Fprintln(os.Stderr, "test binary:", err)
		os.Exit(1)
	}
	sum, err := fileSHA256(selfPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "test binary:", err)
		os.Exit(1)
	}
	selfSHA256 = hex.EncodeToString(sum)
	if os.Getenv(envHostMode) != "" {
		runTestHost()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runTestDetector is a detector whose behaviour the host's configuration
// picks: MODE for start-up behaviour, the request's "case" attribute for Detect.
func runTestDetector() {
	switch sdk.Env("MODE", "") {
	case "garbage":
		fmt.Println("hello from a detector that prints to stdout")
	case "exit":
		os.Exit(3)
	}
	sdk.Serve(testDetector{})
}

type testDetector struct{}

// queue serialises the "queue" case's calls.
var queue sync.Mutex

func (testDetector) Describe(context.Context) (*detectorv1.DescribeResponse, error) {
	r := &detectorv1.DescribeResponse{
		Name:    "test",
		Version: "1.2.3",
		Signals: []string{"test.score", "test.env"},
		// OBSERVE_MODE: record (to observed.jsonl in the data folder), fail, hang, unimplemented
		Observes: sdk.Env("OBSERVE_MODE", "") != "",
	}
	if cps := sdk.Env("CHECKPOINTS", ""); cps != "" {
		r.Checkpoints = strings.Split(cps, ",")
	}
	if b := sdk.Env("BUDGET", ""); b != "" {
		d, err := time.ParseDuration(b)
		if err != nil {
			return nil, err
		}
		r.LatencyBudget = durationpb.New(d)
	}
	return r, nil
}

func (testDetector) Detect(ctx context.Context, req *detectorv1.DetectRequest) (*detectorv1.DetectResponse, error) {
	c := req.GetAttributes().GetFields()["case"].GetStringValue()
	ok := sdk.NewSignal("test.score", 0.5, req.GetSubject().GetId(),
		map[string]any{"checkpoint": req.GetCheckpoint(), "dropped": math.NaN()}, 0.9)
	one := func(s *detectorv1.Signal) (*detectorv1.DetectResponse, error) {
		return &detectorv1.DetectResponse{Signals: []*detectorv1.Signal{s}}, nil
	}
	switch c {
	case "", "ok":
		return one(ok)
	case "clean":
		return one(sdk.NewSignal("test.score", 0.5, req.GetSubject().GetId(),
			map[string]any{"checkpoint": req.GetCheckpoint()}, 0.9))
	case "none":
		return &detectorv1.DetectResponse{}, nil
	case "trace": // the span the detector's own spans would join
		sc := trace.SpanContextFromContext(ctx)
		return one(sdk.NewSignal("test.score", 0.5, sc.TraceID().String()+"/"+sc.SpanID().String(), nil, 1))
	case "slow": // answers after the request's "sleep" (a duration), whatever the deadline
		d, err := time.ParseDuration(req.GetAttributes().GetFields()["sleep"].GetStringValue())
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "slow: sleep: %v", err)
		}
		time.Sleep(d)
		return one(ok)
	case "queue": // like slow, but one call at a time: a detector whose store serialises writers
		d, err := time.ParseDuration(req.GetAttributes().GetFields()["sleep"].GetStringValue())
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "queue: sleep: %v", err)
		}
		queue.Lock()
		time.Sleep(d)
		queue.Unlock()
		return one(ok)
	case "hang":
		time.Sleep(time.Hour) // ignores ctx on purpose
	case "score2":
		return one(sdk.NewSignal("test.score", 2, "", nil, 1))
	case "nan":
		return one(sdk.NewSignal("test.score", math.NaN(), "", nil, 1))
	case "confidence":
		return one(sdk.NewSignal("test.score", 0.1, "", nil, -0.5))
	case "undeclared":
		return one(sdk.NewSignal("test.undeclared", 0.1, "", nil, 1))
	case "evidence_deep":
		v := structpb.NewStringValue("bottom")
		for range 10 {
			v = structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"x": v}})
		}
		s := sdk.NewSignal("test.score", 0.1, "", nil, 1)
		s.Evidence = v.GetStructValue()
		return one(s)
	case "evidence_big":
		// Within every per-string and per-key limit, but 20 KB in all.
		ev := map[string]any{}
		for i := range 5 {
			ev[fmt.Sprintf("k%d", i)] = strings.Repeat("x", 4000)
		}
		return one(sdk.NewSignal("test.score", 0.1, "", ev, 1))
	case "evidence_inf":
		// Bypasses the SDK, which would drop it.
		s := sdk.NewSignal("test.score", 0.1, "", nil, 1)
		s.Evidence = &structpb.Struct{Fields: map[string]*structpb.Value{"x": structpb.NewNumberValue(math.Inf(1))}}
		return one(s)
	case "toomany":
		r := &detectorv1.DetectResponse{}
		for range MaxSignals + 1 {
			r.Signals = append(r.Signals, ok)
		}
		return r, nil
	case "one_bad_of_two":
		return &detectorv1.DetectResponse{Signals: []*detectorv1.Signal{ok, sdk.NewSignal("test.score", -1, "", nil, 1)}}, nil
	case "error":
		return nil, status.Error(codes.FailedPrecondition, "store unreachable")
	case "panic":
		panic("detector bug")
	case "env":
		var names []string
		for _, kv := range os.Environ() {
			names = append(names, strings.SplitN(kv, "=", 2)[0])
		}
		sort.Strings(names)
		return one(sdk.NewSignal("test.env", 0, strings.Join(names, ","),
			map[string]any{"data_dir": sdk.DataDir(), "colour": sdk.Env("colour", "none")}, 1))
	case "log":
		sdk.Logger().Warn("detector says hello", "subject", req.GetSubject().GetId())
		return one(ok)
	}
	return nil, status.Errorf(codes.InvalidArgument, "unknown case %q", c)
}

// runTestHost runs a host with two detectors, prints their PIDs and waits to
// be killed.
func runTestHost() {
	h, err := New(Config{Detectors: []DetectorConfig{
		{Name: "one", Path: selfPath, SHA256: selfSHA256},
		{Name: "two", Path: selfPath, SHA256: selfSHA256},
	}, OnFailure: OnFailureRefuse}, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err == nil {
		err = h.Start(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "test host:", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	for _, s := range h.Status() {
		fmt.Fprintf(w, "%d ", s.PID)
	}
	fmt.Fprintln(w)
	w.Flush()
	select {}
}
