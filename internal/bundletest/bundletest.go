// Package bundletest is an HTTP bundle server for tests, speaking OPA's
// bundle protocol: the bundle at /bundles/gavel.tar.gz with an ETag, and
// 304 Not Modified when If-None-Match names it.
package bundletest

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Path is where the server serves its bundle.
const Path = "/bundles/gavel.tar.gz"

// Server serves one bundle tarball, replaceable while it runs.
type Server struct {
	mu       sync.Mutex
	body     []byte
	etag     string
	requests int
}

// New starts a server with body as its bundle, closed when tb ends. The
// bundle's URL is ts.URL + Path.
func New(tb testing.TB, body []byte) (*Server, *httptest.Server) {
	s := &Server{}
	s.Set(body)
	ts := httptest.NewServer(s)
	tb.Cleanup(ts.Close)
	return s, ts
}

// Set replaces the bundle (and so its ETag).
func (s *Server) Set(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body = body
	s.etag = fmt.Sprintf(`"%x"`, sha256.Sum256(body))
}

// Requests counts the requests for the bundle so far.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// ServeHTTP implements OPA's bundle download.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != Path {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, s.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", s.etag)
	w.Header().Set("Content-Type", "application/gzip")
	w.Write(s.body)
}
