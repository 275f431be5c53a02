package console

import (
	"net/http"

	"connectrpc.com/connect"

	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

// holdRow is one restriction a decision placed and where it stands now.
type holdRow struct {
	Capability string
	Until      string
	State      string
}

// decisionData is the reviewer's view of one decision.
type decisionData struct {
	D        *decisionv1.GetDecisionResponse
	User     *decisionv1.DecideResponse // what the account holder is told
	Reviewer bool
	Model    []contribution
	Holds    []holdRow
	// Signals by detector name prefix, in the order detectors reported.
	Signals []*decisionv1.Signal
}

// decisionData reads a decision in the reviewer view where the role
// allows (else the user view) and, beside it, the user view.
func (c *Console) decisionData(r *http.Request, s *session, id string, _ any) (*decisionData, error) {
	d := &decisionData{Reviewer: s.who.Has(RoleReview, RoleAdmin)}
	view := decisionv1.View_VIEW_USER
	if d.Reviewer {
		view = decisionv1.View_VIEW_REVIEWER
	}
	resp, err := c.decisions.GetDecision(r.Context(), connect.NewRequest(&decisionv1.GetDecisionRequest{DecisionId: id, View: view}))
	if err != nil {
		return nil, err
	}
	d.D = resp.Msg
	if d.Reviewer {
		user, err := c.decisions.GetDecision(r.Context(), connect.NewRequest(&decisionv1.GetDecisionRequest{DecisionId: id, View: decisionv1.View_VIEW_USER}))
		if err != nil {
			return nil, err
		}
		d.User = user.Msg.GetDecision()
	} else {
		d.User = resp.Msg.GetDecision()
	}
	d.Signals = resp.Msg.GetSignals()
	for _, sg := range d.Signals {
		if cs := contributionsOf(sg.GetEvidence()); len(cs) > 0 {
			d.Model = cs
			break
		}
	}
	dec := resp.Msg.GetDecision()
	now := c.now()
	for _, h := range dec.GetRestrictions() {
		row := holdRow{Capability: h.GetCapability(), Until: "until lifted", State: "in force"}
		if h.GetUntil() != nil {
			row.Until = when(h.GetUntil())
		}
		switch {
		case dec.GetDryRun():
			row.State = "never placed (dry run)"
		case dec.GetOverturned():
			row.State = "lifted: the decision was overturned"
		case h.GetUntil() != nil && !now.Before(h.GetUntil().AsTime()):
			row.State = "expired"
		}
		d.Holds = append(d.Holds, row)
	}
	return d, nil
}

func (c *Console) decisionPage(w http.ResponseWriter, r *http.Request, s *session) {
	d, err := c.decisionData(r, s, r.PathValue("id"), nil)
	if err != nil {
		c.failAPI(w, r, s, err)
		return
	}
	v := &view{Title: "Decision", Page: "queue", Data: d}
	c.fill(v, s)
	c.render(w, r, http.StatusOK, "decision", v)
}
