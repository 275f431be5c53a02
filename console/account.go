package console

import (
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
	enforcementv1 "github.com/gavel/gavel/proto/gavel/enforcement/v1"
)

// The Account page is reached through one of the account's decisions
// (/console/accounts/{decision_id}), or by posting an account id to
// /console/accounts: an account id never appears in a URL.

type accountData struct {
	Ref      string // the decision id the page is reached through
	Subject  string
	Standing *enforcementv1.Standing
	Timeline []*decisionv1.DecideResponse
	Next     string
	CanAct   bool
	Reviewer string
	// RequestID makes a double-submitted action one action.
	RequestID string
	Done      string
}

func (c *Console) findAccount(w http.ResponseWriter, r *http.Request, s *session) {
	subject := strings.TrimSpace(r.PostFormValue("account"))
	if subject == "" {
		c.fail(w, r, s, http.StatusBadRequest, "Enter an account id.")
		return
	}
	resp, err := c.decisions.ListDecisions(r.Context(), connect.NewRequest(&decisionv1.ListDecisionsRequest{SubjectId: subject, PageSize: 1}))
	if err != nil {
		c.failAPI(w, r, s, err)
		return
	}
	if len(resp.Msg.GetDecisions()) == 0 {
		c.fail(w, r, s, http.StatusNotFound, "gavel has made no decision about that account.")
		return
	}
	http.Redirect(w, r, "/console/accounts/"+resp.Msg.GetDecisions()[0].GetDecisionId(), http.StatusSeeOther)
}

func (c *Console) accountPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.showAccount(w, r, s, http.StatusOK, "")
}

func (c *Console) subjectOf(r *http.Request) (string, error) {
	d, err := c.decisions.GetDecision(r.Context(), connect.NewRequest(&decisionv1.GetDecisionRequest{DecisionId: r.PathValue("ref"), View: decisionv1.View_VIEW_USER}))
	if err != nil {
		return "", err
	}
	return d.Msg.GetDecision().GetSubjectId(), nil
}

func (c *Console) showAccount(w http.ResponseWriter, r *http.Request, s *session, code int, problem string) {
	subject, err := c.subjectOf(r)
	if err != nil {
		c.failAPI(w, r, s, err)
		return
	}
	st, err := c.enforcement.GetStanding(r.Context(), connect.NewRequest(&enforcementv1.GetStandingRequest{SubjectId: subject}))
	if err != nil {
		c.failAPI(w, r, s, err)
		return
	}
	list, err := c.decisions.ListDecisions(r.Context(), connect.NewRequest(&decisionv1.ListDecisionsRequest{
		SubjectId: subject, PageSize: 25, PageToken: r.URL.Query().Get("page"),
	}))
	if err != nil {
		c.failAPI(w, r, s, err)
		return
	}
	d := accountData{Ref: r.PathValue("ref"), Subject: subject, Standing: st.Msg.GetStanding(), Timeline: list.Msg.GetDecisions(),
		Next: list.Msg.GetNextPageToken(), CanAct: s.who.Has(RoleReview, RoleAdmin), Reviewer: reviewerOf(s), RequestID: manualRequestID()}
	notice := ""
	switch r.URL.Query().Get("done") {
	case "suspend":
		notice = "The account is suspended."
	case "restrict":
		notice = "The capabilities are held."
	case "lift":
		notice = "Lifted."
	case "reinstate":
		notice = "The account is reinstated."
	}
	v := &view{Title: "Account", Page: "queue", Data: d, Notice: notice, Error: problem}
	c.fill(v, s)
	c.render(w, r, code, "account", v)
}

// manualRequestID is the request id of the Account page's manual action
// forms, each of which appends "-" and its action: the retry of one submit
// is recorded once. A token alone would start with '-' or '_' one time in
// 32, which no request id may.
func manualRequestID() string { return "console-" + randomToken() }

// act records a reviewer's manual action on the account.
func (c *Console) act(w http.ResponseWriter, r *http.Request, s *session) {
	subject, err := c.subjectOf(r)
	if err != nil {
		c.failAPI(w, r, s, err)
		return
	}
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	reviewer := f("reviewer")
	if reviewer == "" {
		reviewer = reviewerOf(s)
	}
	caps := strings.FieldsFunc(f("capabilities"), func(r rune) bool { return r == ',' || r == ' ' })
	var dur *durationpb.Duration
	if v := f("duration"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			c.showAccount(w, r, s, http.StatusBadRequest, "Duration: "+v+" is not a duration such as 72h.")
			return
		}
		dur = durationpb.New(d)
	}
	code, note, rid := f("reason_code"), r.PostFormValue("note"), f("request_id")
	var (
		dec    *decisionv1.DecideResponse
		action = r.PathValue("action")
	)
	switch action {
	case "suspend":
		resp, e := c.enforcement.Suspend(r.Context(), connect.NewRequest(&enforcementv1.SuspendRequest{SubjectId: subject, ReasonCode: code, Note: note, Reviewer: reviewer, Duration: dur, RequestId: rid}))
		if err = e; e == nil {
			dec = resp.Msg.GetDecision()
		}
	case "restrict":
		resp, e := c.enforcement.Restrict(r.Context(), connect.NewRequest(&enforcementv1.RestrictRequest{SubjectId: subject, ReasonCode: code, Note: note, Reviewer: reviewer, Capabilities: caps, Duration: dur, RequestId: rid}))
		if err = e; e == nil {
			dec = resp.Msg.GetDecision()
		}
	case "lift":
		resp, e := c.enforcement.Lift(r.Context(), connect.NewRequest(&enforcementv1.LiftRequest{SubjectId: subject, ReasonCode: code, Note: note, Reviewer: reviewer, Capabilities: caps, Suspension: r.PostFormValue("suspension") == "1", RequestId: rid}))
		if err = e; e == nil {
			dec = resp.Msg.GetDecision()
		}
	case "reinstate":
		resp, e := c.enforcement.Reinstate(r.Context(), connect.NewRequest(&enforcementv1.ReinstateRequest{SubjectId: subject, ReasonCode: code, Note: note, Reviewer: reviewer, RequestId: rid}))
		if err = e; e == nil {
			dec = resp.Msg.GetDecision()
		}
	default:
		c.fail(w, r, s, http.StatusNotFound, "There is no such action.")
		return
	}
	switch connect.CodeOf(err) {
	case connect.CodeInvalidArgument, connect.CodeFailedPrecondition, connect.CodeAlreadyExists:
		c.showAccount(w, r, s, http.StatusBadRequest, "Nothing recorded: "+connectMessage(err))
		return
	}
	if err != nil {
		c.failAPI(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/console/accounts/"+dec.GetDecisionId()+"?done="+action, http.StatusSeeOther)
}
