// Package logcollector is a decision-log collector for tests, speaking OPA's
// upload protocol: a POST of a gzip'd JSON array of events.
package logcollector

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// Collector keeps every event uploaded to it. While Down is set it answers
// 503, as a collector that is away.
type Collector struct {
	Down atomic.Bool

	mu      sync.Mutex
	events  []map[string]any
	uploads map[string]bool // "METHOD /path Authorization"
	bad     []string        // protocol violations
	posts   atomic.Int64
}

// New starts a collector, closed when tb ends.
func New(tb testing.TB) (*Collector, *httptest.Server) {
	c := &Collector{uploads: map[string]bool{}}
	srv := httptest.NewServer(c)
	tb.Cleanup(srv.Close)
	return c, srv
}

// ServeHTTP receives one upload.
func (c *Collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.posts.Add(1)
	if c.Down.Load() {
		http.Error(w, "collector down", http.StatusServiceUnavailable)
		return
	}
	var events []map[string]any
	err := func() error {
		if r.Method != http.MethodPost || r.Header.Get("Content-Encoding") != "gzip" {
			return fmt.Errorf("%s with Content-Encoding %q, want a gzip'd POST", r.Method, r.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return err
		}
		return json.NewDecoder(zr).Decode(&events)
	}()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.bad = append(c.bad, err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.events = append(c.events, events...)
	c.uploads[r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization")] = true
}

// Event returns the event of a decision id, or nil.
func (c *Collector) Event(id string) map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.events {
		if e["decision_id"] == id {
			return e
		}
	}
	return nil
}

// Count is how many events arrived.
func (c *Collector) Count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.events)
}

// Uploads lists the distinct "METHOD /path Authorization" of the uploads.
func (c *Collector) Uploads() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.uploads))
	for u := range c.uploads {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// Violations lists the uploads that broke the protocol.
func (c *Collector) Violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.bad)
}

// Posts counts the requests, refused ones included.
func (c *Collector) Posts() int64 { return c.posts.Load() }

// State summarises the collector for a polling test's failure message.
func (c *Collector) State() string {
	return fmt.Sprintf("%d posts, %d events", c.posts.Load(), c.Count())
}

// Dig follows keys into nested JSON objects.
func Dig(v any, keys ...string) (any, bool) {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}
