package config

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"slices"
	"strings"
)

// validateEdge checks what the listener needs: TLS files, client
// certificate names, the in-flight cap and per-caller rates.
func (c *Config) validateEdge(bad func(key, format string, args ...any)) {
	t := c.Server.TLS
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		bad("server.tls.key_file", "is required with server.tls.cert_file")
	case t.CertFile == "" && t.KeyFile != "":
		bad("server.tls.cert_file", "is required with server.tls.key_file")
	case t.CertFile != "":
		if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
			bad("server.tls.cert_file", "cannot load the certificate and key: %v", err)
		}
	}
	if t.ClientCAFile != "" {
		if t.CertFile == "" {
			bad("server.tls.client_ca_file", "needs server.tls.cert_file and key_file (mTLS is TLS)")
		}
		if pem, err := os.ReadFile(t.ClientCAFile); err != nil {
			bad("server.tls.client_ca_file", "%v", err)
		} else if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			bad("server.tls.client_ca_file", "holds no PEM certificate")
		}
	}
	if t.ClientAuth != "" && t.ClientAuth != "require" && t.ClientAuth != "optional" {
		bad("server.tls.client_auth", "must be require or optional, got %q", t.ClientAuth)
	}
	if t.ClientAuth != "" && t.ClientCAFile == "" {
		bad("server.tls.client_auth", "needs server.tls.client_ca_file")
	}
	if len(c.Auth.Clients) > 0 && t.ClientCAFile == "" {
		bad("auth.clients", "need server.tls.client_ca_file to verify client certificates")
	}
	names := map[string]string{}
	for _, name := range sortedKeys(c.Auth.Clients) {
		cl := c.Auth.Clients[name]
		key := "auth.clients." + name
		if cl.CommonName == "" {
			bad(key+".common_name", "is required")
		} else if other, dup := names[cl.CommonName]; dup {
			bad(key+".common_name", "is the same as auth.clients.%s.common_name", other)
		}
		names[cl.CommonName] = name
		checkRoles(bad, key+".roles", cl.Roles)
		checkRate(bad, key, cl.Limit)
	}
	for _, name := range sortedKeys(c.Auth.Tokens) {
		checkRate(bad, "auth.tokens."+name, c.Auth.Tokens[name].Limit)
	}
	if c.Server.MaxInFlight < 0 {
		bad("server.max_in_flight", "must be 0 (no cap) or more, got %d", c.Server.MaxInFlight)
	}
	if c.Server.LatencyTarget < 0 {
		bad("server.latency_target", "must be 0 (a fixed cap) or more, got %v", c.Server.LatencyTarget)
	}
	if c.Server.MinInFlight < 1 || (c.Server.MaxInFlight > 0 && c.Server.MinInFlight > c.Server.MaxInFlight) {
		bad("server.min_in_flight", "must be at least 1 and at most server.max_in_flight (%d), got %d", c.Server.MaxInFlight, c.Server.MinInFlight)
	}
	if m := c.Server.MetricsListen; m != "" {
		if _, port, err := net.SplitHostPort(m); err != nil {
			bad("server.metrics_listen", "%q is not host:port", m)
		} else if m == c.Server.Listen && port != "0" {
			bad("server.metrics_listen", "must differ from server.listen (leave it empty to serve /metrics there)")
		}
	}
	if c.Server.Pprof && (c.Server.MetricsListen == "" || !c.Server.Metrics) {
		bad("server.pprof", "serves on server.metrics_listen, the side port: set it (and server.metrics) too")
	}
}

func checkRoles(bad func(key, format string, args ...any), key string, roles []string) {
	if len(roles) == 0 {
		bad(key, "at least one of %s", strings.Join(Roles, ", "))
	}
	for _, r := range roles {
		if !slices.Contains(Roles, r) {
			bad(key, "unknown role %q (want %s)", r, strings.Join(Roles, ", "))
		}
	}
}

func checkRate(bad func(key, format string, args ...any), key string, r Rate) {
	if r.Rate < 0 {
		bad(key+".rate", "must be 0 (unlimited) or more requests a second, got %v", r.Rate)
	}
	if r.Burst < 0 {
		bad(key+".burst", "must be 0 (the rate, rounded up) or more, got %d", r.Burst)
	}
	if r.Burst > 0 && r.Rate == 0 {
		bad(key+".burst", "is set but %s.rate is 0 (unlimited)", key)
	}
}

// BurstOrDefault is the bucket size: Burst, or the rate rounded up.
func (r Rate) BurstOrDefault() int {
	if r.Burst > 0 {
		return r.Burst
	}
	return max(1, int(r.Rate+0.999999))
}
