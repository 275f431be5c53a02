package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/pflag"

	"github.com/gavel/gavel/proto/gavel/admin/v1/adminv1connect"
	"github.com/gavel/gavel/proto/gavel/decision/v1/decisionv1connect"
)

// clientFlags are shared by the commands that talk to a running gavel.
type clientFlags struct {
	addr     string
	token    string
	ca       string // CA file that gavel's certificate chains to (https)
	cert     string // client certificate file, for mTLS
	key      string // its key
	protocol string
	timeout  time.Duration
	json     bool
}

func (c *clientFlags) register(fs *pflag.FlagSet) {
	c.registerConnection(fs)
	fs.StringVar(&c.protocol, "protocol", "connect", "connect, grpc or grpcweb")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Second, "deadline for the call")
	fs.BoolVar(&c.json, "json", false, "print the response as JSON")
}

// registerConnection adds the flags that say where gavel is and who is
// asking: --addr, --token, --ca, --cert, --key.
func (c *clientFlags) registerConnection(fs *pflag.FlagSet) {
	fs.StringVar(&c.addr, "addr", envOr("GAVEL_ADDR", "http://127.0.0.1:8080"), "gavel's address: a base URL, or host:port (env GAVEL_ADDR)")
	fs.StringVar(&c.token, "token", "", "bearer token (default: env GAVEL_TOKEN)")
	fs.StringVar(&c.ca, "ca", os.Getenv("GAVEL_CA"), "CA certificate file to verify gavel's TLS certificate (env GAVEL_CA; default: the system's)")
	fs.StringVar(&c.cert, "cert", os.Getenv("GAVEL_CERT"), "client certificate file for mTLS (env GAVEL_CERT)")
	fs.StringVar(&c.key, "key", os.Getenv("GAVEL_KEY"), "client certificate's key file (env GAVEL_KEY)")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func (c *clientFlags) options() ([]connect.ClientOption, error) {
	var opts []connect.ClientOption
	switch c.protocol {
	case "connect":
	case "grpc":
		opts = append(opts, connect.WithGRPC())
	case "grpcweb":
		opts = append(opts, connect.WithGRPCWeb())
	default:
		return nil, usageError("--protocol must be connect, grpc or grpcweb, got %q", c.protocol)
	}
	token := c.token
	if token == "" {
		token = os.Getenv("GAVEL_TOKEN")
	}
	if token != "" {
		opts = append(opts, connect.WithInterceptors(bearer(token)))
	}
	return opts, nil
}

// httpClient speaks HTTP/1.1 and unencrypted HTTP/2 (gRPC needs HTTP/2).
func httpClient() *http.Client {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}}
}

// baseURL is --addr as a URL: host:port without a scheme (as grpcurl
// takes it) means http://, or https:// when a CA or client certificate
// is given.
func (c *clientFlags) baseURL() string {
	addr := strings.TrimRight(strings.TrimSpace(c.addr), "/")
	if strings.Contains(addr, "://") {
		return addr
	}
	if c.ca != "" || c.cert != "" {
		return "https://" + addr
	}
	return "http://" + addr
}

// connection is the HTTP client and base URL for gavel: over TLS (with
// --ca, and --cert/--key for mTLS) for an https address, else h2c.
func (c *clientFlags) connection() (*http.Client, string, error) {
	base := c.baseURL()
	if !strings.HasPrefix(base, "https://") {
		if c.cert != "" || c.ca != "" {
			return nil, "", usageError("--ca and --cert need an https:// address, got %s", base)
		}
		return httpClient(), base, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.ca != "" {
		pem, err := os.ReadFile(c.ca)
		if err != nil {
			return nil, "", usageError("--ca: %v", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, "", usageError("--ca %s: no PEM certificate", c.ca)
		}
	}
	if (c.cert == "") != (c.key == "") {
		return nil, "", usageError("--cert and --key go together")
	}
	if c.cert != "" {
		pair, err := tls.LoadX509KeyPair(c.cert, c.key)
		if err != nil {
			return nil, "", usageError("--cert/--key: %v", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p, TLSClientConfig: cfg, ForceAttemptHTTP2: true}}, base, nil
}

func (c *clientFlags) decisionClient() (decisionv1connect.DecisionServiceClient, error) {
	opts, err := c.options()
	if err != nil {
		return nil, err
	}
	hc, base, err := c.connection()
	if err != nil {
		return nil, err
	}
	return decisionv1connect.NewDecisionServiceClient(hc, base, opts...), nil
}

func (c *clientFlags) adminClient() (adminv1connect.AdminServiceClient, error) {
	opts, err := c.options()
	if err != nil {
		return nil, err
	}
	hc, base, err := c.connection()
	if err != nil {
		return nil, err
	}
	return adminv1connect.NewAdminServiceClient(hc, base, opts...), nil
}

func (c *clientFlags) context(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

type bearer string

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}

func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		return conn
	}
}

func (b bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// rpcError explains a failed call in one line, with the Connect code.
func rpcError(err error) error {
	var cerr *connect.Error
	if errors.As(err, &cerr) {
		return fmt.Errorf("%s: %s", cerr.Code(), cerr.Message())
	}
	return err
}
