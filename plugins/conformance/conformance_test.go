package conformance

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/gavel/gavel/plugins"
	"github.com/gavel/gavel/plugins/sdk"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// The test binary doubles as the detectors under test (go-plugin's
// TestHelperProcess pattern): with GAVEL_DETECTOR_MODE set (the --env
// mode=… a check passes on) it is a detector that misbehaves that way.
// Modes served by the Go SDK get the protocol right by construction and
// break one thing of their own; "raw*" modes speak the protocol by hand,
// as a detector in another language does, and get one part of it wrong.
const modeVar = "GAVEL_DETECTOR_MODE"

func TestMain(m *testing.M) {
	if mode := os.Getenv(modeVar); mode != "" {
		runTestDetector(mode)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runTestDetector(mode string) {
	cookie := os.Getenv(plugins.Handshake.MagicCookieKey) == plugins.Handshake.MagicCookieValue
	if strings.HasPrefix(mode, "raw") {
		serveRaw(mode, cookie)
		return
	}
	switch mode {
	case "stdout":
		fmt.Println("starting the detector…")
	case "lock":
		// State that a killed process leaves behind and a new one
		// refuses: it cannot be restarted after a kill.
		if cookie {
			lock := filepath.Join(sdk.DataDir(), "lock")
			if _, err := os.Stat(lock); err == nil {
				fmt.Fprintln(os.Stderr, "locked by another process")
				os.Exit(1)
			}
			_ = os.WriteFile(lock, nil, 0o600)
			defer os.Remove(lock)
		}
	}
	sdk.Serve(testDetector{mode: mode})
}

type testDetector struct{ mode string }

// budget is the test detectors' declared latency budget: an answer slower
// than it is only a warning, and a busy machine must not make one.
const budget = 10 * time.Second

func (d testDetector) Describe(context.Context) (*detectorv1.DescribeResponse, error) {
	return &detectorv1.DescribeResponse{Name: "test", Version: "1.0.0", Signals: []string{"test.score"},
		LatencyBudget: durationpb.New(budget)}, nil
}

func (d testDetector) Detect(ctx context.Context, req *detectorv1.DetectRequest) (*detectorv1.DetectResponse, error) {
	s := sdk.NewSignal("test.score", 0.5, req.GetCheckpoint(), nil, 1)
	switch d.mode {
	case "score":
		if req.GetSubject().GetKind() == "client" { // the risky sample
			s.Score = 2
		}
	case "undeclared":
		s.Name = "test.other"
	case "hang":
		<-ctx.Done()
		time.Sleep(time.Hour) // ignores its deadline
	}
	return &detectorv1.DetectResponse{Signals: []*detectorv1.Signal{s}}, nil
}

// serveRaw is a detector that speaks the protocol by hand and gets one
// part of it wrong:
//   - rawok: nothing (the harness's own control);
//   - rawloose: TLS without requiring a client certificate, and no health
//     service;
//   - rawpadded: the certificate in base64 with its = padding;
//   - rawname: a certificate for another name than localhost;
//   - rawstay: answers Shutdown and keeps running;
//   - rawbyhand: ignores the cookie (runs when started by hand).
func serveRaw(mode string, cookie bool) {
	if !cookie && mode != "rawbyhand" {
		fmt.Fprintln(os.Stderr, "a gavel detector: not meant to be run by hand")
		os.Exit(1)
	}
	dns := "localhost"
	if mode == "rawname" {
		dns = "detector.invalid"
	}
	cert, der := rawCert(dns)
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, ClientAuth: tls.RequireAndVerifyClientCert}
	if pemCert := os.Getenv("PLUGIN_CLIENT_CERT"); pemCert != "" {
		tc.ClientCAs = x509.NewCertPool()
		tc.ClientCAs.AppendCertsFromPEM([]byte(pemCert))
	}
	if mode == "rawloose" {
		tc.ClientAuth = tls.NoClientCert
	}
	dir, err := os.MkdirTemp("", "gcraw")
	if err != nil {
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "d.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		os.Exit(1)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(tc)))
	detectorv1.RegisterDetectorServiceServer(srv, &rawService{})
	if mode != "rawloose" {
		hs := health.NewServer()
		hs.SetServingStatus("plugin", healthpb.HealthCheckResponse_SERVING)
		healthpb.RegisterHealthServer(srv, hs)
	}
	stop := make(chan struct{}, 1)
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "plugin.GRPCController",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{MethodName: "Shutdown", Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			if err := dec(&emptypb.Empty{}); err != nil {
				return nil, err
			}
			if mode != "rawstay" {
				stop <- struct{}{}
			}
			return &emptypb.Empty{}, nil
		}}},
	}, struct{}{})
	field := base64.RawStdEncoding.EncodeToString(der)
	if mode == "rawpadded" {
		field = base64.StdEncoding.EncodeToString(der)
		for !strings.HasSuffix(field, "=") { // make sure the padding shows
			cert, der = rawCert(dns)
			tc.Certificates = []tls.Certificate{cert}
			field = base64.StdEncoding.EncodeToString(der)
		}
	}
	fmt.Printf("1|1|unix|%s|grpc|%s\n", sock, field)
	go func() { _ = srv.Serve(lis) }()
	go func() { // exit with the parent, as the protocol asks
		ppid := os.Getppid()
		for range time.Tick(200 * time.Millisecond) {
			if os.Getppid() != ppid {
				os.Exit(2)
			}
		}
	}()
	<-stop
	go srv.Stop()
	time.Sleep(10 * time.Millisecond)
}

type rawService struct {
	detectorv1.UnimplementedDetectorServiceServer
}

func (rawService) Describe(context.Context, *detectorv1.DescribeRequest) (*detectorv1.DescribeResponse, error) {
	return &detectorv1.DescribeResponse{Name: "raw", Version: "0.1.0", Signals: []string{"raw.score"},
		LatencyBudget: durationpb.New(budget)}, nil
}

func (rawService) Detect(context.Context, *detectorv1.DetectRequest) (*detectorv1.DetectResponse, error) {
	return &detectorv1.DetectResponse{Signals: []*detectorv1.Signal{{Name: "raw.score", Score: 0.1, Confidence: 1}}}, nil
}

func rawCert(dns string) (tls.Certificate, []byte) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: dns}, DNSNames: []string{dns},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature, NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	keyDER, _ := x509.MarshalECPrivateKey(key)
	pair, _ := tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	return pair, der
}

// check runs the conformance check against this test binary in mode.
func check(t *testing.T, mode string) *Report {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Options{Path: self, Env: map[string]string{"mode": mode}, DataDir: t.TempDir(),
		Checkpoints: []string{"signup", "login"}, CallTimeout: 3 * time.Second, StartTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("Run(%s) = %v", mode, err)
	}
	return rep
}

// TestConformingDetectors: the harness's own detectors, one served by the
// Go SDK and one by hand, pass every check.
func TestConformingDetectors(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"ok", "rawok"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			rep := check(t, mode)
			for _, c := range rep.Checks {
				// A slow answer is a warning about speed, which a busy
				// machine may earn; everything else must pass.
				if c.Status != Pass && (c.Status != Warn || c.Name != CheckDetect) {
					t.Errorf("%s: %s %s", c.Name, c.Status, c.Detail)
				}
			}
			if rep.Failed() || len(rep.Checks) != 13 {
				t.Errorf("Failed() = %v with %d checks, want a pass of 13", rep.Failed(), len(rep.Checks))
			}
		})
	}
}

// TestMisbehavingDetectors: each way of breaking the protocol fails the
// check that covers it, with a line that says what is wrong.
func TestMisbehavingDetectors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode, check, want string
	}{
		{"stdout", CheckHandshake, "the first line on stdout is not a handshake"},
		{"stdout", CheckHost, "refused it"},
		{"score", CheckSignals, "score 2"},
		{"undeclared", CheckSignals, `"test.other" was not declared by Describe`},
		{"hang", CheckDetect, "timeout"},
		{"lock", CheckRestart, "locked by another process"},
		{"rawloose", CheckMTLS, "answers a caller without a client certificate and a client certificate other than PLUGIN_CLIENT_CERT"},
		{"rawloose", CheckHealth, "no grpc.health.v1.Health service"},
		{"rawpadded", CheckCertificate, "strip the trailing ="},
		{"rawname", CheckCertificate, "lack DNS localhost"},
		{"rawstay", CheckShutdown, "still running 2s later"},
		{"rawbyhand", CheckByHand, "still running"},
	} {
		t.Run(tc.mode+"/"+tc.check, func(t *testing.T) {
			t.Parallel()
			rep := check(t, tc.mode)
			c, ok := rep.Find(tc.check)
			if !ok || c.Status != Fail || !strings.Contains(c.Detail, tc.want) {
				var b strings.Builder
				_ = rep.WriteText(&b)
				t.Errorf("check %q = %+v, want FAIL with %q; report:\n%s", tc.check, c, tc.want, b.String())
			}
			if !rep.Failed() {
				t.Errorf("Failed() = false")
			}
		})
	}
}

func TestRunRefusesNoBinary(t *testing.T) {
	if _, err := Run(t.Context(), Options{}); err == nil {
		t.Error("Run without a path succeeded")
	}
	rep, err := Run(t.Context(), Options{Path: filepath.Join(t.TempDir(), "missing")})
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := rep.Find(CheckBinary); c.Status != Fail || !strings.Contains(c.Detail, "no such file") {
		t.Errorf("missing binary: %+v", c)
	}
	if len(rep.Checks) != 1 || !rep.Failed() {
		t.Errorf("missing binary ran %d checks", len(rep.Checks))
	}
}
