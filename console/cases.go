package console

import (
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"

	reviewv1 "github.com/gavel/gavel/proto/gavel/review/v1"
)

// caseData is the case page: the case, its notes, then the decisions the
// policy sent to review.
type caseData struct {
	I         *reviewv1.Item
	Notes     []*reviewv1.Note
	Open      bool
	Claim     string
	Mine      bool
	Due       time.Time
	CanAct    bool
	Reviewer  string
	Decisions []*decisionData
	// Resolution is the resolution's name once resolved.
	Resolution string
}

var resolutionName = map[reviewv1.Resolution]string{
	reviewv1.Resolution_RESOLUTION_UPHOLD:   "upheld",
	reviewv1.Resolution_RESOLUTION_LIFT:     "lifted",
	reviewv1.Resolution_RESOLUTION_SUSPEND:  "suspended",
	reviewv1.Resolution_RESOLUTION_OVERTURN: "overturned",
}

func (c *Console) casePage(w http.ResponseWriter, r *http.Request, s *session) {
	notice := ""
	switch r.URL.Query().Get("done") {
	case "claim":
		notice = "You have claimed this case."
	case "release":
		notice = "Your claim is released."
	case "note":
		notice = "Note added."
	case "resolve":
		notice = "Resolved."
	}
	c.showCase(w, r, s, http.StatusOK, notice, "")
}

func (c *Console) showCase(w http.ResponseWriter, r *http.Request, s *session, code int, notice, problem string) {
	id := r.PathValue("id")
	if !strings.HasPrefix(id, "case-") {
		c.fail(w, r, s, http.StatusNotFound, "There is no such case.")
		return
	}
	resp, err := c.review.GetItem(r.Context(), connect.NewRequest(&reviewv1.GetItemRequest{Id: id}))
	if err != nil {
		c.failAPI(w, r, s, err)
		return
	}
	it := resp.Msg.GetItem()
	me := reviewerOf(s)
	d := caseData{I: it, Notes: resp.Msg.GetNotes(), Open: it.GetStatus() == "open", Claim: it.GetClaimedBy(),
		Due: it.GetDueAt().AsTime(), Reviewer: me, Resolution: resolutionName[it.GetResolution()]}
	d.Mine = d.Claim != "" && d.Claim == me
	d.CanAct = s.who.Has(RoleReview) && d.Open
	for _, dr := range resp.Msg.GetDecisions() {
		dd, err := c.decisionData(r, s, dr.GetDecision().GetDecisionId(), nil)
		if err != nil {
			c.failAPI(w, r, s, err)
			return
		}
		d.Decisions = append(d.Decisions, dd)
	}
	v := &view{Title: "Case", Page: "queue", Data: d, Notice: notice, Error: problem}
	c.fill(v, s)
	c.render(w, r, code, "case", v)
}

// caseAction claims or releases a case, adds a note, or resolves it.
func (c *Console) caseAction(w http.ResponseWriter, r *http.Request, s *session) {
	id, op := r.PathValue("id"), r.PathValue("op")
	me := reviewerOf(s)
	var err error
	switch op {
	case "claim", "release":
		_, err = c.review.Claim(r.Context(), connect.NewRequest(&reviewv1.ClaimRequest{Id: id, Reviewer: me, Release: op == "release"}))
	case "note":
		_, err = c.review.AddNote(r.Context(), connect.NewRequest(&reviewv1.AddNoteRequest{Id: id, Author: me, Body: r.PostFormValue("body")}))
	case "resolve":
		res, ok := map[string]reviewv1.Resolution{
			"uphold": reviewv1.Resolution_RESOLUTION_UPHOLD, "lift": reviewv1.Resolution_RESOLUTION_LIFT,
			"suspend": reviewv1.Resolution_RESOLUTION_SUSPEND,
		}[r.PostFormValue("resolution")]
		if !ok {
			c.showCase(w, r, s, http.StatusBadRequest, "", "Choose a resolution: uphold, lift or suspend.")
			return
		}
		reviewer := strings.TrimSpace(r.PostFormValue("reviewer"))
		if reviewer == "" {
			reviewer = me
		}
		_, err = c.review.Resolve(r.Context(), connect.NewRequest(&reviewv1.ResolveRequest{
			Id: id, Resolution: res, Reviewer: reviewer, Note: r.PostFormValue("note"),
		}))
	default:
		c.fail(w, r, s, http.StatusNotFound, "There is no such action on a case.")
		return
	}
	switch connect.CodeOf(err) {
	case connect.CodeFailedPrecondition:
		c.showCase(w, r, s, http.StatusConflict, "", "Nothing changed: "+connectMessage(err)+".")
		return
	case connect.CodeInvalidArgument:
		c.showCase(w, r, s, http.StatusBadRequest, "", "Nothing changed: "+connectMessage(err))
		return
	}
	if err != nil {
		c.failAPI(w, r, s, err)
		return
	}
	if op == "release" {
		http.Redirect(w, r, "/console/queue", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/console/cases/"+id+"?done="+op, http.StatusSeeOther)
}
