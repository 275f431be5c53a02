package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Cookie names. The session cookie holds only a random id; the token it
// stands for stays in the server's memory.
const (
	sessionCookie = "gavel_console"
	// preCookie carries the sign-in form's CSRF token before a session
	// exists (double submit).
	preCookie = "gavel_console_pre"
	csrfField = "csrf"
)

// session is one signed-in user.
type session struct {
	id      string
	token   string // the API token, kept server-side only
	who     Principal
	csrf    string
	expires time.Time
	// reviewer is the human name resolutions are recorded under.
	reviewer string
}

// sessions keeps sessions in memory: a restart, or another replica, means
// signing in again.
type sessions struct {
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	byID  map[string]*session
	swept time.Time
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{ttl: ttl, now: now, byID: map[string]*session{}}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *sessions) create(token string, who Principal, reviewer string) *session {
	ss := &session{id: randomToken(), token: token, who: who, csrf: randomToken(), reviewer: reviewer,
		expires: s.now().Add(s.ttl)}
	s.mu.Lock()
	s.byID[ss.id] = ss
	s.sweepLocked()
	s.mu.Unlock()
	return ss
}

// get returns the live session with id, or nil: unknown, forged and
// expired ids are all nil.
func (s *sessions) get(id string) *session {
	if id == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.byID[id]
	if ss == nil {
		return nil
	}
	if !s.now().Before(ss.expires) {
		delete(s.byID, id)
		return nil
	}
	return ss
}

func (s *sessions) delete(id string) {
	s.mu.Lock()
	delete(s.byID, id)
	s.mu.Unlock()
}

// sweepLocked drops expired sessions, at most once a minute.
func (s *sessions) sweepLocked() {
	now := s.now()
	if now.Sub(s.swept) < time.Minute {
		return
	}
	s.swept = now
	for id, ss := range s.byID {
		if !now.Before(ss.expires) {
			delete(s.byID, id)
		}
	}
}

// secure reports whether cookies must be Secure for r.
func (c *Console) secure(r *http.Request) bool {
	return c.cfg.SecureCookie || r.TLS != nil
}

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: Prefix, MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure(r), SameSite: http.SameSiteStrictMode,
	})
}

// sameToken compares two CSRF tokens in constant time.
func sameToken(a, b string) bool {
	return a != "" && len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// sameOrigin refuses a cross-site request by its Fetch Metadata and
// Origin headers, where the browser sent them. Fetch Metadata, when
// present, decides; a browser may send Origin: null for a same-origin form.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default:
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		// Behind a proxy that ends TLS gavel sees http: compare hosts.
		host, ok := strings.CutPrefix(o, "https://")
		if !ok {
			host, ok = strings.CutPrefix(o, "http://")
		}
		if !ok || host != r.Host {
			return false
		}
	}
	return true
}
