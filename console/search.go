package console

import (
	"net/http"
	"strings"

	"connectrpc.com/connect"

	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

// searchForm is the Search page's filters: time, checkpoint, action,
// reason, appeal status. No account id: a URL never carries one (the
// Account page takes it by POST).
type searchForm struct {
	Since, Until, Checkpoint, Action, Reason, Appeal string
}

type searchData struct {
	F       searchForm
	Results []*decisionv1.DecideResponse
	Next    string
	Query   string // the filters as a query string, for the next page link
	Actions []string
	Appeals []string
	Asked   bool
}

func (c *Console) searchPage(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	f := searchForm{Since: q.Get("since"), Until: q.Get("until"), Checkpoint: q.Get("checkpoint"),
		Action: q.Get("action"), Reason: strings.TrimSpace(q.Get("reason")), Appeal: q.Get("appeal")}
	d := searchData{F: f, Actions: actions, Appeals: []string{"open", "upheld", "overturned", "any", "none"}, Asked: len(q) > 0}
	v := &view{Title: "Search", Page: "search", Data: &d}
	c.fill(v, s)
	if !d.Asked {
		c.render(w, r, http.StatusOK, "search", v)
		return
	}
	req := &decisionv1.SearchDecisionsRequest{Checkpoint: f.Checkpoint, ReasonCode: f.Reason, AppealStatus: f.Appeal, PageSize: 50, PageToken: q.Get("page")}
	var err error
	if req.Since, err = dateField(f.Since); err != nil {
		v.Error = "From: " + err.Error()
	}
	if req.Until, err = dateField(f.Until); err != nil {
		v.Error = "Until: " + err.Error()
	}
	if f.Action != "" {
		a, ok := decisionv1.Action_value["ACTION_"+strings.ToUpper(f.Action)]
		if !ok {
			v.Error = "Action: " + f.Action + " is not an action."
		}
		req.Action = decisionv1.Action(a)
	}
	if v.Error != "" {
		c.render(w, r, http.StatusBadRequest, "search", v)
		return
	}
	resp, err := c.decisions.SearchDecisions(r.Context(), connect.NewRequest(req))
	if connect.CodeOf(err) == connect.CodeInvalidArgument {
		v.Error = connectMessage(err)
		c.render(w, r, http.StatusBadRequest, "search", v)
		return
	}
	if err != nil {
		c.failAPI(w, r, s, err)
		return
	}
	d.Results, d.Next = resp.Msg.GetDecisions(), resp.Msg.GetNextPageToken()
	q.Del("page")
	d.Query = q.Encode()
	c.render(w, r, http.StatusOK, "search", v)
}
