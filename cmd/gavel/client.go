package main

import (
	"context"
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
	protocol string
	timeout  time.Duration
	json     bool
}

func (c *clientFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&c.addr, "addr", envOr("GAVEL_ADDR", "http://127.0.0.1:8080"), "gavel's base URL (env GAVEL_ADDR)")
	fs.StringVar(&c.token, "token", "", "bearer token (default: env GAVEL_TOKEN)")
	fs.StringVar(&c.protocol, "protocol", "connect", "connect, grpc or grpcweb")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Second, "deadline for the call")
	fs.BoolVar(&c.json, "json", false, "print the response as JSON")
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

func (c *clientFlags) decisionClient() (decisionv1connect.DecisionServiceClient, error) {
	opts, err := c.options()
	if err != nil {
		return nil, err
	}
	return decisionv1connect.NewDecisionServiceClient(httpClient(), strings.TrimRight(c.addr, "/"), opts...), nil
}

func (c *clientFlags) adminClient() (adminv1connect.AdminServiceClient, error) {
	opts, err := c.options()
	if err != nil {
		return nil, err
	}
	return adminv1connect.NewAdminServiceClient(httpClient(), strings.TrimRight(c.addr, "/"), opts...), nil
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
