// Package replay re-evaluates stored decisions under a candidate policy
// bundle before it ships: it streams the input documents the ledger kept,
// evaluates each with the candidate, and reports how the actions would have
// moved (a transition matrix), which reasons would fire more or less often,
// which decisions would become more severe, and what the candidate would
// have done to decisions that appeals upheld or overturned. A reason is
// compared by its code and action, never by where it stands in the list.
package replay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
)

// Source is where stored decisions come from: the ledger. Records are
// read encoded and decoded by the workers, so that decoding is spread over
// every core with evaluation instead of done on the one reading the ledger.
type Source interface {
	Count(ctx context.Context, f ledger.Filter) (int64, error)
	ScanEncoded(ctx context.Context, f ledger.Filter, pageSize int) iter.Seq2[*ledger.Encoded, error]
}

var _ Source = (*ledger.Ledger)(nil)

// Options tune a replay. The zero value replays everything.
type Options struct {
	Filter ledger.Filter
	// PageSize is how many decisions are read from the ledger at a time.
	// Default 500.
	PageSize int
	// Workers decode and evaluate in parallel. Default GOMAXPROCS.
	Workers int
	// Timeout bounds one evaluation. Default 5s.
	Timeout time.Duration
	// MaxEscalations caps each list of changed decisions: those that would
	// become more severe, and those that would become less severe (all are
	// counted). Default 50.
	MaxEscalations int
	// Progress, when set, is called after each decision with the number
	// done and the total selected, from one goroutine.
	Progress func(done, total int64)
}

func (o Options) withDefaults() Options {
	if o.PageSize <= 0 {
		o.PageSize = 500
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.MaxEscalations <= 0 {
		o.MaxEscalations = 50
	}
	return o
}

// Run replays the decisions opts selects under candidate and reports the
// differences. An evaluation the candidate cannot decide is counted and
// its first error kept; it does not stop the replay. An error reading the
// ledger or ctx ending does.
func Run(ctx context.Context, src Source, candidate decision.Evaluator, opts Options) (*Report, error) {
	opts = opts.withDefaults()
	start := time.Now()
	total, err := src.Count(ctx, opts.Filter)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	a := newAggregate(opts.MaxEscalations)
	a.r.Selected = total

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A page of encoded records waits for the workers while the reader
	// fetches the next one: the workers do not stall on the ledger's query,
	// and memory stays bounded by a page or two, whatever the total.
	jobs := make(chan *ledger.Encoded, opts.PageSize)
	results := make(chan outcome, opts.Workers*4)
	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Go(func() {
			for e := range jobs {
				results <- evaluate(ctx, candidate, e, opts.Timeout)
			}
		})
	}
	var scanErr error
	go func() {
		defer close(jobs)
		for e, err := range src.ScanEncoded(ctx, opts.Filter, opts.PageSize) {
			if err != nil {
				scanErr = err
				return
			}
			select {
			case jobs <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()
	var done int64
	var decodeErr error
	for o := range results {
		if o.decodeErr != nil {
			if decodeErr == nil {
				decodeErr = o.decodeErr
				cancel()
			}
			continue
		}
		if decodeErr != nil {
			continue
		}
		a.add(o)
		done++
		if opts.Progress != nil {
			opts.Progress(done, total)
		}
	}
	// results is closed only after the scanner has stopped, so scanErr is set.
	if err := cmp.Or(scanErr, decodeErr); err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	r := a.report()
	r.Elapsed = time.Since(start)
	return r, nil
}

// Reasons a stored decision cannot be replayed.
const (
	skipNoInput   = "no_input"
	skipNoProfile = "no_profile"
	skipManual    = "manual"
)

// skipReason says why rec cannot be replayed faithfully, or "". A record
// stored with store_input off lacks the claimed profile that rules read,
// so the candidate would see another document than the active policy saw.
func skipReason(rec *decision.Record) string {
	if rec.IsManual() {
		return skipManual // a reviewer decided it; there is no policy input
	}
	if len(rec.Input) == 0 {
		return skipNoInput
	}
	subject, _ := rec.Input["subject"].(map[string]any)
	if _, ok := subject["profile"]; !ok {
		return skipNoProfile
	}
	return ""
}

// outcome is one decision replayed (or skipped), or one that could not be
// decoded (decodeErr), which stops the replay as a ledger error does.
type outcome struct {
	stored    *ledger.Stored
	skipped   string
	verdict   decision.Verdict
	err       error
	decodeErr error
}

// evaluate decodes one stored decision and evaluates it under candidate,
// unless it cannot be replayed faithfully.
func evaluate(ctx context.Context, candidate decision.Evaluator, e *ledger.Encoded, timeout time.Duration) outcome {
	s, err := e.DecodeForReplay()
	if err != nil {
		return outcome{decodeErr: err}
	}
	if reason := skipReason(s.Record); reason != "" {
		return outcome{stored: s, skipped: reason}
	}
	ectx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	v, err := candidate.Evaluate(ectx, s.Record.Input)
	return outcome{stored: s, verdict: v, err: err}
}

// aggregate accumulates outcomes; it is used from one goroutine.
type aggregate struct {
	r        Report
	matrix   [decision.Suspend + 1][decision.Suspend + 1]int64
	before   map[string]int64
	after    map[string]int64
	revs     map[string]bool
	active   map[string]int64
	moves    map[ReasonChange]int64
	maxEsc   int
	esc      []Escalation
	less     []Escalation
	firstErr error
}

func newAggregate(maxEsc int) *aggregate {
	return &aggregate{before: map[string]int64{}, after: map[string]int64{}, revs: map[string]bool{},
		active: map[string]int64{}, moves: map[ReasonChange]int64{}, maxEsc: maxEsc}
}

func (a *aggregate) add(o outcome) {
	rec := o.stored.Record
	switch {
	case o.skipped == skipNoInput:
		a.r.Skipped.NoInput++
		return
	case o.skipped == skipNoProfile:
		a.r.Skipped.NoProfile++
		return
	case o.skipped == skipManual:
		a.r.Skipped.Manual++
		return
	case o.err != nil || !o.verdict.Action.Valid():
		a.r.Errors++
		if a.firstErr == nil {
			a.firstErr = cmp.Or(o.err, errors.New("the candidate returned no enforceable action"))
			a.r.FirstError = fmt.Sprintf("decision %s: %v", rec.DecisionID, a.firstErr)
		}
		return
	}
	a.r.Replayed++
	if o.verdict.BundleRevision != "" {
		a.revs[o.verdict.BundleRevision] = true
	}
	a.active[rec.Verdict.BundleRevision]++
	from, to := rec.Verdict.Action, o.verdict.Action
	if !from.Valid() {
		from = decision.ActionUnspecified
	}
	a.matrix[from][to]++
	if from != to {
		a.r.Changed++
	}
	for _, c := range codesOf(rec.Verdict.Reasons) {
		a.before[c]++
	}
	for _, c := range codesOf(o.verdict.Reasons) {
		a.after[c]++
	}
	changes := diffReasons(rec.Verdict.Reasons, o.verdict.Reasons)
	moved := false
	for _, c := range changes {
		if c.ActionChanged() {
			a.moves[c]++
			moved = true
		}
	}
	if moved {
		a.r.ReasonActionsChanged++
	}
	if to != from {
		e := Escalation{
			DecisionID: rec.DecisionID, SubjectID: rec.SubjectID, Checkpoint: rec.Checkpoint,
			DecidedAt: rec.DecidedAt, From: from, To: to,
			Before: codesOf(rec.Verdict.Reasons), After: codesOf(o.verdict.Reasons),
			Reasons: changes, Outcome: o.stored.Outcome,
		}
		if to > from {
			a.r.EscalationsTotal++
			a.esc = append(a.esc, e)
		} else {
			a.r.LessSevereTotal++
			a.less = append(a.less, e)
		}
		if len(a.esc) >= 2*a.maxEsc || len(a.less) >= 2*a.maxEsc {
			a.trimLists()
		}
	}
	ap := &a.r.Appeals
	switch o.stored.Outcome {
	case ledger.OutcomeOverturned:
		ap.Overturned++
		if to < from {
			ap.OverturnedAvoided++
		}
		if to == decision.Allow {
			ap.OverturnedToAllow++
		}
	case ledger.OutcomeUpheld:
		ap.Upheld++
		if to < from {
			ap.UpheldLetThrough++
		}
		if to == decision.Allow && from != decision.Allow {
			ap.UpheldToAllow++
		}
	}
}

// trimLists keeps the earliest decisions of each list, so the lists do
// not depend on the order parallel workers finished in.
func (a *aggregate) trimLists() {
	a.esc = earliest(a.esc, a.maxEsc)
	a.less = earliest(a.less, a.maxEsc)
}

func earliest(list []Escalation, n int) []Escalation {
	slices.SortFunc(list, func(x, y Escalation) int {
		return cmp.Or(x.DecidedAt.Compare(y.DecidedAt), cmp.Compare(x.DecisionID, y.DecisionID))
	})
	if len(list) > n {
		list = list[:n]
	}
	return list
}

func (a *aggregate) report() *Report {
	r := a.r
	for _, from := range Actions {
		for _, to := range Actions {
			if n := a.matrix[from][to]; n > 0 {
				r.Matrix = append(r.Matrix, Cell{From: from, To: to, Count: n})
			}
		}
	}
	for _, to := range Actions {
		if n := a.matrix[decision.ActionUnspecified][to]; n > 0 {
			r.Matrix = append(r.Matrix, Cell{From: decision.ActionUnspecified, To: to, Count: n})
		}
	}
	for code := range a.before {
		if _, ok := a.after[code]; !ok {
			a.after[code] = 0
		}
	}
	for code, after := range a.after {
		before := a.before[code]
		r.Reasons = append(r.Reasons, ReasonDelta{Code: code, Before: before, After: after, Delta: after - before})
	}
	slices.SortFunc(r.Reasons, func(x, y ReasonDelta) int {
		return cmp.Or(cmp.Compare(abs(y.Delta), abs(x.Delta)), cmp.Compare(x.Code, y.Code))
	})
	for c, n := range a.moves {
		r.ReasonActions = append(r.ReasonActions, ReasonActionCount{Code: c.Code, From: c.From, To: c.To, Count: n})
	}
	slices.SortFunc(r.ReasonActions, func(x, y ReasonActionCount) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Code, y.Code), cmp.Compare(x.From, y.From), cmp.Compare(x.To, y.To))
	})
	a.trimLists()
	r.Escalations = a.esc
	r.LessSevere = a.less
	for rev := range a.revs {
		r.CandidateRevisions = append(r.CandidateRevisions, rev)
	}
	slices.Sort(r.CandidateRevisions)
	for rev, n := range a.active {
		r.ActiveRevisions = append(r.ActiveRevisions, RevisionCount{Revision: rev, Decisions: n})
	}
	slices.SortFunc(r.ActiveRevisions, func(x, y RevisionCount) int {
		return cmp.Or(cmp.Compare(y.Decisions, x.Decisions), cmp.Compare(x.Revision, y.Revision))
	})
	return &r
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// codesOf returns the distinct reason codes in order.
func codesOf(reasons []decision.Reason) []string {
	out := make([]string, 0, len(reasons))
	for _, r := range reasons {
		if r.Code != "" && !slices.Contains(out, r.Code) {
			out = append(out, r.Code)
		}
	}
	return out
}
