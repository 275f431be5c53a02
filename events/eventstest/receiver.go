// Package eventstest is a marketplace's webhook receiver for tests: a real
// HTTP server that verifies each request's Standard Webhooks signature with
// its own HMAC code (not gavel's signer), decodes the CloudEvent with the
// CloudEvents SDK, and keeps what it received.
package eventstest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
)

// NewSecret returns a fresh signing secret, "whsec_" and base64 of 32
// random bytes.
func NewSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// Received is one request the receiver accepted (or refused on purpose).
type Received struct {
	ID, Type, Subject, Source string
	Time                      time.Time
	Sequence                  string
	Data                      json.RawMessage
	// Signatures is how many of the request's signatures verified.
	Signatures int
	// Answered is the status the receiver answered.
	Answered int
	At       time.Time
}

// Receiver is the test's webhook endpoint.
type Receiver struct {
	*httptest.Server
	t       testing.TB
	secrets [][]byte

	// Answer, when set, chooses the status for an event (200 otherwise);
	// attempt counts this event's requests so far, this one included.
	Answer func(ev Received, attempt int) int
	// Hold, when set, is how long to wait before answering.
	Hold func(ev Received) time.Duration

	mu       sync.Mutex
	got      []Received
	attempts map[string]int
	inflight map[string]int // subject → requests being answered
	overlaps []string       // subjects that had two requests in flight at once
	bad      []string       // requests refused for a bad signature or body
}

// NewReceiver starts a receiver on the loopback interface that trusts the
// given secrets; it stops when tb ends.
func NewReceiver(tb testing.TB, secrets ...string) *Receiver {
	tb.Helper()
	r := &Receiver{t: tb, attempts: map[string]int{}, inflight: map[string]int{}}
	for _, s := range secrets {
		k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil {
			tb.Fatalf("secret %q: %v", s, err)
		}
		r.secrets = append(r.secrets, k)
	}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	tb.Cleanup(r.Close)
	return r
}

// verify checks the request's signatures the way the Standard Webhooks
// specification describes, and returns how many of them match a secret.
func (r *Receiver) verify(h http.Header, body []byte) (int, error) {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return 0, fmt.Errorf("missing webhook headers")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("webhook-timestamp %q: %v", ts, err)
	}
	if d := time.Since(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return 0, fmt.Errorf("webhook-timestamp %s is %v away", ts, d)
	}
	n := 0
	for _, s := range strings.Fields(sigs) {
		v, sig, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			return 0, fmt.Errorf("signature %q: %v", s, err)
		}
		for _, k := range r.secrets {
			m := hmac.New(sha256.New, k)
			fmt.Fprintf(m, "%s.%s.", id, ts)
			m.Write(body)
			if hmac.Equal(m.Sum(nil), got) {
				n++
			}
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("no signature matches")
	}
	return n, nil
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	refuse := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		r.mu.Lock()
		r.bad = append(r.bad, msg)
		r.mu.Unlock()
		http.Error(w, msg, http.StatusBadRequest)
	}
	if ct := req.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/cloudevents+json") {
		refuse("content type %q", ct)
		return
	}
	n, err := r.verify(req.Header, body)
	if err != nil {
		refuse("signature: %v", err)
		return
	}
	var ce cloudevents.Event
	if err := json.Unmarshal(body, &ce); err != nil {
		refuse("not a CloudEvent: %v", err)
		return
	}
	if err := ce.Validate(); err != nil {
		refuse("invalid CloudEvent: %v", err)
		return
	}
	if ce.ID() != req.Header.Get("webhook-id") {
		refuse("webhook-id %q is not the event id %q", req.Header.Get("webhook-id"), ce.ID())
		return
	}
	seq, _ := ce.Extensions()["sequence"].(string)
	ev := Received{ID: ce.ID(), Type: ce.Type(), Subject: ce.Subject(), Source: ce.Source(), Time: ce.Time(),
		Sequence: seq, Data: ce.Data(), Signatures: n}
	r.mu.Lock()
	r.attempts[ev.ID]++
	attempt := r.attempts[ev.ID]
	r.inflight[ev.Subject]++
	if r.inflight[ev.Subject] > 1 {
		r.overlaps = append(r.overlaps, ev.Subject)
	}
	answer, hold := r.Answer, r.Hold
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.inflight[ev.Subject]--
		r.mu.Unlock()
	}()
	if hold != nil {
		if d := hold(ev); d > 0 {
			select {
			case <-time.After(d):
			case <-req.Context().Done():
				return
			}
		}
	}
	status := http.StatusOK
	if answer != nil {
		status = answer(ev, attempt)
	}
	ev.Answered, ev.At = status, time.Now()
	r.mu.Lock()
	r.got = append(r.got, ev)
	r.mu.Unlock()
	w.WriteHeader(status)
}

// SetAnswer sets Answer safely while the receiver runs.
func (r *Receiver) SetAnswer(f func(ev Received, attempt int) int) {
	r.mu.Lock()
	r.Answer = f
	r.mu.Unlock()
}

// SetHold sets Hold safely while the receiver runs.
func (r *Receiver) SetHold(f func(ev Received) time.Duration) {
	r.mu.Lock()
	r.Hold = f
	r.mu.Unlock()
}

// All returns every request received with a good signature, in arrival order.
func (r *Receiver) All() []Received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Received(nil), r.got...)
}

// Delivered returns, by subject, the events answered 2xx, in the order
// they arrived, each event once (a redelivery of one already delivered is
// left out: receivers deduplicate by webhook-id).
func (r *Receiver) Delivered() map[string][]Received {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]Received{}
	seen := map[string]bool{}
	for _, ev := range r.got {
		if ev.Answered < 200 || ev.Answered > 299 || seen[ev.ID] {
			continue
		}
		seen[ev.ID] = true
		out[ev.Subject] = append(out[ev.Subject], ev)
	}
	return out
}

// Count is how many distinct events were delivered.
func (r *Receiver) Count() int {
	n := 0
	for _, evs := range r.Delivered() {
		n += len(evs)
	}
	return n
}

// Problems lists requests refused for a bad signature or body, and
// subjects that had two requests in flight at once.
func (r *Receiver) Problems() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]string(nil), r.bad...)
	for _, s := range r.overlaps {
		out = append(out, "two requests in flight at once for subject "+s)
	}
	return out
}

// InOrder reports, for each subject, whether its delivered events arrived
// in the order of their sequence numbers (each first delivery), and
// returns the first violation found.
func InOrder(delivered map[string][]Received) error {
	for s, evs := range delivered {
		for i := 1; i < len(evs); i++ {
			if evs[i].Sequence <= evs[i-1].Sequence {
				return fmt.Errorf("subject %s: event %s (sequence %s) arrived after %s (sequence %s)",
					s, evs[i].Type, evs[i].Sequence, evs[i-1].Type, evs[i-1].Sequence)
			}
		}
	}
	return nil
}

// Wait polls until cond holds or timeout passes, then fails tb saying what.
func Wait(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
