package replay

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gavel/gavel/decision"
)

// Actions are the enforceable actions, least severe first: the rows and
// columns of the transition matrix.
var Actions = []decision.Action{decision.Allow, decision.Warn, decision.Challenge, decision.Restrict, decision.Suspend}

// Report is what a replay found.
type Report struct {
	// Candidate describes the candidate bundle (its source); the revisions
	// are those its verdicts carried.
	Candidate          string   `json:"candidate"`
	CandidateRevisions []string `json:"candidate_revisions"`
	Since              string   `json:"since,omitempty"`
	Until              string   `json:"until,omitempty"`
	Checkpoint         string   `json:"checkpoint,omitempty"`

	// Selected decisions; of those, Replayed under the candidate, Skipped
	// without a faithful input, and Errors where the candidate could not
	// decide.
	Selected   int64  `json:"selected"`
	Replayed   int64  `json:"replayed"`
	Skipped    Skips  `json:"skipped"`
	Errors     int64  `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
	// ActiveRevisions are the bundle revisions that made the replayed
	// decisions (the active bundle when each was decided), with how many
	// each made: what the candidate is compared with.
	ActiveRevisions []RevisionCount `json:"active_revisions"`
	// Changed counts replayed decisions whose action would change.
	Changed int64 `json:"changed"`
	// ReasonActionsChanged counts replayed decisions in which at least one
	// reason fires under both with another action, whether or not the
	// decision's action changes.
	ReasonActionsChanged int64 `json:"reason_actions_changed"`

	// Matrix counts replayed decisions by (stored action, candidate action),
	// the cells with a count only.
	Matrix []Cell `json:"matrix"`
	// Reasons compares how many replayed decisions each reason fired on.
	Reasons []ReasonDelta `json:"reasons"`
	// ReasonActions counts, per reason code, the decisions in which the
	// reason fires under both with another action (stored → candidate),
	// most first.
	ReasonActions []ReasonActionCount `json:"reason_actions"`
	// Escalations lists decisions that would become more severe, earliest
	// first, capped; EscalationsTotal counts them all.
	Escalations      []Escalation `json:"escalations"`
	EscalationsTotal int64        `json:"escalations_total"`
	// LessSevere lists decisions that would become less severe, earliest
	// first, capped; LessSevereTotal counts them all.
	LessSevere      []Escalation `json:"less_severe"`
	LessSevereTotal int64        `json:"less_severe_total"`
	Appeals         AppealImpact `json:"appeals"`

	Elapsed time.Duration `json:"elapsed_ns"`
}

// Skips counts decisions not replayed, by cause.
type Skips struct {
	// NoInput: the record has no input document.
	NoInput int64 `json:"no_input"`
	// NoProfile: stored with ledger.store_input off, without the claimed
	// profile the policy read.
	NoProfile int64 `json:"no_profile"`
	// Manual: a reviewer's action, not a decision of the policy.
	Manual int64 `json:"manual"`
}

// Total is every skipped decision.
func (s Skips) Total() int64 { return s.NoInput + s.NoProfile + s.Manual }

// Cell is one cell of the transition matrix.
type Cell struct {
	From  decision.Action `json:"from"`
	To    decision.Action `json:"to"`
	Count int64           `json:"count"`
}

// ReasonDelta is how many decisions a reason code fired on, stored and
// under the candidate.
type ReasonDelta struct {
	Code   string `json:"code"`
	Before int64  `json:"before"`
	After  int64  `json:"after"`
	Delta  int64  `json:"delta"`
}

// RevisionCount is a bundle revision and how many replayed decisions it
// made.
type RevisionCount struct {
	Revision  string `json:"revision"`
	Decisions int64  `json:"decisions"`
}

// ReasonActionCount is how many decisions a reason fires on under both
// with action From stored and To under the candidate.
type ReasonActionCount struct {
	Code  string          `json:"code"`
	From  decision.Action `json:"from"`
	To    decision.Action `json:"to"`
	Count int64           `json:"count"`
}

// Escalation is a decision whose action the candidate would change: more
// severe in Report.Escalations, less severe in Report.LessSevere.
type Escalation struct {
	DecisionID string          `json:"decision_id"`
	SubjectID  string          `json:"subject_id"`
	Checkpoint string          `json:"checkpoint"`
	DecidedAt  time.Time       `json:"decided_at"`
	From       decision.Action `json:"from"`
	To         decision.Action `json:"to"`
	// Before and After are the reason codes as each verdict listed them.
	Before []string `json:"before"`
	After  []string `json:"after"`
	// Reasons is what changed in the reasons, by code (see ReasonChange):
	// a reordered list of the same reasons and actions is no change.
	Reasons []ReasonChange `json:"reason_changes"`
	// Outcome is the decision's appeal outcome, if any.
	Outcome string `json:"outcome,omitempty"`
}

// AppealImpact is what the candidate would have done to appealed
// decisions. Less severe means a smaller action than the stored one.
type AppealImpact struct {
	// Overturned decisions; those the candidate would have avoided (less
	// severe), and of all overturned those it would have allowed.
	Overturned        int64 `json:"overturned"`
	OverturnedAvoided int64 `json:"overturned_avoided"`
	OverturnedToAllow int64 `json:"overturned_to_allow"`
	// Upheld decisions; those the candidate would have let through (less
	// severe), and those it would have allowed outright.
	Upheld           int64 `json:"upheld"`
	UpheldLetThrough int64 `json:"upheld_let_through"`
	UpheldToAllow    int64 `json:"upheld_to_allow"`
}

// Count returns the matrix cell (from, to).
func (r *Report) Count(from, to decision.Action) int64 {
	for _, c := range r.Matrix {
		if c.From == from && c.To == to {
			return c.Count
		}
	}
	return 0
}

// Rate is decisions replayed per second.
func (r *Report) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Replayed+r.Errors) / r.Elapsed.Seconds()
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report as readable tables.
func (r *Report) WriteText(w io.Writer) error {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("replay of %s", r.Candidate)
	if len(r.CandidateRevisions) > 0 {
		p(" (revision %s)", strings.Join(r.CandidateRevisions, ", "))
	}
	p("\n")
	if len(r.ActiveRevisions) > 0 {
		p("against the stored decisions of active revision %s\n", r.activeText())
	}
	p("%d decisions selected%s: %d replayed, %d skipped (%d without input, %d without profile: store_input off, %d manual actions by reviewers), %d the candidate could not decide\n",
		r.Selected, r.window(), r.Replayed, r.Skipped.Total(), r.Skipped.NoInput, r.Skipped.NoProfile, r.Skipped.Manual, r.Errors)
	if r.FirstError != "" {
		p("first candidate error: %s\n", r.FirstError)
	}
	p("%d replayed decisions would change action (%s): %d more severe, %d less severe\n",
		r.Changed, percent(r.Changed, r.Replayed), r.EscalationsTotal, r.LessSevereTotal)
	p("%d replayed decisions have a reason whose action would change\n\n", r.ReasonActionsChanged)

	p("action transitions (rows: stored action, columns: candidate action)\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "stored \\ candidate\t")
	for _, a := range Actions {
		fmt.Fprintf(tw, "%s\t", a)
	}
	fmt.Fprintln(tw, "total\t")
	for _, from := range Actions {
		fmt.Fprintf(tw, "%s\t", from)
		var row int64
		for _, to := range Actions {
			n := r.Count(from, to)
			row += n
			fmt.Fprintf(tw, "%s\t", cell(n, from == to))
		}
		fmt.Fprintf(tw, "%d\t\n", row)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	p("  * marks the cells off the diagonal: decisions whose action the candidate would change; · is none\n")

	p("\nreason hits (decisions a reason fired on)\n")
	if len(r.Reasons) == 0 {
		p("  none\n")
	} else {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  CODE\tBEFORE\tAFTER\tDELTA")
		for _, d := range r.Reasons {
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%+d\n", d.Code, d.Before, d.After, d.Delta)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	p("\nreason actions changed (decisions a reason fired on under both, with another action)\n")
	if len(r.ReasonActions) == 0 {
		p("  none\n")
	} else {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  CODE\tSTORED\tCANDIDATE\tDECISIONS")
		for _, c := range r.ReasonActions {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\n", c.Code, c.From, c.To, c.Count)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	a := r.Appeals
	p("\nappeals\n")
	p("  overturned decisions: %d; the candidate would have avoided %d (less severe), %d of them allowed\n",
		a.Overturned, a.OverturnedAvoided, a.OverturnedToAllow)
	p("  upheld decisions:     %d; the candidate would have let %d through (less severe), %d of them allowed\n",
		a.Upheld, a.UpheldLetThrough, a.UpheldToAllow)

	if len(r.Escalations)+len(r.LessSevere) > 0 {
		p("\nREASON CHANGES: CODE stored action → candidate action; +CODE fires only under the candidate; -CODE only in the stored decision;\n")
		p("reasons that fire on both with the same action are not listed, in whatever order each verdict lists them\n")
	}
	if err := writeChanges(w, "more severe", r.Escalations, r.EscalationsTotal); err != nil {
		return err
	}
	if err := writeChanges(w, "less severe", r.LessSevere, r.LessSevereTotal); err != nil {
		return err
	}
	p("\nreplayed in %s (%.0f decisions/s)\n", r.Elapsed.Round(time.Millisecond), r.Rate())
	return nil
}

// writeChanges lists decisions whose action would change one way.
func writeChanges(w io.Writer, title string, list []Escalation, total int64) error {
	fmt.Fprintf(w, "\n%s under the candidate: %d", title, total)
	if int64(len(list)) < total {
		fmt.Fprintf(w, " (earliest %d listed)", len(list))
	}
	fmt.Fprintln(w)
	if len(list) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  DECIDED\tDECISION\tSUBJECT\tCHECKPOINT\tSTORED\tCANDIDATE\tREASON CHANGES\tAPPEAL")
	for _, e := range list {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.DecidedAt.Format(time.RFC3339), e.DecisionID,
			cmp.Or(e.SubjectID, "-"), e.Checkpoint, e.From, e.To, changesText(e.Reasons), e.Outcome)
	}
	return tw.Flush()
}

// activeText is the active revisions with their decision counts.
func (r *Report) activeText() string {
	parts := make([]string, len(r.ActiveRevisions))
	for i, rc := range r.ActiveRevisions {
		parts[i] = fmt.Sprintf("%s (%d decisions)", cmp.Or(rc.Revision, "unknown"), rc.Decisions)
	}
	return strings.Join(parts, ", ")
}

func (r *Report) window() string {
	var parts []string
	if r.Since != "" {
		parts = append(parts, "since "+r.Since)
	}
	if r.Until != "" {
		parts = append(parts, "until "+r.Until)
	}
	if r.Checkpoint != "" {
		parts = append(parts, "at "+r.Checkpoint)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func cell(n int64, diagonal bool) string {
	switch {
	case n == 0:
		return "·"
	case diagonal:
		return fmt.Sprintf("%d", n)
	default:
		return fmt.Sprintf("*%d", n)
	}
}

func list(codes []string) string {
	if len(codes) == 0 {
		return "-"
	}
	return strings.Join(codes, ",")
}

func percent(n, of int64) string {
	if of == 0 {
		return "0 %"
	}
	return fmt.Sprintf("%.1f %%", 100*float64(n)/float64(of))
}
