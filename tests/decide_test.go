package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/testing/protocmp"

	adminv1 "github.com/gavel/gavel/proto/gavel/admin/v1"
	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

var reqSeq atomic.Int64

// signup builds a signup request for a fresh subject with a unique request id.
func signup(email string) *decisionv1.DecideRequest {
	n := reqSeq.Add(1)
	return &decisionv1.DecideRequest{
		RequestId:  fmt.Sprintf("e2e-%d-%d", time.Now().UnixNano(), n),
		Checkpoint: "signup",
		Subject: &decisionv1.Subject{
			Id:   fmt.Sprintf("acct-%d-%d", time.Now().UnixNano(), n),
			Kind: "freelancer",
			Profile: &decisionv1.Profile{
				GivenName: "Amelia", FamilyName: "Laurent", Country: "FR", Email: email,
			},
		},
		Context: &decisionv1.RequestContext{
			Ip:       fmt.Sprintf("192.0.2.%d", n%250+1),
			DeviceId: fmt.Sprintf("dev-%d-%d", time.Now().UnixNano(), n),
		},
	}
}

func codes(r *decisionv1.DecideResponse) []string {
	var out []string
	for _, x := range r.GetReasons() {
		out = append(out, x.GetCode())
	}
	return out
}

func detectorStatus(r *decisionv1.DecideResponse, name string) decisionv1.DetectorStatus {
	for _, d := range r.GetDetectors() {
		if d.GetName() == name {
			return d.GetStatus()
		}
	}
	return decisionv1.DetectorStatus_DETECTOR_STATUS_UNSPECIFIED
}

// TestDecideOverEveryProtocol checks real decisions, with the real detector
// plugins, through the Connect, gRPC and gRPC-Web protocols.
func TestDecideOverEveryProtocol(t *testing.T) {
	g := startGavel(t)
	protocols := map[string][]connect.ClientOption{
		"connect": nil,
		"grpc":    {connect.WithGRPC()},
		"grpcweb": {connect.WithGRPCWeb()},
	}
	for name, opts := range protocols {
		t.Run(name, func(t *testing.T) {
			client := g.decisions(opts...)

			honest, err := client.Decide(ctxT(t), connect.NewRequest(signup("amelia.laurent@gmail.com")))
			if err != nil {
				t.Fatalf("Decide(honest signup) error = %v", err)
			}
			if got := honest.Msg.GetAction(); got != decisionv1.Action_ACTION_ALLOW {
				t.Errorf("Decide(honest signup) action = %v (reasons %v), want ALLOW", got, codes(honest.Msg))
			}
			for _, det := range []string{"email", "velocity"} {
				if got := detectorStatus(honest.Msg, det); got != decisionv1.DetectorStatus_DETECTOR_STATUS_OK {
					t.Errorf("Decide(honest signup) detector %s status = %v, want OK", det, got)
				}
			}
			if honest.Msg.GetDecisionId() == "" || honest.Msg.GetBundleRevision() == "" || honest.Msg.GetFallback() {
				t.Errorf("Decide(honest signup) = id %q revision %q fallback %v, want an id, a revision and no fallback",
					honest.Msg.GetDecisionId(), honest.Msg.GetBundleRevision(), honest.Msg.GetFallback())
			}

			disposable, err := client.Decide(ctxT(t), connect.NewRequest(signup("throwaway@mailinator.com")))
			if err != nil {
				t.Fatalf("Decide(disposable signup) error = %v", err)
			}
			if got := disposable.Msg.GetAction(); got < decisionv1.Action_ACTION_CHALLENGE {
				t.Errorf("Decide(disposable signup) action = %v, want at least CHALLENGE", got)
			}
			if !slices.Contains(codes(disposable.Msg), "EMAIL_DISPOSABLE") {
				t.Errorf("Decide(disposable signup) reasons = %v, want EMAIL_DISPOSABLE", codes(disposable.Msg))
			}
			for _, r := range disposable.Msg.GetReasons() {
				if r.GetTitle() == "" || r.GetMessage() == "" {
					t.Errorf("reason %s has title %q message %q, want both from the catalog", r.GetCode(), r.GetTitle(), r.GetMessage())
				}
				if r.GetExplanation() != "" || len(r.GetEvidence()) > 0 || r.GetRule() != "" {
					t.Errorf("reason %s in the caller's reply leaks reviewer detail: %v", r.GetCode(), r)
				}
			}
			if disposable.Msg.GetRemedy().GetCode() == "" {
				t.Errorf("Decide(disposable signup) remedy = %v, want one", disposable.Msg.GetRemedy())
			}
		})
	}
}

// TestGRPCHealthAndReflection talks to gavel with grpc-go itself.
func TestGRPCHealthAndReflection(t *testing.T) {
	g := startGavel(t)
	conn, err := grpc.NewClient(strings.TrimPrefix(g.addr, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, svc := range []string{"", "gavel.decision.v1.DecisionService"} {
		resp, err := healthpb.NewHealthClient(conn).Check(ctxT(t), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			t.Fatalf("Health.Check(%q) error = %v", svc, err)
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("Health.Check(%q) = %v, want SERVING", svc, resp.GetStatus())
		}
	}

	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctxT(t))
	if err != nil {
		t.Fatalf("ServerReflectionInfo() error = %v", err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	list, err := stream.Recv()
	if err != nil {
		t.Fatalf("reflection ListServices error = %v", err)
	}
	var services []string
	for _, s := range list.GetListServicesResponse().GetService() {
		services = append(services, s.GetName())
	}
	for _, want := range []string{"gavel.decision.v1.DecisionService", "gavel.appeal.v1.AppealService", "gavel.admin.v1.AdminService"} {
		if !slices.Contains(services, want) {
			t.Errorf("reflection lists %v, want %s among them", services, want)
		}
	}
}

func TestIdempotentRetryAndViews(t *testing.T) {
	g := startGavel(t)
	client := g.decisions()
	req := signup("quick.fox@mailinator.com")
	first, err := client.Decide(ctxT(t), connect.NewRequest(req))
	if err != nil {
		t.Fatal(err)
	}
	again, err := client.Decide(ctxT(t), connect.NewRequest(req))
	if err != nil {
		t.Fatalf("Decide(retry) error = %v", err)
	}
	if !again.Msg.GetReplayed() || again.Msg.GetDecisionId() != first.Msg.GetDecisionId() {
		t.Errorf("Decide(retry) = id %s replayed %v, want id %s replayed", again.Msg.GetDecisionId(), again.Msg.GetReplayed(), first.Msg.GetDecisionId())
	}
	want := first.Msg
	got := again.Msg
	if diff := cmp.Diff(want, got, protocmp.Transform(), protocmp.IgnoreFields(&decisionv1.DecideResponse{}, "replayed")); diff != "" {
		t.Errorf("Decide(retry) differs from the first reply (-first +retry):\n%s", diff)
	}

	// The same request id for another subject is refused, not replayed.
	other := signup("someone@example.org")
	other.RequestId = req.RequestId
	if _, err := client.Decide(ctxT(t), connect.NewRequest(other)); connect.CodeOf(err) != connect.CodeAlreadyExists {
		t.Errorf("Decide(reused request id, other subject) error = %v, want AlreadyExists", err)
	}

	user, err := client.GetDecision(ctxT(t), connect.NewRequest(&decisionv1.GetDecisionRequest{DecisionId: first.Msg.GetDecisionId()}))
	if err != nil {
		t.Fatalf("GetDecision(user) error = %v", err)
	}
	if user.Msg.GetInput() != nil || len(user.Msg.GetSignals()) > 0 {
		t.Errorf("GetDecision(user view) carries input or signals")
	}
	rev, err := client.GetDecision(ctxT(t), connect.NewRequest(&decisionv1.GetDecisionRequest{DecisionId: first.Msg.GetDecisionId(), View: decisionv1.View_VIEW_REVIEWER}))
	if err != nil {
		t.Fatalf("GetDecision(reviewer) error = %v", err)
	}
	if rev.Msg.GetInput().GetFields()["checkpoint"].GetStringValue() != "signup" {
		t.Errorf("GetDecision(reviewer) input = %v, want the input document", rev.Msg.GetInput())
	}
	var sawDisposable bool
	for _, s := range rev.Msg.GetSignals() {
		sawDisposable = sawDisposable || s.GetName() == "email.disposable"
	}
	if !sawDisposable {
		t.Errorf("GetDecision(reviewer) signals = %v, want email.disposable", rev.Msg.GetSignals())
	}
	for _, r := range rev.Msg.GetDecision().GetReasons() {
		if r.GetExplanation() == "" || r.GetRule() == "" || len(r.GetEvidence()) == 0 {
			t.Errorf("reviewer reason %s = %v, want explanation, rule and evidence", r.GetCode(), r)
		}
	}

	list, err := client.ListDecisions(ctxT(t), connect.NewRequest(&decisionv1.ListDecisionsRequest{SubjectId: req.GetSubject().GetId()}))
	if err != nil {
		t.Fatalf("ListDecisions error = %v", err)
	}
	if n := len(list.Msg.GetDecisions()); n != 1 {
		t.Errorf("ListDecisions(%s) = %d decisions, want 1 (the retry must not add one)", req.GetSubject().GetId(), n)
	}

	if _, err := client.GetDecision(ctxT(t), connect.NewRequest(&decisionv1.GetDecisionRequest{DecisionId: "no-such-decision"})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("GetDecision(unknown) error = %v, want NotFound", err)
	}
}

// TestBadInput checks that bad requests get a clear error naming the field
// and the right code, and that gavel keeps serving.
func TestBadInput(t *testing.T) {
	g := startGavel(t)
	client := g.decisions()
	tests := []struct {
		name   string
		mutate func(*decisionv1.DecideRequest)
		code   connect.Code
		field  string
	}{
		{"missing request id", func(r *decisionv1.DecideRequest) { r.RequestId = "" }, connect.CodeInvalidArgument, "request_id"},
		{"missing subject id", func(r *decisionv1.DecideRequest) { r.Subject.Id = "" }, connect.CodeInvalidArgument, "subject.id"},
		{"unknown checkpoint", func(r *decisionv1.DecideRequest) { r.Checkpoint = "teleport" }, connect.CodeInvalidArgument, "checkpoint"},
		{"bad ip", func(r *decisionv1.DecideRequest) { r.Context.Ip = "999.1.1.1" }, connect.CodeInvalidArgument, "context.ip"},
		{"bad country", func(r *decisionv1.DecideRequest) { r.Subject.Profile.Country = "France" }, connect.CodeInvalidArgument, "subject.profile.country"},
		{"score out of range", func(r *decisionv1.DecideRequest) {
			r.Signals = []*decisionv1.Signal{{Name: "geo.hosting_asn", Score: 7}}
		}, connect.CodeInvalidArgument, "signals[0]"},
		{"oversized body", func(r *decisionv1.DecideRequest) {
			r.Subject.Profile.DisplayName = strings.Repeat("x", 300<<10)
		}, connect.CodeResourceExhausted, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := signup("amelia@example.org")
			tt.mutate(req)
			_, err := client.Decide(ctxT(t), connect.NewRequest(req))
			if connect.CodeOf(err) != tt.code {
				t.Fatalf("Decide(%s) error = %v, want %v", tt.name, err, tt.code)
			}
			if tt.field != "" && !strings.Contains(err.Error(), tt.field) {
				t.Errorf("Decide(%s) error = %q, want it to name %q", tt.name, err, tt.field)
			}
		})
	}

	// Malformed JSON over the Connect protocol.
	resp, err := h2cClient().Post(g.addr+"/gavel.decision.v1.DecisionService/Decide", "application/json", bytes.NewBufferString(`{"request_id": 12,`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST malformed JSON = HTTP %d, want 400 (invalid_argument)", resp.StatusCode)
	}

	// Still serving.
	if _, err := client.Decide(ctxT(t), connect.NewRequest(signup("amelia@example.org"))); err != nil {
		t.Errorf("Decide after bad input error = %v, want gavel still serving", err)
	}
}

// TestDetectorKilledMidRun kills a detector plugin: decisions keep answering
// with that detector reported unavailable until the host has restarted it.
func TestDetectorKilledMidRun(t *testing.T) {
	g := startGavel(t, "GAVEL_DETECTORS__RESTART_BACKOFF_MIN=2s", "GAVEL_DETECTORS__RESTART_BACKOFF_MAX=4s",
		"GAVEL_DETECTORS__PLUGINS__VELOCITY__MODE=process")
	client := g.decisions()
	first, err := client.Decide(ctxT(t), connect.NewRequest(signup("amelia@example.org")))
	if err != nil {
		t.Fatal(err)
	}
	if got := detectorStatus(first.Msg, "velocity"); got != decisionv1.DetectorStatus_DETECTOR_STATUS_OK {
		t.Fatalf("velocity status before the kill = %v, want OK", got)
	}
	pids := g.children(t, "gavel-detector-velocity")
	if len(pids) != 1 {
		t.Fatalf("velocity detector processes = %v, want exactly one child of gavel", pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	var sawUnavailable bool
	eventually(t, 30*time.Second, "velocity reported unavailable, then back to ok", func() (bool, string) {
		resp, err := client.Decide(ctxT(t), connect.NewRequest(signup("amelia@example.org")))
		if err != nil {
			return false, "Decide error: " + err.Error()
		}
		st := detectorStatus(resp.Msg, "velocity")
		if st != decisionv1.DetectorStatus_DETECTOR_STATUS_OK {
			sawUnavailable = sawUnavailable || st == decisionv1.DetectorStatus_DETECTOR_STATUS_UNAVAILABLE
			if detectorStatus(resp.Msg, "email") != decisionv1.DetectorStatus_DETECTOR_STATUS_OK {
				return false, "email detector affected too"
			}
		}
		return sawUnavailable && st == decisionv1.DetectorStatus_DETECTOR_STATUS_OK, st.String()
	})

	st, err := g.admin().GetStatus(ctxT(t), connect.NewRequest(&adminv1.GetStatusRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range st.Msg.GetDetectors() {
		if d.GetName() == "velocity" && d.GetRestarts() < 1 {
			t.Errorf("GetStatus velocity restarts = %d, want at least 1", d.GetRestarts())
		}
	}
	if pids := g.children(t, "gavel-detector-velocity"); len(pids) != 1 {
		t.Errorf("velocity detector processes after restart = %v, want exactly one", pids)
	}
}

// TestStatusAndGracefulShutdown runs the built-in detectors in both modes
// (velocity and geo as go-plugin processes, the rest in process): every one
// is ok, exactly the process-mode ones are child processes, and they exit
// with gavel.
func TestStatusAndGracefulShutdown(t *testing.T) {
	processes := []string{"geo", "velocity"}
	g := startGavel(t, "GAVEL_DETECTORS__PLUGINS__VELOCITY__MODE=process", "GAVEL_DETECTORS__PLUGINS__GEO__MODE=process")
	st, err := g.admin().GetStatus(ctxT(t), connect.NewRequest(&adminv1.GetStatusRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if st.Msg.GetLedgerBackend() != "sqlite" || len(st.Msg.GetBundles()) == 0 || !st.Msg.GetBundles()[0].GetReady() {
		t.Errorf("GetStatus = %v, want sqlite ledger and a ready bundle", st.Msg)
	}
	// policy.optimize (the default): the embedded policy's entry point is
	// optimised in the background shortly after activation.
	for deadline := time.Now().Add(30 * time.Second); ; {
		bs := st.Msg.GetBundles()
		if len(bs) > 0 && bs[0].GetOptimized() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GetStatus bundles = %v, want the active bundle optimised within 30s", bs)
		}
		time.Sleep(50 * time.Millisecond)
		if st, err = g.admin().GetStatus(ctxT(t), connect.NewRequest(&adminv1.GetStatusRequest{})); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for _, d := range st.Msg.GetDetectors() {
		names = append(names, d.GetName()+"="+d.GetState())
	}
	slices.Sort(names)
	var want []string
	for _, d := range builtinDetectors(t) {
		want = append(want, d+"=ok")
	}
	if !slices.Equal(names, want) {
		t.Errorf("GetStatus detectors = %v, want %v", names, want)
	}
	var detectors []int
	for _, d := range builtinDetectors(t) {
		pids := g.children(t, "gavel-detector-"+d)
		if n := len(pids); slices.Contains(processes, d) && n != 1 || !slices.Contains(processes, d) && n != 0 {
			t.Errorf("detector %s processes = %v, want one if it runs as a process (%v), none in process", d, pids, processes)
		}
		detectors = append(detectors, pids...)
	}
	if err := g.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("gavel exit after SIGTERM = %v, want a clean exit", err)
	}
	for _, pid := range detectors {
		eventually(t, 10*time.Second, fmt.Sprintf("detector pid %d exiting with gavel", pid), func() (bool, string) {
			err := syscall.Kill(pid, 0)
			return errors.Is(err, syscall.ESRCH), fmt.Sprint(err)
		})
	}
}

func TestAuthentication(t *testing.T) {
	g := startGavel(t,
		"GAVEL_AUTH__TOKENS__SIGNUP__SECRET=signup-service-secret-0001",
		"GAVEL_AUTH__TOKENS__SIGNUP__ROLES=decide",
		"GAVEL_AUTH__TOKENS__OPS__SECRET=operations-secret-000000001",
		"GAVEL_AUTH__TOKENS__OPS__ROLES=admin,read",
	)
	bearer := func(token string) connect.ClientOption {
		return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				req.Header().Set("Authorization", "Bearer "+token)
				return next(ctx, req)
			}
		}))
	}
	if _, err := g.decisions().Decide(ctxT(t), connect.NewRequest(signup("a@example.org"))); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("Decide without a token error = %v, want Unauthenticated", err)
	}
	if _, err := g.decisions(bearer("wrong-secret-wrong-secret")).Decide(ctxT(t), connect.NewRequest(signup("a@example.org"))); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("Decide with a wrong token error = %v, want Unauthenticated", err)
	}
	if _, err := g.decisions(bearer("signup-service-secret-0001")).Decide(ctxT(t), connect.NewRequest(signup("a@example.org"))); err != nil {
		t.Errorf("Decide with the signup token error = %v", err)
	}
	if _, err := g.admin(bearer("signup-service-secret-0001")).GetStatus(ctxT(t), connect.NewRequest(&adminv1.GetStatusRequest{})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("GetStatus with the signup token error = %v, want PermissionDenied", err)
	}
	if _, err := g.admin(bearer("operations-secret-000000001")).GetStatus(ctxT(t), connect.NewRequest(&adminv1.GetStatusRequest{})); err != nil {
		t.Errorf("GetStatus with the ops token error = %v", err)
	}
}
