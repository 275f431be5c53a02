package console

import (
	"net/http"
	"strings"

	"connectrpc.com/connect"

	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

// holdRow is one effect of a decision on the account (a hold, the
// suspension, the strike) and where it stands now.
type holdRow struct {
	Kind        string
	Capability  string
	Until       string
	State       string
	StateAt     string
	Description string
	By          string
	Reviewer    string
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
	// Each effect of the decision and its state now, as the API reports
	// it (in force, expired, remedied, lifted by hand, overturned).
	for _, e := range resp.Msg.GetDecision().GetEffects() {
		row := holdRow{Kind: e.GetKind(), Capability: e.GetCapability(), Until: "until lifted", State: strings.ReplaceAll(e.GetState(), "_", " "),
			Description: e.GetDescription(), By: e.GetBy(), Reviewer: e.GetReviewer()}
		if e.GetUntil() != nil {
			row.Until = "until " + when(e.GetUntil())
		}
		if e.GetStateAt() != nil {
			row.StateAt = when(e.GetStateAt())
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
