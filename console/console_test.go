package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gavel/gavel/decision"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newTestConsole serves a console whose API answers nothing: these tests
// are about sessions, CSRF and headers, which the console decides alone.
func newTestConsole(t *testing.T, clk *clock) *httptest.Server {
	t.Helper()
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no API here", http.StatusServiceUnavailable)
	})
	c, err := New(DefaultConfig(), Deps{
		API: api,
		Authenticate: func(token string) (Principal, bool) {
			if token == "desk-token" {
				return Principal{Name: "desk", Roles: []string{RoleReview, RoleRead}}, true
			}
			return Principal{}, false
		},
		Now: clk.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return srv
}

// agent is a cookie-keeping client that does not follow redirects.
func agent(t *testing.T) *http.Client {
	t.Helper()
	jar := &jarT{m: map[string]*http.Cookie{}}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type jarT struct {
	mu sync.Mutex
	m  map[string]*http.Cookie
}

func (j *jarT) SetCookies(_ *url.URL, cs []*http.Cookie) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range cs {
		if c.MaxAge < 0 {
			delete(j.m, c.Name)
			continue
		}
		j.m[c.Name] = c
	}
}

func (j *jarT) Cookies(*url.URL) []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []*http.Cookie
	for _, c := range j.m {
		out = append(out, &http.Cookie{Name: c.Name, Value: c.Value})
	}
	return out
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func signIn(t *testing.T, c *http.Client, base, token string) *http.Response {
	t.Helper()
	_, page := get(t, c, base+"/console/sign-in")
	m := csrfInput.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("sign-in page has no CSRF field:\n%s", page)
	}
	resp, err := c.PostForm(base+"/console/sign-in", url.Values{"csrf": {m[1]}, "token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestSessionExpires(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}
	srv := newTestConsole(t, clk)
	c := agent(t)
	if resp := signIn(t, c, srv.URL, "desk-token"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in = %d, want 303", resp.StatusCode)
	}
	var session *http.Cookie
	for _, ck := range c.Jar.(*jarT).m {
		if ck.Name == sessionCookie {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != Prefix || session.Secure {
		t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Strict, Path=/console/, not Secure over plain HTTP", session)
	}
	// Signed in: the sign-out form carries the session's CSRF token.
	resp, _ := get(t, c, srv.URL+"/console/rules")
	if resp.StatusCode == http.StatusSeeOther {
		t.Fatalf("a fresh session was sent to %s", resp.Header.Get("Location"))
	}
	clk.add(DefaultConfig().SessionTTL + time.Second)
	resp, _ = get(t, c, srv.URL+"/console/queue")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/sign-in" {
		t.Errorf("an expired session got %d to %q, want 303 to /console/sign-in", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestSignInRefusals(t *testing.T) {
	srv := newTestConsole(t, &clock{t: time.Now()})
	c := agent(t)
	if resp := signIn(t, c, srv.URL, "wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("sign-in with an unknown token = %d, want 401", resp.StatusCode)
	}
	// Without the sign-in page's token (a login CSRF).
	resp, err := agent(t).PostForm(srv.URL+"/console/sign-in", url.Values{"token": {"desk-token"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in without the form's token = %d, want 403", resp.StatusCode)
	}
	// A forged session id is no session.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/console/queue", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: "forged"})
	resp, err = agent(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/sign-in" {
		t.Errorf("a forged session = %d to %q, want 303 to /console/sign-in", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestPostNeedsCSRFAndSameOrigin(t *testing.T) {
	srv := newTestConsole(t, &clock{t: time.Now()})
	c := agent(t)
	signIn(t, c, srv.URL, "desk-token")
	resp, body := get(t, c, srv.URL+"/console/no-such-page")
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown page = %d", resp.StatusCode)
	}
	m := csrfInput.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("a signed-in page has no CSRF field:\n%s", body)
	}
	post := func(form url.Values, hdr map[string]string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/console/sign-out", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for name, tc := range map[string]struct {
		form url.Values
		hdr  map[string]string
	}{
		"no token":         {url.Values{}, nil},
		"wrong token":      {url.Values{"csrf": {"x" + m[1]}}, nil},
		"cross-site fetch": {url.Values{"csrf": {m[1]}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		"another origin":   {url.Values{"csrf": {m[1]}}, map[string]string{"Origin": "http://attacker.example"}},
	} {
		if got := post(tc.form, tc.hdr); got != http.StatusForbidden {
			t.Errorf("%s: POST = %d, want 403", name, got)
		}
	}
	if got := post(url.Values{"csrf": {m[1]}}, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "null"}); got != http.StatusSeeOther {
		t.Errorf("same-origin POST with the token = %d, want 303", got)
	}
}

func TestSecurityHeaders(t *testing.T) {
	srv := newTestConsole(t, &clock{t: time.Now()})
	resp, body := get(t, agent(t), srv.URL+"/console/sign-in")
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q allows unsafe sources", csp)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers = %v", resp.Header)
	}
	if regexp.MustCompile(`<script>|<script [^>]*>[^<]`).MatchString(body) {
		t.Errorf("the sign-in page has an inline script")
	}
	// Assets are served with their content type and cache validators.
	for name := range assetVersions {
		resp, _ := get(t, agent(t), srv.URL+assetPath(name))
		if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == "" || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("asset %s: %d %v", name, resp.StatusCode, resp.Header)
		}
	}
}

// TestManualRequestIDs: the request id the Account page puts in each manual
// action's form is one the enforcement API accepts, every time. A bare
// random token started with '-' or '_' about one time in 32, and the
// reviewer's action was refused.
func TestManualRequestIDs(t *testing.T) {
	for i := 0; i < 4096; i++ {
		id := manualRequestID()
		for _, action := range []string{"suspend", "restrict", "lift", "reinstate"} {
			if rid := id + "-" + action; !decision.ValidID(rid) {
				t.Fatalf("request id %q: %s", rid, decision.IDRule)
			}
		}
		if id == manualRequestID() {
			t.Fatalf("two forms got the same request id %q", id)
		}
	}
}
