package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/gavel/gavel/internal/certs"
	"github.com/gavel/gavel/internal/certs/certstest"
)

// serve runs an HTTPS server on a Reloader's configuration.
func serve(t *testing.T, r *certs.Reloader) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.TLS != nil && len(req.TLS.VerifiedChains) > 0 {
			io.WriteString(w, req.TLS.VerifiedChains[0][0].Subject.CommonName)
		}
	})}
	go srv.Serve(tls.NewListener(ln, r.TLSConfig()))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func dial(t *testing.T, addr string, ca *certstest.CA, client *tls.Certificate) (*tls.ConnectionState, error) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	cfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	if client != nil {
		cfg.Certificates = []tls.Certificate{*client}
	}
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// TLS 1.3 reports a refused client certificate on the first read.
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		return nil, err
	}
	if _, err := conn.Read(make([]byte, 1)); err != nil {
		return nil, err
	}
	st := conn.ConnectionState()
	return &st, nil
}

// TestReloadAndClientCertificates: the server certificate is replaced on
// disk and the next handshake presents the new one, without a restart; a
// client without a certificate, or with one from another CA, is refused
// when client certificates are required; TLS 1.1 is refused.
func TestReloadAndClientCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := certstest.NewCA(t, "gavel test CA")
	other := certstest.NewCA(t, "someone else's CA")
	first := ca.Issue(t, "gavel", true).Write(t, dir, "server")
	caFile := filepath.Join(dir, "ca.pem")
	certstest.WriteFile(t, caFile, ca.PEM)

	r, err := certs.New(certs.Config{CertFile: first.CertFile, KeyFile: first.KeyFile, ClientCAFile: caFile, RequireClientCert: true}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r.CheckEvery(0)
	addr := serve(t, r)

	clientPair := ca.Issue(t, "payouts.internal", false)
	client, err := tls.X509KeyPair(clientPair.CertPEM, clientPair.Key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := dial(t, addr, ca, &client)
	if err != nil {
		t.Fatalf("mTLS handshake with a client certificate from the CA: %v", err)
	}
	if got := st.PeerCertificates[0].SerialNumber.Int64(); got != first.Serial {
		t.Errorf("server certificate serial = %d, want %d", got, first.Serial)
	}
	if _, err := dial(t, addr, ca, nil); err == nil {
		t.Error("handshake without a client certificate succeeded, want it refused")
	}
	strangerPair := other.Issue(t, "payouts.internal", false)
	stranger, _ := tls.X509KeyPair(strangerPair.CertPEM, strangerPair.Key)
	if _, err := dial(t, addr, ca, &stranger); err == nil {
		t.Error("handshake with a certificate from another CA succeeded, want it refused")
	}

	second := ca.Issue(t, "gavel", true)
	// A different size or mtime is what the reloader notices.
	time.Sleep(10 * time.Millisecond)
	second.Write(t, dir, "server")
	st, err = dial(t, addr, ca, &client)
	if err != nil {
		t.Fatalf("handshake after the certificate was replaced: %v", err)
	}
	if got := st.PeerCertificates[0].SerialNumber.Int64(); got != second.Serial {
		t.Errorf("server certificate serial after replacement = %d, want the new %d", got, second.Serial)
	}

	old := &tls.Config{MaxVersion: tls.VersionTLS11, InsecureSkipVerify: true, Certificates: []tls.Certificate{client}} //nolint:gosec // the point is the refusal
	if conn, err := tls.Dial("tcp", addr, old); err == nil {
		conn.Close()
		t.Error("TLS 1.1 handshake succeeded, want TLS 1.2 or later only")
	}
}
