package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"connectrpc.com/connect"

	appealv1 "github.com/gavel/gavel/proto/gavel/appeal/v1"
	reviewv1 "github.com/gavel/gavel/proto/gavel/review/v1"
)

// queueRow is one open case or appeal in the queue.
type queueRow struct {
	I       *reviewv1.Item
	Link    string
	Due     time.Time
	Overdue bool
	// Claim is who holds a live claim on it ("" for none); Mine when it
	// is the signed-in reviewer.
	Claim string
	Mine  bool
}

// queueFilter is the queue page's filter, from its query string.
type queueFilter struct {
	Kind, Reason        string
	Overdue, Mine, Free bool
}

type queueData struct {
	Rows     []queueRow
	Next     string // the next page's token
	Page     string
	CanAct   bool
	Reviewer string
	F        queueFilter
	// Query is the filter as a query string, for the next page's link.
	Query string
}

// reviewerOf is the human name the session acts under.
func reviewerOf(s *session) string {
	if s.reviewer != "" {
		return s.reviewer
	}
	return s.who.Name
}

func (c *Console) liveClaim(a *appealv1.Appeal) string {
	if a.GetClaimedBy() == "" || a.GetClaimedUntil() == nil || !c.now().Before(a.GetClaimedUntil().AsTime()) {
		return ""
	}
	return a.GetClaimedBy()
}

// itemLink is the console page of a queue item.
func itemLink(it *reviewv1.Item) string {
	if it.GetKind() == reviewv1.Kind_KIND_CASE {
		return "/console/cases/" + it.GetId()
	}
	return "/console/appeals/" + it.GetId()
}

// queueFilterOf reads the queue's filter from a query string or form.
func queueFilterOf(get func(string) string) queueFilter {
	f := queueFilter{Kind: get("kind"), Reason: strings.TrimSpace(get("reason")), Overdue: get("overdue") == "1", Mine: get("mine") == "1", Free: get("free") == "1"}
	if f.Kind != "case" && f.Kind != "appeal" {
		f.Kind = ""
	}
	return f
}

// request is the ListQueue request of the filter for reviewer me.
func (f queueFilter) request(me string) *reviewv1.ListQueueRequest {
	req := &reviewv1.ListQueueRequest{ReasonCode: f.Reason, Overdue: f.Overdue, Unassigned: f.Free && !f.Mine}
	switch f.Kind {
	case "case":
		req.Kind = reviewv1.Kind_KIND_CASE
	case "appeal":
		req.Kind = reviewv1.Kind_KIND_APPEAL
	}
	if f.Mine {
		req.Assignee = me
	}
	return req
}

func (c *Console) queuePage(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	page := q.Get("page")
	me := reviewerOf(s)
	f := queueFilterOf(q.Get)
	req := f.request(me)
	req.PageSize, req.PageToken = 50, page
	resp, err := c.review.ListQueue(r.Context(), connect.NewRequest(req))
	if connect.CodeOf(err) == connect.CodeInvalidArgument {
		v := &view{Title: "Queue", Page: "queue", Data: queueData{F: f, Reviewer: me}, Error: "Not filtered: " + connectMessage(err)}
		c.fill(v, s)
		c.render(w, r, http.StatusBadRequest, "queue", v)
		return
	}
	if err != nil {
		c.failAPI(w, r, s, err)
		return
	}
	d := queueData{Next: resp.Msg.GetNextPageToken(), Page: page, CanAct: s.who.Has(RoleReview), Reviewer: me, F: f}
	qs := url.Values{}
	for k, v := range map[string]string{"kind": f.Kind, "reason": f.Reason} {
		if v != "" {
			qs.Set(k, v)
		}
	}
	for k, v := range map[string]bool{"overdue": f.Overdue, "mine": f.Mine, "free": f.Free} {
		if v {
			qs.Set(k, "1")
		}
	}
	d.Query = qs.Encode()
	for _, it := range resp.Msg.GetItems() {
		claim := it.GetClaimedBy()
		d.Rows = append(d.Rows, queueRow{I: it, Link: itemLink(it), Due: it.GetDueAt().AsTime(), Overdue: it.GetOverdue(),
			Claim: claim, Mine: claim != "" && claim == me})
	}
	v := &view{Title: "Queue", Page: "queue", Data: d}
	c.fill(v, s)
	switch r.URL.Query().Get("n") {
	case "empty":
		v.Notice = "Nothing is waiting for a reviewer: no open case or appeal that someone else has not claimed."
	}
	c.render(w, r, http.StatusOK, "queue", v)
}

// next claims the oldest open case or appeal no one else holds, within
// the queue's filter when the form carries one, and opens it.
func (c *Console) next(w http.ResponseWriter, r *http.Request, s *session) {
	me := reviewerOf(s)
	f := queueFilterOf(r.PostFormValue)
	token := ""
	for range 10 { // at most 10 pages of items others hold
		req := f.request(me)
		req.PageSize, req.PageToken = 100, token
		resp, err := c.review.ListQueue(r.Context(), connect.NewRequest(req))
		if err != nil {
			c.failAPI(w, r, s, err)
			return
		}
		for _, it := range resp.Msg.GetItems() {
			if claim := it.GetClaimedBy(); claim != "" && claim != me {
				continue
			}
			_, err := c.review.Claim(r.Context(), connect.NewRequest(&reviewv1.ClaimRequest{Id: it.GetId(), Reviewer: me}))
			if connect.CodeOf(err) == connect.CodeFailedPrecondition {
				continue // someone took it, or resolved it, a moment ago
			}
			if err != nil {
				c.failAPI(w, r, s, err)
				return
			}
			http.Redirect(w, r, itemLink(it), http.StatusSeeOther)
			return
		}
		if token = resp.Msg.GetNextPageToken(); token == "" {
			break
		}
	}
	http.Redirect(w, r, "/console/queue?n=empty", http.StatusSeeOther)
}

// appealData is the appeal page: the appeal, then the decision it appeals.
type appealData struct {
	A        *appealv1.Appeal
	Claim    string
	Mine     bool
	Due      time.Time
	Overdue  bool
	CanAct   bool
	Reviewer string
	Decision *decisionData
	Resolved string // the outcome just recorded, for the notice
}

func (c *Console) appealPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.showAppeal(w, r, s, http.StatusOK, "", "")
}

func (c *Console) showAppeal(w http.ResponseWriter, r *http.Request, s *session, code int, notice, problem string) {
	id := r.PathValue("id")
	resp, err := c.appeals.GetAppeal(r.Context(), connect.NewRequest(&appealv1.GetAppealRequest{AppealId: id}))
	if err != nil {
		c.failAPI(w, r, s, err)
		return
	}
	a := resp.Msg.GetAppeal()
	me := reviewerOf(s)
	claim := c.liveClaim(a)
	due := a.GetFiledAt().AsTime().Add(c.cfg.ReviewDue)
	d := appealData{A: a, Claim: claim, Mine: claim != "" && claim == me, Due: due,
		Overdue: a.GetStatus() == appealv1.AppealStatus_APPEAL_STATUS_OPEN && c.now().After(due),
		CanAct:  s.who.Has(RoleReview) && a.GetStatus() == appealv1.AppealStatus_APPEAL_STATUS_OPEN, Reviewer: me}
	dd, err := c.decisionData(r, s, a.GetDecisionId(), resp.Msg.GetDecision())
	if err != nil {
		c.failAPI(w, r, s, err)
		return
	}
	d.Decision = dd
	switch o := r.URL.Query().Get("resolved"); o {
	case "upheld":
		notice = "Resolved: the decision is upheld."
	case "overturned":
		notice = "Resolved: the decision is overturned; its holds, suspension and strike are lifted."
	}
	if r.URL.Query().Get("claimed") == "1" {
		notice = "You have claimed this appeal."
	}
	v := &view{Title: "Appeal", Page: "queue", Data: d, Notice: notice, Error: problem}
	c.fill(v, s)
	c.render(w, r, code, "appeal", v)
}

func (c *Console) claim(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	release := r.PostFormValue("release") == "1"
	_, err := c.appeals.ClaimAppeal(r.Context(), connect.NewRequest(&appealv1.ClaimAppealRequest{AppealId: id, Reviewer: reviewerOf(s), Release: release}))
	if connect.CodeOf(err) == connect.CodeFailedPrecondition {
		c.showAppeal(w, r, s, http.StatusConflict, "", "Not claimed: "+connectMessage(err))
		return
	}
	if err != nil {
		c.failAPI(w, r, s, err)
		return
	}
	if release {
		http.Redirect(w, r, "/console/queue", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/console/appeals/"+id+"?claimed=1", http.StatusSeeOther)
}

func (c *Console) resolve(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	var outcome appealv1.Outcome
	switch r.PostFormValue("outcome") {
	case "upheld":
		outcome = appealv1.Outcome_OUTCOME_UPHELD
	case "overturned":
		outcome = appealv1.Outcome_OUTCOME_OVERTURNED
	default:
		c.showAppeal(w, r, s, http.StatusBadRequest, "", "Choose an outcome: uphold or overturn the decision.")
		return
	}
	reviewer := strings.TrimSpace(r.PostFormValue("reviewer"))
	if reviewer == "" {
		reviewer = reviewerOf(s)
	}
	_, err := c.appeals.ResolveAppeal(r.Context(), connect.NewRequest(&appealv1.ResolveAppealRequest{
		AppealId: id, Outcome: outcome, Reviewer: reviewer, Note: r.PostFormValue("note"),
	}))
	switch connect.CodeOf(err) {
	case connect.CodeFailedPrecondition:
		c.showAppeal(w, r, s, http.StatusConflict, "", "Nothing changed: "+connectMessage(err)+".")
		return
	case connect.CodeInvalidArgument:
		c.showAppeal(w, r, s, http.StatusBadRequest, "", "Not resolved: "+connectMessage(err))
		return
	}
	if err != nil {
		c.failAPI(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/console/appeals/"+id+"?resolved="+r.PostFormValue("outcome"), http.StatusSeeOther)
}

func connectMessage(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Message()
	}
	return err.Error()
}
