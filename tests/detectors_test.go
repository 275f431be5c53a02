package tests

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger/ledgertest"
	"github.com/gavel/gavel/plugins/builtin"
	"github.com/gavel/gavel/plugins/host"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// pythonDetector returns the Python IP reputation detector's executable. The
// detector needs Debian's python3-grpcio, python3-protobuf and
// python3-cryptography: without them this fails, never skips (CI installs them).
func pythonDetector(tb testing.TB) string {
	tb.Helper()
	path, err := filepath.Abs("../plugins/detectors-python/ipreputation/gavel-detector-ipreputation")
	if err != nil {
		tb.Fatal(err)
	}
	if python(tb) == "" {
		tb.Fatal("the Python detector needs python3 with grpc, google.protobuf and cryptography: " +
			"apt-get install -y python3-grpcio python3-protobuf python3-cryptography")
	}
	return path
}

// python returns an interpreter the detector's wrapper would end up on (the
// one on PATH, else Debian's), or "" when none has the modules.
func python(tb testing.TB) string {
	tb.Helper()
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		cmd := exec.Command(py, "-c", "import grpc, google.protobuf, cryptography")
		if err := cmd.Run(); err == nil {
			return py
		}
	}
	return ""
}

// builtinDetectors lists the folders under plugins/detectors, each built by
// TestMain into gavel-detector-<name>.
func builtinDetectors(tb testing.TB) []string {
	tb.Helper()
	// The built-in detectors are plugins/builtin's, enabled by default —
	// not every folder under plugins/detectors: a new detector made there
	// from plugins/README.md is built, but is not expected in every decision
	// until it is added to the built-ins.
	names := builtin.Names()
	for _, n := range names {
		if _, err := os.Stat(filepath.Join("..", "plugins", "detectors", n)); err != nil {
			tb.Fatalf("built-in detector %s has no folder under plugins/detectors: %v", n, err)
		}
	}
	return names
}

func TestPythonDetectorUnitTests(t *testing.T) {
	py := python(t)
	if py == "" {
		pythonDetector(t) // fails with the install hint
	}
	cmd := exec.Command(py, "-m", "unittest", "discover", "-s", ".")
	cmd.Dir = "../plugins/detectors-python/ipreputation"
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("python3 -m unittest: %v\n%s", err, out)
	}
}

// TestEveryDetectorInOneDecision starts gavel with every built-in detector
// and the Python one enabled, and checks each answers OK at some checkpoint
// and the Python detector's and the model's signals reach the reviewer view.
func TestEveryDetectorInOneDecision(t *testing.T) {
	t.Parallel()
	ipr := pythonDetector(t)
	builtins := builtinDetectors(t)
	env := []string{
		// Behaviour, not speed: a loaded CI machine must not turn a slow
		// answer into a timeout.
		"GAVEL_DECISION__SIGNAL_TIMEOUT=5s",
		"GAVEL_DETECTORS__PLUGINS__IPREPUTATION__ENABLED=true",
		"GAVEL_DETECTORS__PLUGINS__IPREPUTATION__PATH=" + ipr,
		"GAVEL_DETECTORS__PLUGINS__IPREPUTATION__TIMEOUT=2s",
	}
	env = append(env, budgetsEnv("2s")...)
	for _, name := range builtins {
		key := "GAVEL_DETECTORS__PLUGINS__" + strings.ToUpper(name)
		env = append(env, key+"__ENABLED=true", key+"__TIMEOUT=2s")
	}
	g := startGavel(t, env...)
	client := g.decisions()
	want := append(slices.Clone(builtins), "ipreputation")

	seen := map[string]bool{}
	var modelDecision, iprDecision string
	checkpoints := []string{"signup", "login", "profile_update", "identity_verification",
		"payout_method_change", "proposal_submit", "contract_start", "withdrawal"}
	for _, cp := range checkpoints {
		req := signup("amelia.laurent@example.com")
		req.Checkpoint = cp
		req.Subject.Profile.Phone = "+33612345678"
		req.Context.Ip = "198.51.100.9" // in the shipped bad_ranges.txt
		var resp *connect.Response[decisionv1.DecideResponse]
		// Detectors start concurrently with serving; wait until each is up.
		eventually(t, 60*time.Second, "every detector answering at "+cp, func() (bool, string) {
			r, err := client.Decide(ctxT(t), connect.NewRequest(req))
			if err != nil {
				return false, err.Error()
			}
			req.RequestId = fmt.Sprintf("%s-retry-%d", req.RequestId, time.Now().UnixNano())
			var bad []string
			for _, d := range r.Msg.GetDetectors() {
				if d.GetStatus() != decisionv1.DetectorStatus_DETECTOR_STATUS_OK {
					bad = append(bad, fmt.Sprintf("%s=%v", d.GetName(), d.GetStatus()))
				}
			}
			if len(bad) > 0 {
				return false, strings.Join(bad, ", ")
			}
			resp = r
			return true, ""
		})
		for _, d := range resp.Msg.GetDetectors() {
			seen[d.GetName()] = true
			switch d.GetName() {
			case "model":
				modelDecision = resp.Msg.GetDecisionId()
			case "ipreputation":
				iprDecision = resp.Msg.GetDecisionId()
			}
		}
	}
	t.Logf("detectors reporting OK: %v", slices.Sorted(maps.Keys(seen)))
	for _, name := range want {
		if !seen[name] {
			t.Errorf("detector %q never reported in Decide at any of %v; seen %v", name, checkpoints, seen)
		}
	}
	if iprDecision == "" {
		t.Fatal("no decision reported the ipreputation detector")
	}

	signals := func(id string) map[string]*decisionv1.Signal {
		got, err := client.GetDecision(ctxT(t), connect.NewRequest(&decisionv1.GetDecisionRequest{
			DecisionId: id, View: decisionv1.View_VIEW_REVIEWER,
		}))
		if err != nil {
			t.Fatalf("GetDecision(%s, reviewer) error = %v", id, err)
		}
		m := map[string]*decisionv1.Signal{}
		for _, s := range got.Msg.GetSignals() {
			m[s.GetName()] = s
		}
		return m
	}
	s := signals(iprDecision)["ip.reputation"]
	if s == nil || s.GetValue() != "abuse" || s.GetScore() != 0.9 ||
		s.GetEvidence().GetFields()["range"].GetStringValue() != "198.51.100.0/25" {
		t.Errorf("reviewer view ip.reputation = %v, want value abuse, score 0.9, range 198.51.100.0/25", s)
	}
	if slices.Contains(builtins, "model") {
		m := signals(modelDecision)["model.fraud_score"]
		if m == nil || !strings.HasPrefix(m.GetValue(), "fraud-lr-") ||
			len(m.GetEvidence().GetFields()["top_features"].GetListValue().GetValues()) != 5 {
			t.Errorf("reviewer view model.fraud_score = %v, want the model version and 5 top features", m)
		}
	}
}

// BenchmarkDetectorCall measures one Detect round trip through the host
// (go-plugin gRPC over mutual TLS) for the Python detector, with the Go model
// detector beside it for scale.
func BenchmarkDetectorCall(b *testing.B) {
	detectors := map[string]string{
		"ipreputation": pythonDetector(b),
		"model":        filepath.Join(binDir, "gavel-detector-model"),
	}
	for _, name := range []string{"ipreputation", "model"} {
		b.Run(name, func(b *testing.B) {
			if testing.Short() {
				b.Skip("needs the detector binaries built by TestMain")
			}
			h, err := host.New(host.Config{Detectors: []host.DetectorConfig{
				{Name: name, Path: detectors[name], Timeout: time.Second},
			}}, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { h.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := h.Start(ctx); err != nil {
				b.Fatal(err)
			}
			req := &decision.Request{
				RequestID:  "bench",
				Checkpoint: "withdrawal",
				Subject: decision.Subject{ID: "acct-1", Profile: decision.Profile{
					Email: "k3x9q2m7z@tempinbox.net", Country: "US", Phone: "+2348012345678",
				}},
				Context: decision.Context{IP: "198.51.100.9"},
			}
			now := time.Now()
			lat := make([]time.Duration, 0, b.N)
			timeouts := 0
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				res := h.Collect(ctx, req, now)
				lat = append(lat, time.Since(start))
				switch {
				case len(res) == 1 && res[0].Status == decision.StatusTimeout:
					timeouts++ // a loaded machine; counted, not a failure
				case len(res) != 1 || res[0].Status != decision.StatusOK || len(res[0].Signals) != 1:
					b.Fatalf("Collect() = %+v, want one ok result with one signal", res)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(timeouts), "timeouts")
			ledgertest.ReportLatency(b, lat)
		})
	}
}

// TestPythonDescriptorSetIsCurrent checks the descriptor set for languages
// without protoc (make generate writes it with buf beside detector.proto,
// and the Python detector's copy) against the Go code generated from the
// same .proto, so a protocol change cannot leave it stale.
func TestPythonDescriptorSetIsCurrent(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../proto/gavel/detector/v1/detector.binpb")
	if err != nil {
		t.Fatal(err)
	}
	if py, err := os.ReadFile("../plugins/detectors-python/ipreputation/detector.binpb"); err != nil || !bytes.Equal(py, data) {
		t.Errorf("the Python detector's detector.binpb differs from proto/gavel/detector/v1/detector.binpb (%v): run make generate", err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(data, &set); err != nil {
		t.Fatalf("detector.binpb: %v", err)
	}
	want := protodesc.ToFileDescriptorProto(detectorv1.File_gavel_detector_v1_detector_proto)
	if len(set.GetFile()) != 1 {
		t.Fatalf("detector.binpb holds %d files, want 1 (built with --exclude-imports)", len(set.GetFile()))
	}
	got := set.GetFile()[0]
	got.ProtoReflect().SetUnknown(nil) // buf's own bookkeeping
	// buf records each field's JSON name; the Go descriptor derives it.
	for _, m := range got.GetMessageType() {
		for _, f := range m.GetField() {
			f.JsonName = nil
		}
	}
	for _, m := range want.GetMessageType() {
		for _, f := range m.GetField() {
			f.JsonName = nil
		}
	}
	if !proto.Equal(want, got) {
		t.Errorf("detector.binpb is stale: run make generate\nbinpb: %v\nwant:  %v", prototext.Format(got), prototext.Format(want))
	}
}
