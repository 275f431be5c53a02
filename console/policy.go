package console

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/gavel/gavel/proto/gavel/admin/v1"
	replayv1 "github.com/gavel/gavel/proto/gavel/replay/v1"
)

// actions are the matrices' rows and columns, least severe first.
var actions = []string{"allow", "warn", "challenge", "restrict", "suspend"}

// matrix is a transition matrix drawn as a table.
type matrix struct {
	Actions []string
	Rows    []matrixRow
	Max     int64
}

type matrixRow struct {
	From  string
	Cells []matrixCell
}

type matrixCell struct {
	Count int64
	// Heat is 0..4, the cell's shade; Same marks the diagonal.
	Heat  int
	Same  bool
	Label string
}

func newMatrix(count func(from, to string) int64) matrix {
	m := matrix{Actions: actions}
	for _, f := range actions {
		for _, t := range actions {
			m.Max = max(m.Max, count(f, t))
		}
	}
	for _, f := range actions {
		row := matrixRow{From: f}
		for _, t := range actions {
			n := count(f, t)
			heat := 0
			if n > 0 && m.Max > 0 {
				heat = 1 + int(3*float64(n)/float64(m.Max))
				heat = min(heat, 4)
			}
			row.Cells = append(row.Cells, matrixCell{Count: n, Heat: heat, Same: f == t, Label: fmt.Sprintf("%s to %s: %d", f, t, n)})
		}
		m.Rows = append(m.Rows, row)
	}
	return m
}

type policyData struct {
	Status      *adminv1.GetStatusResponse
	Active      *adminv1.BundleStatus
	Shadow      *adminv1.BundleStatus
	ShadowRep   *adminv1.ShadowReport
	ShadowM     matrix
	Checkpoints []string
	Since       string
	Until       string
	MaxUpload   string
	// Form values sent back after a refused upload.
	Form map[string]string
}

func (c *Console) policyData(r *http.Request) (*policyData, error) {
	resp, err := c.admin.GetStatus(r.Context(), connect.NewRequest(&adminv1.GetStatusRequest{}))
	if err != nil {
		return nil, err
	}
	st := resp.Msg
	d := &policyData{Status: st, Checkpoints: st.GetCheckpoints(), ShadowRep: st.GetShadow(),
		MaxUpload: fmt.Sprintf("%.1f MiB", float64(c.maxUpload)/(1<<20))}
	for _, b := range st.GetBundles() {
		switch b.GetRole() {
		case "active":
			d.Active = b
		case "shadow":
			d.Shadow = b
		}
	}
	if sr := st.GetShadow(); sr != nil {
		d.ShadowM = newMatrix(func(from, to string) int64 {
			for _, t := range sr.GetTransitions() {
				if t.GetFrom() == from && t.GetTo() == to {
					return t.GetCount()
				}
			}
			return 0
		})
	}
	now := c.now().UTC()
	d.Until = now.AddDate(0, 0, 1).Format("2006-01-02")
	d.Since = now.AddDate(0, 0, -30).Format("2006-01-02")
	return d, nil
}

func (c *Console) policyPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.showPolicy(w, r, s, http.StatusOK, "", nil)
}

func (c *Console) showPolicy(w http.ResponseWriter, r *http.Request, s *session, code int, problem string, form map[string]string) {
	d, err := c.policyData(r)
	if err != nil {
		c.failAPI(w, r, s, err)
		return
	}
	if form != nil {
		d.Form = form
		d.Since, d.Until = form["since"], form["until"]
	}
	v := &view{Title: "Policy", Page: "policy", Data: d, Error: problem}
	c.fill(v, s)
	c.render(w, r, code, "policy", v)
}

// startReplay sends the uploaded candidate to the replay service. The
// candidate is replayed on history only; nothing here activates it.
func (c *Console) startReplay(w http.ResponseWriter, r *http.Request, s *session) {
	form := map[string]string{"since": r.FormValue("since"), "until": r.FormValue("until"), "checkpoint": r.FormValue("checkpoint")}
	refuse := func(code int, msg string) { c.showPolicy(w, r, s, code, msg, form) }
	f, hdr, err := r.FormFile("bundle")
	if err != nil {
		if strings.Contains(err.Error(), "too large") {
			refuse(http.StatusRequestEntityTooLarge, fmt.Sprintf("Not replayed: the file is over the %.1f MiB limit.", float64(c.maxUpload)/(1<<20)))
			return
		}
		refuse(http.StatusBadRequest, "Choose a candidate bundle file (.tar.gz) to replay.")
		return
	}
	defer f.Close()
	body, err := io.ReadAll(io.LimitReader(f, c.maxUpload+1))
	if err != nil {
		refuse(http.StatusBadRequest, "The upload could not be read; try again.")
		return
	}
	req := &replayv1.StartReplayRequest{Bundle: body, Checkpoint: form["checkpoint"], Name: filepath.Base(hdr.Filename)}
	if req.Since, err = dateField(form["since"]); err != nil {
		refuse(http.StatusBadRequest, "From: "+err.Error())
		return
	}
	if req.Until, err = dateField(form["until"]); err != nil {
		refuse(http.StatusBadRequest, "To: "+err.Error())
		return
	}
	resp, err := c.replays.StartReplay(r.Context(), connect.NewRequest(req))
	if err != nil {
		code, _ := apiError(err)
		if code == http.StatusUnauthorized || code == http.StatusForbidden {
			c.failAPI(w, r, s, err)
			return
		}
		refuse(code, "Not replayed, nothing activated: "+connectMessage(err))
		return
	}
	http.Redirect(w, r, "/console/policy/replays/"+resp.Msg.GetReplay().GetReplayId(), http.StatusSeeOther)
}

// reasonChanges says what changed in a replayed decision's reasons, by
// code: "CODE warn → restrict", "+CODE restrict" (fires only under the
// candidate), "-CODE challenge" (only in the stored decision). A reason
// listed in another place with the same action is not a change.
func reasonChanges(changes []*replayv1.ReasonChange) string {
	if len(changes) == 0 {
		return "same reasons, same actions"
	}
	parts := make([]string, len(changes))
	for i, c := range changes {
		switch {
		case c.GetFrom() == "":
			parts[i] = "+" + c.GetCode() + " " + c.GetTo()
		case c.GetTo() == "":
			parts[i] = "-" + c.GetCode() + " " + c.GetFrom()
		default:
			parts[i] = c.GetCode() + " " + c.GetFrom() + " → " + c.GetTo()
		}
	}
	return strings.Join(parts, "; ")
}

// dateField parses a yyyy-mm-dd form date as midnight UTC; "" is none.
func dateField(v string) (*timestamppb.Timestamp, error) {
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return nil, fmt.Errorf("%q is not a date (YYYY-MM-DD)", v)
	}
	return timestamppb.New(t), nil
}

type replayData struct {
	R       *replayv1.Replay
	Running bool
	Percent int
	Matrix  matrix
	Deltas  []barRow
	Empty   bool
}

func (c *Console) replayPage(w http.ResponseWriter, r *http.Request, s *session) {
	resp, err := c.replays.GetReplay(r.Context(), connect.NewRequest(&replayv1.GetReplayRequest{ReplayId: r.PathValue("id")}))
	if err != nil {
		c.failAPI(w, r, s, err)
		return
	}
	rp := resp.Msg.GetReplay()
	d := replayData{R: rp, Running: rp.GetState() == replayv1.ReplayState_REPLAY_STATE_RUNNING}
	if rp.GetTotal() > 0 {
		d.Percent = int(100 * rp.GetDone() / rp.GetTotal())
	}
	if rep := rp.GetReport(); rep != nil {
		d.Empty = rep.GetSelected() == 0
		d.Matrix = newMatrix(func(from, to string) int64 {
			for _, c := range rep.GetMatrix() {
				if c.GetFrom() == from && c.GetTo() == to {
					return c.GetCount()
				}
			}
			return 0
		})
		for i, rd := range rep.GetReasons() {
			if i == 15 {
				break
			}
			d.Deltas = append(d.Deltas, barRow{Label: rd.GetCode(), Text: fmt.Sprintf("%+d (%d → %d)", rd.GetDelta(), rd.GetBefore(), rd.GetAfter()), Value: float64(rd.GetDelta())})
		}
	}
	v := &view{Title: "Replay", Page: "policy", Data: d}
	c.fill(v, s)
	c.render(w, r, http.StatusOK, "replay", v)
}
