// Package certs serves the listener's TLS: the server certificate and key,
// and for mTLS the CA client certificates must chain to, re-read from their
// files when they change so a renewed certificate takes effect without a
// restart. TLS 1.2 is the minimum; everything else is Go's defaults.
package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Config names the files.
type Config struct {
	CertFile, KeyFile string
	ClientCAFile      string // "" for TLS without client certificates
	// RequireClientCert refuses handshakes without a client certificate;
	// otherwise one is verified when given.
	RequireClientCert bool
}

// Reloader holds the current certificate and client CA pool, re-read from
// the files at most once per CheckEvery when their modification time or
// size changes. A file that no longer loads keeps the last good one
// serving and is logged.
type Reloader struct {
	cfg        Config
	log        *slog.Logger
	checkEvery time.Duration

	mu      sync.Mutex
	checked time.Time
	stamp   string
	cert    *tls.Certificate
	pool    *x509.CertPool
}

// New loads the files once; it fails when they do not load.
func New(cfg Config, log *slog.Logger) (*Reloader, error) {
	r := &Reloader{cfg: cfg, log: log, checkEvery: time.Second}
	stamp, err := r.stampFiles()
	if err != nil {
		return nil, err
	}
	if err := r.load(stamp); err != nil {
		return nil, err
	}
	return r, nil
}

// CheckEvery sets how often the files are checked for changes (default
// 1s; 0 checks at every handshake).
func (r *Reloader) CheckEvery(d time.Duration) {
	r.mu.Lock()
	r.checkEvery = d
	r.mu.Unlock()
}

// stampFiles is the files' sizes and modification times.
func (r *Reloader) stampFiles() (string, error) {
	var s string
	for _, f := range []string{r.cfg.CertFile, r.cfg.KeyFile, r.cfg.ClientCAFile} {
		if f == "" {
			continue
		}
		fi, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		s += fmt.Sprintf("%s:%d:%d;", f, fi.Size(), fi.ModTime().UnixNano())
	}
	return s, nil
}

func (r *Reloader) load(stamp string) error {
	cert, err := tls.LoadX509KeyPair(r.cfg.CertFile, r.cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("load server certificate %s: %w", r.cfg.CertFile, err)
	}
	var pool *x509.CertPool
	if r.cfg.ClientCAFile != "" {
		pem, err := os.ReadFile(r.cfg.ClientCAFile)
		if err != nil {
			return fmt.Errorf("load client CA: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("load client CA %s: no PEM certificate", r.cfg.ClientCAFile)
		}
	}
	r.cert, r.pool, r.stamp = &cert, pool, stamp
	return nil
}

// current re-reads the files when they changed, then returns what serves.
func (r *Reloader) current() (*tls.Certificate, *x509.CertPool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) >= r.checkEvery {
		r.checked = time.Now()
		stamp, err := r.stampFiles()
		if err == nil && stamp != r.stamp {
			// Files are often replaced one by one: a pair that does not
			// match yet is retried at the next check.
			if err = r.load(stamp); err == nil {
				r.log.Info("TLS certificates reloaded", "cert_file", r.cfg.CertFile, "client_ca_file", r.cfg.ClientCAFile)
			}
		}
		if err != nil {
			r.log.Warn("TLS certificates not reloaded; the previous ones keep serving", "error", err)
		}
	}
	return r.cert, r.pool
}

// TLSConfig is the listener's configuration: TLS 1.2 or later, h2 and
// http/1.1, the certificate and client CA as they are at each handshake.
func (r *Reloader) TLSConfig() *tls.Config {
	base := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		cert, pool := r.current()
		if cert == nil {
			return nil, errors.New("no server certificate")
		}
		c := base.Clone()
		c.GetConfigForClient = nil
		c.Certificates = []tls.Certificate{*cert}
		if pool != nil {
			c.ClientCAs = pool
			c.ClientAuth = tls.VerifyClientCertIfGiven
			if r.cfg.RequireClientCert {
				c.ClientAuth = tls.RequireAndVerifyClientCert
			}
		}
		return c, nil
	}
	return base
}
