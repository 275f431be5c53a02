package conformance

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/plugins"
	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// Names of the checks, in the order they run.
const (
	CheckBinary      = "binary"
	CheckByHand      = "run by hand"
	CheckHandshake   = "handshake"
	CheckCertificate = "certificate"
	CheckMTLS        = "mutual TLS"
	CheckHealth      = "health"
	CheckDescribe    = "describe"
	CheckShutdown    = "shutdown"
	CheckHost        = "start under gavel"
	CheckDetect      = "detect"
	CheckSignals     = "signals"
	CheckHostHealth  = "health under gavel"
	CheckRestart     = "restart after kill"
)

// What gavel's host sets (plugins/host, go-plugin's client).
const (
	minPort      = 10000
	maxPort      = 25000
	shutdownWait = 2 * time.Second // go-plugin's grace before it kills
	pluginHealth = "plugin"        // go-plugin's health service name
	shutdownRPC  = "/plugin.GRPCController/Shutdown"
)

// passEnv is all of the caller's environment a detector sees, as in gavel.
var passEnv = []string{"PATH", "HOME", "TMPDIR", "LANG"}

// binary checks the file is there and executable, and says its pin.
func (c *checker) binary() bool {
	st, err := os.Stat(c.opts.Path)
	switch {
	case err != nil:
		c.add(CheckBinary, Fail, "%v", err)
		return false
	case st.IsDir():
		c.add(CheckBinary, Fail, "%s is a folder, not an executable", c.opts.Path)
		return false
	case st.Mode()&0o111 == 0:
		c.add(CheckBinary, Fail, "%s is not executable (chmod +x)", c.opts.Path)
		return false
	}
	sum, err := fileSHA256(c.opts.Path)
	if err != nil {
		c.add(CheckBinary, Fail, "%v", err)
		return false
	}
	c.add(CheckBinary, Pass, "sha256 %s (pin it as detectors.plugins.%s.sha256)", sum, c.name())
	return true
}

// name is the detector's name for the host and its data folder: the file
// name without gavel-detector-, as a configuration key.
func (c *checker) name() string {
	base := strings.TrimPrefix(filepath.Base(c.opts.Path), "gavel-detector-")
	base = strings.ToLower(strings.TrimSuffix(base, filepath.Ext(base)))
	base = regexp.MustCompile(`[^a-z0-9_]+`).ReplaceAllString(base, "_")
	if base == "" || base[0] < 'a' || base[0] > 'z' || len(base) > 64 {
		return "detector"
	}
	return base
}

func (c *checker) dataDir() string { return filepath.Join(c.opts.DataDir, c.name()) }

// env is the environment gavel gives the detector, without go-plugin's
// own variables.
func (c *checker) env() []string {
	var env []string
	for _, k := range passEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	env = append(env, plugins.EnvDataDir+"="+c.dataDir())
	keys := make([]string, 0, len(c.opts.Env))
	for k := range c.opts.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		env = append(env, plugins.EnvPrefix+strings.ToUpper(k)+"="+c.opts.Env[k])
	}
	return env
}

// byHand runs the binary without the handshake cookie, as a person would:
// it must say so on stderr and exit non-zero, printing nothing on stdout.
func (c *checker) byHand(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.opts.Path)
	cmd.Env = c.env()
	cmd.Dir = c.dataDir()
	if err := os.MkdirAll(cmd.Dir, 0o700); err != nil {
		c.add(CheckByHand, Fail, "data folder: %v", err)
		return
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		c.add(CheckByHand, Fail, "still running after %v without %s: a detector run by hand must print a message on stderr and exit 1",
			c.opts.StartTimeout, plugins.Handshake.MagicCookieKey)
	case err == nil:
		c.add(CheckByHand, Fail, "exited 0 without %s: a detector run by hand must print a message on stderr and exit 1",
			plugins.Handshake.MagicCookieKey)
	case !errors.As(err, &exit):
		c.add(CheckByHand, Fail, "could not run it: %v", err)
	case stdout.Len() > 0:
		c.add(CheckByHand, Fail, "exited %d but printed on stdout: %q", exit.ExitCode(), firstLine(stdout.String()))
	default:
		c.add(CheckByHand, Pass, "without %s it exits %d: %s", plugins.Handshake.MagicCookieKey, exit.ExitCode(),
			cmpOr(firstLine(stderr.String()), "(nothing on stderr)"))
	}
}

// proc is the detector started by hand with gavel's environment.
type proc struct {
	cmd  *exec.Cmd
	line string
	done chan struct{} // closed when it exited
	err  error         // its exit, once done
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) kill() {
	if !p.exited() {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// start runs the detector as go-plugin's client does and reads its first
// line of stdout.
func (c *checker) start(clientPEM []byte) (*proc, error) {
	cmd := exec.Command(c.opts.Path)
	cmd.Env = append(c.env(),
		plugins.Handshake.MagicCookieKey+"="+plugins.Handshake.MagicCookieValue,
		"PLUGIN_PROTOCOL_VERSIONS="+strconv.Itoa(int(plugins.Handshake.ProtocolVersion)),
		fmt.Sprintf("PLUGIN_MIN_PORT=%d", minPort), fmt.Sprintf("PLUGIN_MAX_PORT=%d", maxPort),
		"PLUGIN_CLIENT_CERT="+string(clientPEM))
	cmd.Dir = c.dataDir()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	log := c.opts.Log.With("detector", c.name())
	go func() {
		s := bufio.NewScanner(stderr)
		s.Buffer(make([]byte, 64<<10), 1<<20)
		for s.Scan() {
			c.tail.add(s.Text())
			log.Info(s.Text())
		}
	}()
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, err := r.ReadString('\n')
		if err == nil || line != "" {
			lines <- line
		}
		close(lines)
		_, _ = io.Copy(io.Discard, r) // as go-plugin does: never block its stdout
		// Wait closes the pipe: only once it is read to its end.
		p.err = cmd.Wait()
		close(p.done)
	}()
	// A line printed just before exiting still counts: the reader sees it
	// before the end of the stream.
	select {
	case line, ok := <-lines:
		if !ok {
			p.kill()
			return nil, fmt.Errorf("exited (%v) without printing a handshake line", p.err)
		}
		p.line = line
		return p, nil
	case <-time.After(c.opts.StartTimeout):
		p.kill()
		return nil, fmt.Errorf("no handshake line on stdout within %v", c.opts.StartTimeout)
	}
}

// handshake is a parsed handshake line.
type handshake struct {
	network, address string
	cert             *x509.Certificate
}

// protocol runs the checks by hand, against one start of the detector,
// and returns its Describe answer (nil when it could not be had).
func (c *checker) protocol(ctx context.Context) *detectorv1.DescribeResponse {
	after := []string{CheckCertificate, CheckMTLS, CheckHealth, CheckDescribe, CheckShutdown}
	client, clientPEM, err := selfSigned()
	if err != nil {
		c.add(CheckHandshake, Fail, "make a client certificate: %v", err)
		c.skip("no client certificate", after...)
		return nil
	}
	p, err := c.start(clientPEM)
	if err != nil {
		c.add(CheckHandshake, Fail, "%v", err)
		c.skip("no handshake", after...)
		return nil
	}
	defer p.kill()
	hs, certField, err := parseHandshake(p.line)
	if err != nil {
		c.add(CheckHandshake, Fail, "%v", err)
		c.skip("no handshake", after...)
		return nil
	}
	c.add(CheckHandshake, Pass, "%s", strings.Replace(strings.TrimSpace(p.line), certField, fmt.Sprintf("<certificate, %d characters>", len(certField)), 1))

	if hs.cert, err = parseCert(certField); err != nil {
		c.add(CheckCertificate, Fail, "%v", err)
		c.skip("no certificate to trust", CheckMTLS, CheckHealth, CheckDescribe, CheckShutdown)
		return nil
	}
	if err := verifyCert(hs.cert); err != nil {
		c.add(CheckCertificate, Fail, "%v", err)
		c.skip("gavel would not trust the certificate", CheckMTLS, CheckHealth, CheckDescribe, CheckShutdown)
		return nil
	}
	c.add(CheckCertificate, Pass, "%s, for DNS localhost, serverAuth, valid until %s",
		keyName(hs.cert), hs.cert.NotAfter.UTC().Format(time.RFC3339))

	conn, err := dial(hs, &client)
	if err != nil {
		c.add(CheckMTLS, Fail, "%v", err)
		c.skip("no connection", CheckHealth, CheckDescribe, CheckShutdown)
		return nil
	}
	defer conn.Close()
	if !c.mtls(ctx, hs, conn) {
		c.skip("no connection", CheckHealth, CheckDescribe, CheckShutdown)
		return nil
	}
	c.health(ctx, conn)
	desc := c.describe(ctx, conn)
	c.shutdown(ctx, conn, p)
	return desc
}

// parseHandshake reads `1|1|tcp|127.0.0.1:1234|grpc|<cert>` and returns it
// with its certificate field as printed.
func parseHandshake(line string) (handshake, string, error) {
	var hs handshake
	if !strings.HasSuffix(line, "\n") {
		return hs, "", fmt.Errorf("the handshake line %q does not end with a newline (flush after it)", truncate(line, 120))
	}
	parts := strings.Split(strings.TrimSpace(line), "|")
	if len(parts) < 5 {
		return hs, "", fmt.Errorf("the first line on stdout is not a handshake (want core|app|network|address|grpc|cert): %q; log to stderr, never stdout", truncate(line, 120))
	}
	if parts[0] != "1" {
		return hs, "", fmt.Errorf("core protocol version %q, want 1 (go-plugin's)", parts[0])
	}
	if parts[1] != strconv.Itoa(int(plugins.Handshake.ProtocolVersion)) {
		return hs, "", fmt.Errorf("app protocol version %q, want %d (PLUGIN_PROTOCOL_VERSIONS)", parts[1], plugins.Handshake.ProtocolVersion)
	}
	hs.network, hs.address = parts[2], parts[3]
	switch hs.network {
	case "tcp":
		host, port, err := net.SplitHostPort(hs.address)
		if err != nil {
			return hs, "", fmt.Errorf("address %q: %v", hs.address, err)
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return hs, "", fmt.Errorf("listens on %s: listen on 127.0.0.1 only", hs.address)
		}
		if n, err := strconv.Atoi(port); err != nil || n < minPort || n > maxPort {
			return hs, "", fmt.Errorf("port %s is outside PLUGIN_MIN_PORT..PLUGIN_MAX_PORT (%d..%d)", port, minPort, maxPort)
		}
	case "unix":
		if !filepath.IsAbs(hs.address) {
			return hs, "", fmt.Errorf("unix socket %q: the path must be absolute", hs.address)
		}
		if len(hs.address) > 103 {
			return hs, "", fmt.Errorf("unix socket %q is %d bytes: keep it under 104", hs.address, len(hs.address))
		}
	default:
		return hs, "", fmt.Errorf("network %q: want tcp or unix", hs.network)
	}
	if parts[4] != "grpc" {
		return hs, "", fmt.Errorf("protocol %q: gavel speaks grpc only", parts[4])
	}
	if len(parts) < 6 || len(parts[5]) <= 50 {
		return hs, "", errors.New("no certificate in field 6: gavel always sets PLUGIN_CLIENT_CERT (AutoMTLS), and the detector must answer with its own certificate, DER in base64 without padding")
	}
	return hs, parts[5], nil
}

// parseCert decodes field 6 as go-plugin does.
func parseCert(field string) (*x509.Certificate, error) {
	der, err := base64.RawStdEncoding.DecodeString(field)
	if err != nil {
		if _, perr := base64.StdEncoding.DecodeString(field); perr == nil {
			return nil, errors.New("the certificate is base64 with = padding: go-plugin reads it without padding (RawStdEncoding); strip the trailing =")
		}
		return nil, fmt.Errorf("the certificate is not base64 (standard alphabet, no padding): %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("the certificate is not a DER X.509 certificate: %v", err)
	}
	return cert, nil
}

// verifyCert holds the detector's certificate to what go-plugin's client
// checks when it dials: trusted as its own root, for server name
// localhost, usable for server authentication, valid now.
func verifyCert(cert *x509.Certificate) error {
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	_, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "localhost", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err == nil {
		return nil
	}
	var why []string
	now := time.Now()
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		why = append(why, fmt.Sprintf("it is valid only from %s to %s", cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339)))
	}
	if !slices.Contains(cert.DNSNames, "localhost") {
		why = append(why, fmt.Sprintf("its subject alternative names %v lack DNS localhost (gavel dials server name localhost; the common name is not read)", cert.DNSNames))
	}
	if len(cert.ExtKeyUsage) > 0 && !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageServerAuth) && !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageAny) {
		why = append(why, "its extended key usage lacks serverAuth")
	}
	if len(why) == 0 {
		why = append(why, err.Error())
	}
	return fmt.Errorf("gavel would not trust the certificate: %s", strings.Join(why, "; "))
}

func keyName(cert *x509.Certificate) string {
	if k, ok := cert.PublicKey.(*ecdsa.PublicKey); ok {
		return "ECDSA " + k.Curve.Params().Name
	}
	return cert.PublicKeyAlgorithm.String()
}

// dial connects over TLS the way go-plugin's client does: the detector's
// certificate as the only root, server name localhost, client (nil: none).
func dial(hs handshake, client *tls.Certificate) (*grpc.ClientConn, error) {
	roots := x509.NewCertPool()
	roots.AddCert(hs.cert)
	cfg := &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if client != nil {
		cfg.Certificates = []tls.Certificate{*client}
	}
	return grpc.NewClient(target(hs), grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
}

func target(hs handshake) string {
	if hs.network == "unix" {
		return "unix://" + hs.address
	}
	return "passthrough:///" + hs.address
}

// mtls checks the detector answers gavel's client certificate and
// refuses a caller without one, or with another.
func (c *checker) mtls(ctx context.Context, hs handshake, conn *grpc.ClientConn) bool {
	// The first call sets the connection up: allow it the start's time.
	sctx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	_, err := detectorv1.NewDetectorServiceClient(conn).Describe(sctx, &detectorv1.DescribeRequest{})
	cancel()
	if code := status.Code(err); code == codes.Unavailable || code == codes.DeadlineExceeded || code == codes.Canceled {
		// Is it serving gRPC without TLS?
		if plain, perr := grpc.NewClient(target(hs), grpc.WithTransportCredentials(insecure.NewCredentials())); perr == nil {
			defer plain.Close()
			if perr := c.ping(ctx, plain); perr == nil || status.Code(perr) == codes.Unimplemented || status.Code(perr) == codes.NotFound {
				c.add(CheckMTLS, Fail, "serves gRPC without TLS: serve TLS with the certificate of the handshake line and require PLUGIN_CLIENT_CERT as the client certificate")
				return false
			}
		}
		c.add(CheckMTLS, Fail, "a TLS call with gavel's client certificate failed: %v", status.Convert(err).Message())
		return false
	}
	var loose []string
	if none, err := dial(hs, nil); err == nil {
		if c.reaches(ctx, none) {
			loose = append(loose, "a caller without a client certificate")
		}
		none.Close()
	}
	other, _, err := selfSigned()
	if err == nil {
		if conn2, err := dial(hs, &other); err == nil {
			if c.reaches(ctx, conn2) {
				loose = append(loose, "a client certificate other than PLUGIN_CLIENT_CERT")
			}
			conn2.Close()
		}
	}
	if len(loose) > 0 {
		c.add(CheckMTLS, Fail, "answers %s: require a client certificate and trust only PLUGIN_CLIENT_CERT, or any process on the machine can call it",
			strings.Join(loose, " and "))
		return true // the connection works; the next checks can run
	}
	c.add(CheckMTLS, Pass, "answers gavel's client certificate; refuses a caller without one and one with another certificate")
	return true
}

// reaches reports whether a call on conn reached the detector's gRPC
// server, whatever it answered: a refused TLS handshake fails the call
// with UNAVAILABLE before any server sees it.
func (c *checker) reaches(ctx context.Context, conn *grpc.ClientConn) bool {
	ctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	_, err := detectorv1.NewDetectorServiceClient(conn).Describe(ctx, &detectorv1.DescribeRequest{})
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return false
	}
	return true
}

// ping is go-plugin's health check: grpc.health.v1 Check of "plugin".
func (c *checker) ping(ctx context.Context, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: pluginHealth})
	if err != nil {
		return err
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return status.Errorf(codes.Unavailable, "service %q is %s", pluginHealth, resp.GetStatus())
	}
	return nil
}

func (c *checker) health(ctx context.Context, conn *grpc.ClientConn) {
	start := time.Now()
	err := c.ping(ctx, conn)
	switch status.Code(err) {
	case codes.OK:
		c.add(CheckHealth, Pass, "grpc.health.v1.Health/Check(service %q) = SERVING in %v", pluginHealth, time.Since(start).Round(time.Microsecond))
	case codes.Unimplemented:
		c.add(CheckHealth, Fail, "no grpc.health.v1.Health service: register it with service %q = SERVING; gavel health-checks every 5 s and restarts a detector that does not answer", pluginHealth)
	case codes.NotFound:
		c.add(CheckHealth, Fail, "grpc.health.v1.Health does not know service %q: set it to SERVING", pluginHealth)
	default:
		c.add(CheckHealth, Fail, "grpc.health.v1.Health/Check(service %q): %v", pluginHealth, status.Convert(err).Message())
	}
}

// describe asks Describe and holds the answer to what gavel's host
// accepts (errors) and what it would work around (warnings).
func (c *checker) describe(ctx context.Context, conn *grpc.ClientConn) *detectorv1.DescribeResponse {
	cctx, cancel := context.WithTimeout(ctx, c.opts.StartTimeout)
	defer cancel()
	r, err := detectorv1.NewDetectorServiceClient(conn).Describe(cctx, &detectorv1.DescribeRequest{})
	if err != nil {
		c.add(CheckDescribe, Fail, "Describe: %s: %s", status.Code(err), status.Convert(err).Message())
		return nil
	}
	var fails, warns []string
	if len(r.GetSignals()) == 0 {
		fails = append(fails, "declares no signals (at least one)")
	}
	seen := map[string]bool{}
	for _, s := range r.GetSignals() {
		if !decision.ValidSignalName(s) {
			fails = append(fails, fmt.Sprintf("signal name %q must be dotted lower case, e.g. \"email.disposable\"", s))
		}
		if seen[s] {
			warns = append(warns, fmt.Sprintf("signal %q is declared twice", s))
		}
		seen[s] = true
	}
	if b := r.GetLatencyBudget(); b == nil || b.AsDuration() == 0 {
		warns = append(warns, "no latency budget: declare what an answer takes (gavel waits the configured timeout either way)")
	} else if err := b.CheckValid(); err != nil || b.AsDuration() < 0 {
		fails = append(fails, fmt.Sprintf("latency budget %v is not a valid positive duration", b))
	}
	var unknown []string
	for _, cp := range r.GetCheckpoints() {
		if len(c.opts.Checkpoints) > 0 && !slices.Contains(c.opts.Checkpoints, cp) {
			unknown = append(unknown, cp)
		}
	}
	if len(unknown) > 0 {
		warns = append(warns, fmt.Sprintf("checkpoints %v are not among gavel's (%s): it is never called there", unknown, strings.Join(c.opts.Checkpoints, ", ")))
	}
	if r.GetVersion() == "" {
		warns = append(warns, "no version: operators see an empty version")
	}
	if r.GetName() == "" {
		warns = append(warns, "no name")
	}
	cps := "all checkpoints"
	if len(r.GetCheckpoints()) > 0 {
		cps = "checkpoints " + strings.Join(r.GetCheckpoints(), ", ")
	}
	what := fmt.Sprintf("%s %s: %d signals (%s), %s, budget %v, observes %v",
		cmpOr(r.GetName(), "(no name)"), r.GetVersion(), len(r.GetSignals()), strings.Join(r.GetSignals(), ", "), cps,
		r.GetLatencyBudget().AsDuration(), r.GetObserves())
	switch {
	case len(fails) > 0:
		c.add(CheckDescribe, Fail, "%s; %s", strings.Join(fails, "; "), what)
	case len(warns) > 0:
		c.add(CheckDescribe, Warn, "%s; %s", what, strings.Join(warns, "; "))
	default:
		c.add(CheckDescribe, Pass, "%s", what)
	}
	return r
}

// shutdown asks go-plugin's controller to stop the detector and waits as
// gavel does before killing it.
func (c *checker) shutdown(ctx context.Context, conn *grpc.ClientConn, p *proc) {
	cctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	start := time.Now()
	err := conn.Invoke(cctx, shutdownRPC, &emptypb.Empty{}, &emptypb.Empty{})
	if status.Code(err) == codes.Unimplemented {
		p.kill()
		c.add(CheckShutdown, Warn, "no plugin.GRPCController/Shutdown (optional): gavel kills the process %v after asking", shutdownWait)
		return
	}
	select {
	case <-p.done:
		c.add(CheckShutdown, Pass, "exited %v after plugin.GRPCController/Shutdown", time.Since(start).Round(time.Millisecond))
	case <-time.After(shutdownWait):
		p.kill()
		if err != nil {
			c.add(CheckShutdown, Fail, "plugin.GRPCController/Shutdown: %s, and still running %v later (gavel then kills it)", status.Convert(err).Message(), shutdownWait)
			return
		}
		c.add(CheckShutdown, Fail, "answered plugin.GRPCController/Shutdown but still running %v later (gavel then kills it): exit when asked", shutdownWait)
	}
}

// selfSigned makes a certificate as go-plugin's client does for AutoMTLS.
func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"gavel detectors check"}},
		DNSNames:              []string{"localhost"},
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SerialNumber:          sn,
		NotBefore:             time.Now().Add(-30 * time.Second),
		NotAfter:              time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	pair, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	return pair, certPEM, err
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return truncate(s, 200)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
