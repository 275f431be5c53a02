package replay

import (
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
	// Changed counts replayed decisions whose action would change.
	Changed int64 `json:"changed"`

	// Matrix counts replayed decisions by (stored action, candidate action),
	// the cells with a count only.
	Matrix []Cell `json:"matrix"`
	// Reasons compares how many replayed decisions each reason fired on.
	Reasons []ReasonDelta `json:"reasons"`
	// Escalations lists decisions that would become more severe, earliest
	// first, capped; EscalationsTotal counts them all.
	Escalations      []Escalation `json:"escalations"`
	EscalationsTotal int64        `json:"escalations_total"`
	Appeals          AppealImpact `json:"appeals"`

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

// Escalation is a decision the candidate would have made more severe.
type Escalation struct {
	DecisionID string          `json:"decision_id"`
	SubjectID  string          `json:"subject_id"`
	Checkpoint string          `json:"checkpoint"`
	DecidedAt  time.Time       `json:"decided_at"`
	From       decision.Action `json:"from"`
	To         decision.Action `json:"to"`
	Before     []string        `json:"before"`
	After      []string        `json:"after"`
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
	p("\n%d decisions selected%s: %d replayed, %d skipped (%d without input, %d without profile: store_input off, %d manual actions by reviewers), %d the candidate could not decide\n",
		r.Selected, r.window(), r.Replayed, r.Skipped.Total(), r.Skipped.NoInput, r.Skipped.NoProfile, r.Skipped.Manual, r.Errors)
	if r.FirstError != "" {
		p("first candidate error: %s\n", r.FirstError)
	}
	p("%d replayed decisions would change action (%s)\n\n", r.Changed, percent(r.Changed, r.Replayed))

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

	a := r.Appeals
	p("\nappeals\n")
	p("  overturned decisions: %d; the candidate would have avoided %d (less severe), %d of them allowed\n",
		a.Overturned, a.OverturnedAvoided, a.OverturnedToAllow)
	p("  upheld decisions:     %d; the candidate would have let %d through (less severe), %d of them allowed\n",
		a.Upheld, a.UpheldLetThrough, a.UpheldToAllow)

	p("\nmore severe under the candidate: %d", r.EscalationsTotal)
	if int64(len(r.Escalations)) < r.EscalationsTotal {
		p(" (earliest %d listed)", len(r.Escalations))
	}
	p("\n")
	if len(r.Escalations) > 0 {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  DECIDED\tDECISION\tSUBJECT\tCHECKPOINT\tSTORED\tCANDIDATE\tREASONS BEFORE → AFTER\tAPPEAL")
		for _, e := range r.Escalations {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s → %s\t%s\n", e.DecidedAt.Format(time.RFC3339), e.DecisionID,
				e.SubjectID, e.Checkpoint, e.From, e.To, list(e.Before), list(e.After), e.Outcome)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	p("\nreplayed in %s (%.0f decisions/s)\n", r.Elapsed.Round(time.Millisecond), r.Rate())
	return nil
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
