package tests

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gavel/gavel/internal/certs/certstest"
	"github.com/gavel/gavel/proto/gavel/decision/v1/decisionv1connect"
)

var metricsLine = regexp.MustCompile(`msg="metrics serving" addr=(\S+)`)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

const (
	edgeDecideToken  = "edge-decide-secret-00000001"
	edgeMetricsToken = "edge-metrics-secret-0000001"
)

func httpGet(t *testing.T, client *http.Client, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "bearer "+token) // lower case: the scheme is case-insensitive
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestTokenlessEndpoints: with tokens configured, reflection and /metrics
// need a credential (metrics: the metrics or admin role); health, /healthz
// and /readyz stay open.
func TestTokenlessEndpoints(t *testing.T) {
	g := startGavel(t, append(detectorsOff(t),
		"GAVEL_AUTH__TOKENS__SIGNUP__SECRET="+edgeDecideToken,
		"GAVEL_AUTH__TOKENS__SIGNUP__ROLES=decide",
		"GAVEL_AUTH__TOKENS__SCRAPER__SECRET="+edgeMetricsToken,
		"GAVEL_AUTH__TOKENS__SCRAPER__ROLES=metrics",
	)...)
	client := h2cClient()
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/metrics", "", 401},
		{"/metrics", edgeDecideToken, 403},
		{"/metrics", edgeMetricsToken, 200},
		{"/healthz", "", 200},
		{"/readyz", "", 200},
	} {
		if code, body := httpGet(t, client, g.addr+tc.path, tc.token); code != tc.want {
			t.Errorf("GET %s (token %v) = %d, want %d: %s", tc.path, tc.token != "", code, tc.want, body)
		}
	}

	conn, err := grpc.NewClient(strings.TrimPrefix(g.addr, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if resp, err := healthpb.NewHealthClient(conn).Check(ctxT(t), &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("Health.Check without a token = %v, %v; want SERVING", resp, err)
	}
	listServices := func(ctx context.Context) error {
		stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
		if err != nil {
			return err
		}
		// A stream the server ended before reading (refused without a
		// token) fails Send with io.EOF; its status comes from Recv.
		if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		_, err = stream.Recv()
		return err
	}
	if err := listServices(ctxT(t)); status.Code(err) != grpccodes.Unauthenticated {
		t.Errorf("reflection without a token error = %v, want Unauthenticated", err)
	}
	authed := metadata.AppendToOutgoingContext(ctxT(t), "authorization", "Bearer "+edgeDecideToken)
	if err := listServices(authed); err != nil {
		t.Errorf("reflection with a token error = %v", err)
	}

	// GAVEL_ADDR without a scheme, as grpcurl takes it.
	cmd := exec.Command(filepath.Join(binDir, "gavel"), "decide", "--checkpoint", "signup", "--subject", "acct-addr", "--json")
	cmd.Env = []string{"GAVEL_ADDR=" + strings.TrimPrefix(g.addr, "http://"), "GAVEL_TOKEN=" + edgeDecideToken}
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "decisionId") {
		t.Errorf("gavel decide with GAVEL_ADDR=host:port: %v\n%s", err, out)
	}
}

// TestMetricsOnTheirOwnListener: server.metrics_listen serves /metrics on
// another address without a token, and not on the main port; with
// server.pprof, Go's profiles beside them.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	g := startGavel(t, append(detectorsOff(t),
		"GAVEL_SERVER__METRICS_LISTEN=127.0.0.1:0",
		"GAVEL_SERVER__PPROF=true",
		"GAVEL_AUTH__TOKENS__SIGNUP__SECRET="+edgeDecideToken,
		"GAVEL_AUTH__TOKENS__SIGNUP__ROLES=decide",
	)...)
	var m []string // the metrics listener is logged just after "gavel serving"
	eventually(t, 30*time.Second, "the \"metrics serving\" log line", func() (bool, string) {
		m = metricsLine.FindStringSubmatch(g.Logs())
		return m != nil, g.Logs()
	})
	if code, body := httpGet(t, h2cClient(), "http://"+m[1]+"/metrics", ""); code != 200 || !strings.Contains(body, "gavel_requests_in_flight_limit 256") {
		t.Errorf("GET metrics listener /metrics = %d, want 200 with gavel's series", code)
	}
	if code, _ := httpGet(t, h2cClient(), g.addr+"/metrics", edgeDecideToken); code != 404 {
		t.Errorf("GET main port /metrics = %d, want 404 (served on the metrics listener)", code)
	}
	if code, body := httpGet(t, h2cClient(), "http://"+m[1]+"/debug/pprof/", ""); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("GET metrics listener /debug/pprof/ = %d, want 200 with the profiles listed", code)
	}
	if code, _ := httpGet(t, h2cClient(), g.addr+"/debug/pprof/", edgeDecideToken); code != 404 {
		t.Errorf("GET main port /debug/pprof/ = %d, want 404", code)
	}
}

// TestTLSAndMutualTLS serves gavel over TLS with a CA made here: a client
// certificate names a caller with roles, as a token does; the client
// commands take --ca, --cert and --key; a replaced server certificate is
// served without a restart.
func TestTLSAndMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := certstest.NewCA(t, "gavel e2e CA")
	server := ca.Issue(t, "gavel", true).Write(t, dir, "server")
	client := ca.Issue(t, "payouts.internal", false).Write(t, dir, "client")
	caFile := filepath.Join(dir, "ca.pem")
	certstest.WriteFile(t, caFile, ca.PEM)

	g := startGavel(t, append(detectorsOff(t),
		"GAVEL_SERVER__TLS__CERT_FILE="+server.CertFile,
		"GAVEL_SERVER__TLS__KEY_FILE="+server.KeyFile,
		"GAVEL_SERVER__TLS__CLIENT_CA_FILE="+caFile,
		"GAVEL_AUTH__CLIENTS__PAYOUTS__COMMON_NAME=payouts.internal",
		"GAVEL_AUTH__CLIENTS__PAYOUTS__ROLES=decide",
	)...)
	addr := strings.TrimPrefix(g.addr, "http://")

	out, err := exec.Command(filepath.Join(binDir, "gavel"), "decide", "--addr", addr,
		"--ca", caFile, "--cert", client.CertFile, "--key", client.KeyFile,
		"--checkpoint", "signup", "--subject", "acct-mtls", "--email", "mtls@example.org").CombinedOutput()
	if err != nil {
		t.Fatalf("gavel decide over mTLS: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "allow") && !strings.Contains(string(out), "ALLOW") {
		t.Errorf("gavel decide over mTLS printed %s, want a decision", out)
	}
	out, err = exec.Command(filepath.Join(binDir, "gavel"), "decide", "--addr", addr, "--ca", caFile,
		"--checkpoint", "signup", "--subject", "acct-mtls").CombinedOutput()
	if err == nil {
		t.Errorf("gavel decide without a client certificate succeeded, want it refused:\n%s", out)
	}

	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	pair, err := tls.LoadX509KeyPair(client.CertFile, client.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	var protocols http.Protocols
	protocols.SetHTTP2(true)
	hc := &http.Client{Transport: &http.Transport{Protocols: &protocols, TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}}}
	for _, opts := range [][]connect.ClientOption{nil, {connect.WithGRPC()}} {
		dc := decisionv1connect.NewDecisionServiceClient(hc, "https://"+addr, opts...)
		if _, err := dc.Decide(ctxT(t), connect.NewRequest(signup("tls@example.org"))); err != nil {
			t.Errorf("Decide over mTLS (%d options) error = %v", len(opts), err)
		}
	}

	serial := func() int64 {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if got := serial(); got != server.Serial {
		t.Fatalf("server certificate serial = %d, want %d", got, server.Serial)
	}
	renewed := ca.Issue(t, "gavel", true).Write(t, dir, "server")
	eventually(t, 10*time.Second, "the renewed certificate to be served", func() (bool, string) {
		got := serial()
		return got == renewed.Serial, "serial " + itoa(got)
	})
}

// TestTimestampsOutOfRange: created_at of 2^62 seconds over gRPC and binary
// protobuf, or in 2999 over JSON, is invalid_argument naming the field, and
// nothing is stored.
func TestTimestampsOutOfRange(t *testing.T) {
	g := startGavel(t, detectorsOff(t)...)
	for name, opts := range map[string][]connect.ClientOption{
		"grpc":          {connect.WithGRPC()},
		"connect-proto": nil,
	} {
		req := signup("time@example.org")
		req.Subject.CreatedAt = &timestamppb.Timestamp{Seconds: 1 << 62}
		_, err := g.decisions(opts...).Decide(ctxT(t), connect.NewRequest(req))
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "subject.created_at") {
			t.Errorf("%s: Decide(created_at 2^62 s) error = %v, want invalid_argument naming subject.created_at", name, err)
		}
	}
	body := `{"request_id":"time-json-1","checkpoint":"signup","subject":{"id":"acct-time","created_at":"2999-01-01T00:00:00Z"}}`
	req, _ := http.NewRequestWithContext(ctxT(t), http.MethodPost, g.addr+"/gavel.decision.v1.DecisionService/Decide", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := h2cClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "subject.created_at") {
		t.Errorf("JSON Decide(created_at 2999) = %d %s, want 400 invalid_argument naming subject.created_at", resp.StatusCode, b)
	}
}

// scrape reads gavel's metrics as families by name.
func scrapeMetrics(t *testing.T, url, token string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := httpGet(t, h2cClient(), url, token)
	if code != 200 {
		t.Fatalf("GET %s = %d", url, code)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	return fams
}

// hasSeries reports whether fams hold a series name with the labels want.
func hasSeries(fams map[string]*dto.MetricFamily, name string, want map[string]string) bool {
	for _, m := range fams[name].GetMetric() {
		if labelled(m, want) {
			return true
		}
	}
	return false
}

// labelled reports whether m carries every label of want with its value.
func labelled(m *dto.Metric, want map[string]string) bool {
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// sumSeries adds the values of a family's series whose labels include want.
func sumSeries(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	var total float64
	for _, m := range fams[name].GetMetric() {
		if !labelled(m, want) {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			total += m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			total += m.GetGauge().GetValue()
		case m.GetHistogram() != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total
}

// TestMetricsMove: decisions, their latency, bundle loads, each detector's
// calls and the ledger's group commit move in /metrics after decisions; a
// caller over its rate is refused with resource_exhausted and counted as
// shed.
func TestMetricsMove(t *testing.T) {
	g := startGavel(t,
		"GAVEL_AUTH__TOKENS__SIGNUP__SECRET="+edgeDecideToken,
		"GAVEL_AUTH__TOKENS__SIGNUP__ROLES=decide",
		"GAVEL_AUTH__TOKENS__SCRAPER__SECRET="+edgeMetricsToken,
		"GAVEL_AUTH__TOKENS__SCRAPER__ROLES=metrics",
		"GAVEL_AUTH__TOKENS__BURSTY__SECRET=bursty-caller-secret-00001",
		"GAVEL_AUTH__TOKENS__BURSTY__ROLES=decide",
		"GAVEL_AUTH__TOKENS__BURSTY__RATE=0.01",
		"GAVEL_AUTH__TOKENS__BURSTY__BURST=1",
	)
	before := scrapeMetrics(t, g.addr+"/metrics", edgeMetricsToken)
	if got := sumSeries(before, "gavel_bundle_loads_total", map[string]string{"role": "active", "result": "activated"}); got < 1 {
		t.Errorf("gavel_bundle_loads_total{role=active,result=activated} = %v, want at least 1 after start", got)
	}
	client := g.decisions(withToken(edgeDecideToken))
	const n = 3
	var called []string // the detectors that take part at signup
	for range n {
		resp, err := client.Decide(ctxT(t), connect.NewRequest(signup("metrics@mailinator.com")))
		if err != nil {
			t.Fatal(err)
		}
		called = called[:0]
		for _, d := range resp.Msg.GetDetectors() {
			called = append(called, d.GetName())
		}
	}
	if len(called) < 3 {
		t.Fatalf("signup decisions called detectors %v, want the built-in ones", called)
	}
	after := scrapeMetrics(t, g.addr+"/metrics", edgeMetricsToken)
	for _, name := range []string{"gavel_decisions_total", "gavel_decision_seconds"} {
		if d := sumSeries(after, name, nil) - sumSeries(before, name, nil); d != n {
			t.Errorf("%s moved by %v after %d decisions, want %d", name, d, n, n)
		}
	}
	for _, det := range called {
		if d := sumSeries(after, "gavel_detector_calls_total", map[string]string{"detector": det}) - sumSeries(before, "gavel_detector_calls_total", map[string]string{"detector": det}); d != n {
			t.Errorf("gavel_detector_calls_total{detector=%s} moved by %v, want %d", det, d, n)
		}
	}
	// The ledger's series: the decisions went through the SQLite group
	// commit in at most as many transactions, none waits for the writer
	// now, none was made again, nothing is journaled.
	moved := func(name string) float64 { return sumSeries(after, name, nil) - sumSeries(before, name, nil) }
	if d, txs := moved("gavel_ledger_group_commit_decisions_total"), moved("gavel_ledger_group_commit_transactions_total"); d < n || txs < 1 || txs > d {
		t.Errorf("group commit moved by %v decisions in %v transactions after %d decisions, want at least %d in 1 to as many", d, txs, n, n)
	}
	// Its WAL checkpoints are counted by who ran them; none failed.
	for _, by := range []string{"background", "writer"} {
		if !hasSeries(after, "gavel_ledger_wal_checkpoints_total", map[string]string{"by": by}) {
			t.Errorf("/metrics has no gavel_ledger_wal_checkpoints_total{by=%q}", by)
		}
	}
	for _, name := range []string{"gavel_ledger_commits_waiting", "gavel_ledger_decisions_redone_total", "gavel_journal_pending", "gavel_ledger_wal_checkpoint_failures_total"} {
		if _, ok := after[name]; !ok {
			t.Errorf("/metrics has no %s", name)
		} else if got := sumSeries(after, name, nil); got != 0 {
			t.Errorf("%s = %v at rest, want 0", name, got)
		}
	}
	if got := sumSeries(after, "gavel_requests_in_flight_limit", nil); got != 256 {
		t.Errorf("gavel_requests_in_flight_limit = %v, want the default 256", got)
	}

	bursty := g.decisions(withToken("bursty-caller-secret-00001"))
	if _, err := bursty.Decide(ctxT(t), connect.NewRequest(signup("bursty@example.org"))); err != nil {
		t.Fatalf("first request within the burst: %v", err)
	}
	_, err := bursty.Decide(ctxT(t), connect.NewRequest(signup("bursty@example.org")))
	if connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Errorf("request past the caller's rate error = %v, want resource_exhausted", err)
	}
	shed := scrapeMetrics(t, g.addr+"/metrics", edgeMetricsToken)
	if got := sumSeries(shed, "gavel_requests_shed_total", map[string]string{"reason": "rate_limit", "caller": "bursty"}); got != 1 {
		t.Errorf("gavel_requests_shed_total{reason=rate_limit,caller=bursty} = %v, want 1", got)
	}
}
