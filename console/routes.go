package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
)

func (c *Console) routes() {
	m := http.NewServeMux()
	m.Handle("GET /console/assets/{name...}", http.HandlerFunc(c.assets.serve))
	m.HandleFunc("GET /console/{$}", c.home)
	m.HandleFunc("GET /console/sign-in", c.signInPage)
	m.HandleFunc("POST /console/sign-in", c.signIn)
	m.HandleFunc("POST /console/sign-out", c.post(nil, c.signOut))

	reviewers := []string{RoleReview, RoleRead}
	m.HandleFunc("GET /console/queue", c.get(reviewers, c.queuePage))
	m.HandleFunc("POST /console/queue/next", c.post([]string{RoleReview}, c.next))
	m.HandleFunc("GET /console/appeals/{id}", c.get(reviewers, c.appealPage))
	m.HandleFunc("GET /console/cases/{id}", c.get(reviewers, c.casePage))
	m.HandleFunc("POST /console/cases/{id}/{op}", c.post([]string{RoleReview}, c.caseAction))
	m.HandleFunc("POST /console/appeals/{id}/claim", c.post([]string{RoleReview}, c.claim))
	m.HandleFunc("POST /console/appeals/{id}/resolve", c.post([]string{RoleReview}, c.resolve))
	m.HandleFunc("GET /console/decisions/{id}", c.get([]string{RoleReview, RoleAdmin, RoleRead}, c.decisionPage))
	m.HandleFunc("POST /console/accounts", c.post([]string{RoleRead, RoleReview, RoleAdmin}, c.findAccount))
	m.HandleFunc("GET /console/accounts/{ref}", c.get([]string{RoleRead, RoleReview, RoleAdmin}, c.accountPage))
	m.HandleFunc("POST /console/accounts/{ref}/{action}", c.post([]string{RoleReview, RoleAdmin}, c.act))
	m.HandleFunc("GET /console/search", c.get([]string{RoleRead, RoleReview, RoleAdmin}, c.searchPage))
	m.HandleFunc("GET /console/lists", c.get([]string{RoleRead, RoleReview, RoleAdmin}, c.listsPage))
	m.HandleFunc("GET /console/lists/{name}", c.get([]string{RoleRead, RoleReview, RoleAdmin}, c.listPage))
	m.HandleFunc("POST /console/lists/{name}/{op}", c.post([]string{RoleReview, RoleAdmin}, c.editList))
	m.HandleFunc("GET /console/rules", c.get([]string{RoleAdmin, RoleReview, RoleRead}, c.rulesPage))
	m.HandleFunc("GET /console/policy", c.get([]string{RoleAdmin}, c.policyPage))
	m.HandleFunc("POST /console/policy/replays", c.post([]string{RoleAdmin}, c.startReplay))
	m.HandleFunc("GET /console/policy/replays/{id}", c.get([]string{RoleAdmin}, c.replayPage))
	m.HandleFunc("GET /console/system", c.get([]string{RoleAdmin}, c.systemPage))
	m.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, c.sessionOf(r), http.StatusNotFound, "There is no such page in the console.")
	})
	c.mux = m
}

// navItem is one page in the navigation bar, shown only to roles that may
// use it.
type navItem struct {
	Page, Title, Path string
	Roles             []string
}

var nav = []navItem{
	{"queue", "Queue", "/console/queue", []string{RoleReview, RoleRead}},
	{"search", "Search", "/console/search", []string{RoleAdmin, RoleReview, RoleRead}},
	{"rules", "Rules", "/console/rules", []string{RoleAdmin, RoleReview, RoleRead}},
	{"policy", "Policy", "/console/policy", []string{RoleAdmin}},
	{"lists", "Lists", "/console/lists", []string{RoleAdmin, RoleReview, RoleRead}},
	{"system", "System", "/console/system", []string{RoleAdmin}},
}

func (c *Console) navFor(p Principal) []navItem {
	var out []navItem
	for _, n := range nav {
		if p.Has(n.Roles...) {
			out = append(out, n)
		}
	}
	return out
}

// handler is a page or action run for a signed-in user.
type handler func(w http.ResponseWriter, r *http.Request, s *session)

// sessionOf returns the request's live session, or nil.
func (c *Console) sessionOf(r *http.Request) *session {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	return c.sessions.get(ck.Value)
}

// current returns the request's session; in open mode one is made on the
// first visit, with every role.
func (c *Console) current(w http.ResponseWriter, r *http.Request) *session {
	ck, err := r.Cookie(sessionCookie)
	if err == nil {
		if s := c.sessions.get(ck.Value); s != nil {
			return s
		}
	}
	if !c.open {
		return nil
	}
	s := c.sessions.create("", Principal{Name: "open", Roles: []string{RoleRead, RoleReview, RoleAdmin}}, "")
	c.setCookie(w, r, sessionCookie, s.id, int(c.cfg.SessionTTL/time.Second))
	return s
}

// get wraps a page: signed in, holding one of roles.
func (c *Console) get(roles []string, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := c.current(w, r)
		if s == nil {
			c.toSignIn(w, r)
			return
		}
		if roles != nil && !s.who.Has(roles...) {
			c.fail(w, r, s, http.StatusForbidden, "Your token ("+s.who.Name+") does not have the role this page needs ("+strings.Join(roles, " or ")+").")
			return
		}
		h(w, r.WithContext(withToken(r.Context(), s.token)), s)
	}
}

// post wraps a state-changing action: same origin, the session's CSRF
// token, signed in, holding one of roles.
func (c *Console) post(roles []string, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := c.sessionOf(r)
		if s == nil {
			c.toSignIn(w, r)
			return
		}
		token, tooLarge := c.csrfFromForm(r)
		if tooLarge {
			c.fail(w, r, s, http.StatusRequestEntityTooLarge, fmt.Sprintf("Not replayed, nothing activated: the upload is over the %.1f MiB limit.", float64(c.maxUpload)/(1<<20)))
			return
		}
		if !sameOrigin(r) || !sameToken(r.Header.Get("X-CSRF-Token"), s.csrf) && !sameToken(token, s.csrf) {
			c.log.Warn("console: request refused: missing or wrong CSRF token", "path", r.URL.Path)
			c.fail(w, r, s, http.StatusForbidden, "This request was refused: it did not carry this page's security token. Reload the page and try again.")
			return
		}
		if roles != nil && !s.who.Has(roles...) {
			c.fail(w, r, s, http.StatusForbidden, "Your token ("+s.who.Name+") may not do this: it needs the "+strings.Join(roles, " or ")+" role.")
			return
		}
		h(w, r.WithContext(withToken(r.Context(), s.token)), s)
	}
}

// csrfFromForm reads the CSRF field from a url-encoded or multipart form,
// within bounds on the body: an upload may be as large as the replay
// service takes, other forms 64 KiB. tooLarge reports a body over them.
func (c *Console) csrfFromForm(r *http.Request) (token string, tooLarge bool) {
	var tooBig *http.MaxBytesError
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		r.Body = http.MaxBytesReader(nil, r.Body, c.maxUpload+64<<10)
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			return "", errors.As(err, &tooBig)
		}
		return r.FormValue(csrfField), false
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return "", errors.As(err, &tooBig)
	}
	return r.PostForm.Get(csrfField), false
}

func (c *Console) toSignIn(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", "/console/sign-in")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, "/console/sign-in", http.StatusSeeOther)
}

func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	s := c.current(w, r)
	if s == nil {
		c.toSignIn(w, r)
		return
	}
	items := c.navFor(s.who)
	if len(items) == 0 {
		c.fail(w, r, s, http.StatusForbidden, "Your token ("+s.who.Name+") has no role the console serves: it needs read, review or admin.")
		return
	}
	http.Redirect(w, r, items[0].Path, http.StatusSeeOther)
}

func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	if c.open {
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
		return
	}
	pre := randomToken()
	c.setCookie(w, r, preCookie, pre, 3600)
	c.render(w, r, http.StatusOK, "signin", &view{Title: "Sign in", CSRF: pre})
}

func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	if c.open {
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	ck, err := r.Cookie(preCookie)
	if err != nil || !sameOrigin(r) || r.ParseForm() != nil || !sameToken(r.PostForm.Get(csrfField), ck.Value) {
		c.log.Warn("console: sign-in refused: missing or wrong CSRF token")
		c.fail(w, r, nil, http.StatusForbidden, "This sign-in was refused: it did not come from the sign-in page. Reload it and try again.")
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	who, ok := c.auth(token)
	if !ok {
		c.log.Info("console: sign-in with an unknown token")
		pre := randomToken()
		c.setCookie(w, r, preCookie, pre, 3600)
		c.render(w, r, http.StatusUnauthorized, "signin", &view{Title: "Sign in", CSRF: pre, Error: "That token is not one gavel knows."})
		return
	}
	reviewer := strings.TrimSpace(r.PostForm.Get("reviewer"))
	if len(reviewer) > 128 {
		reviewer = reviewer[:128]
	}
	s := c.sessions.create(token, who, reviewer)
	c.setCookie(w, r, preCookie, "", -1)
	c.setCookie(w, r, sessionCookie, s.id, int(c.cfg.SessionTTL/time.Second))
	c.log.Info("console: signed in", "token_name", who.Name)
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request, s *session) {
	c.sessions.delete(s.id)
	c.setCookie(w, r, sessionCookie, "", -1)
	if c.open {
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/console/sign-in", http.StatusSeeOther)
}

// apiError turns an API error into a status and a message for the page.
func apiError(err error) (int, string) {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		if errors.Is(err, context.Canceled) {
			return 499, "The request was canceled."
		}
		return http.StatusBadGateway, "gavel did not answer: " + err.Error()
	}
	switch ce.Code() {
	case connect.CodeUnauthenticated:
		return http.StatusUnauthorized, "Your sign-in is no longer valid."
	case connect.CodePermissionDenied:
		return http.StatusForbidden, "Your token may not do this: " + ce.Message()
	case connect.CodeNotFound:
		return http.StatusNotFound, "Not found: " + ce.Message()
	case connect.CodeInvalidArgument:
		return http.StatusBadRequest, ce.Message()
	case connect.CodeFailedPrecondition, connect.CodeAlreadyExists:
		return http.StatusConflict, ce.Message()
	case connect.CodeResourceExhausted:
		return http.StatusRequestEntityTooLarge, ce.Message()
	case connect.CodeUnimplemented:
		return http.StatusNotImplemented, "This gavel does not offer it: " + ce.Message()
	default:
		return http.StatusServiceUnavailable, "gavel cannot answer right now: " + ce.Message()
	}
}

// failAPI renders an API error as a page.
func (c *Console) failAPI(w http.ResponseWriter, r *http.Request, s *session, err error) {
	code, msg := apiError(err)
	if code == http.StatusUnauthorized {
		if s != nil {
			c.sessions.delete(s.id)
		}
		c.toSignIn(w, r)
		return
	}
	c.fail(w, r, s, code, msg)
}

func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, code int, msg string) {
	v := &view{Title: http.StatusText(code), Error: msg}
	if code == 499 {
		code = http.StatusServiceUnavailable
	}
	if s != nil {
		c.fill(v, s)
	}
	c.render(w, r, code, "error", v)
}
