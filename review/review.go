// Package review is gavel's review queue: the cases the policy opens (a
// challenge or restrict whose reasons the reason catalog marks for review)
// and the appeals account holders file, as one workflow for a reviewer. It
// lists open items oldest first with their due time, claims them for a
// named reviewer, keeps notes, and resolves them: a case is upheld, or
// resolved by a manual lift or suspension (decision.Engine.Enforce) whose
// commit records the case resolved in the same transaction; an appeal is
// upheld or overturned as the appeals service does.
//
// The RPC edge (internal/server) turns protos into these calls; the ledger
// keeps the cases, claims and notes.
package review

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gavel/gavel/decision"
	"github.com/gavel/gavel/ledger"
)

// Config is the review queue's configuration (review.* in gavel's
// configuration). The SLA of a case is policy data, per reason code
// (review_sla in the reason catalog), so it ships with the rules that open
// cases; an appeal's is configuration, since no rule opens an appeal.
type Config struct {
	// AppealSLA is how long after it is filed an appeal is due.
	AppealSLA time.Duration `koanf:"appeal_sla"`
}

// DefaultConfig is the review queue's built-in configuration.
func DefaultConfig() Config { return Config{AppealSLA: 48 * time.Hour} }

// Validate reports every problem of the configuration.
func (c Config) Validate() error {
	if c.AppealSLA <= 0 {
		return fmt.Errorf("review.appeal_sla: %v must be a positive duration", c.AppealSLA)
	}
	return nil
}

// Bounds of what a call may carry.
const (
	MaxNoteChars = 4000
	MaxNameChars = 200
	MaxPageSize  = 100
)

// Resolutions a reviewer may choose.
const (
	Uphold    = "uphold"
	Lift      = "lift"
	Suspend   = "suspend"
	Overturn  = "overturn"
	reinstate = "REINSTATED"
)

var (
	idPattern   = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	codePattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)
)

// Service is what reviewers do with the queue. It is safe for concurrent
// use.
type Service struct {
	ledger *ledger.Ledger
	engine *decision.Engine
	cfg    Config
	// claimTTL is how long a claim lasts; clearFor how long an overturn
	// clears the decision's rules (zero: the ledger's default).
	claimTTL, clearFor time.Duration
	// overturned hears of a decision an appeal overturned (the detectors
	// unlearn it); may be nil.
	overturned func(ctx context.Context, decisionID string)
	now        func() time.Time
}

// Options are the parts a Service works with besides the ledger and the
// engine.
type Options struct {
	ClaimTTL   time.Duration
	ClearFor   time.Duration
	Overturned func(ctx context.Context, decisionID string)
	Now        func() time.Time
}

// New returns the review queue over a ledger and the engine that records
// manual actions.
func New(l *ledger.Ledger, e *decision.Engine, cfg Config, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ClaimTTL <= 0 {
		o.ClaimTTL = 30 * time.Minute
	}
	return &Service{ledger: l, engine: e, cfg: cfg, claimTTL: o.ClaimTTL, clearFor: o.ClearFor, overturned: o.Overturned, now: o.Now}
}

// Config returns the service's configuration.
func (s *Service) Config() Config { return s.cfg }

// Filter selects open items of the queue.
type Filter struct {
	Kind       string // ledger.KindCase, ledger.KindAppeal or "" for both
	ReasonCode string
	SubjectID  string
	Assignee   string
	Unassigned bool
	Overdue    bool
	PageSize   int
	PageToken  string
}

// Queue lists open items oldest first, and the time their ages and due
// flags are judged at.
func (s *Service) Queue(ctx context.Context, f Filter) ([]*ledger.QueueItem, string, time.Time, error) {
	var v decision.ValidationError
	switch f.Kind {
	case "", ledger.KindCase, ledger.KindAppeal:
	default:
		v = append(v, decision.FieldError{Field: "kind", Reason: fmt.Sprintf("%q is not case or appeal", f.Kind)})
	}
	if f.ReasonCode != "" && !codePattern.MatchString(f.ReasonCode) {
		v = append(v, decision.FieldError{Field: "reason_code", Reason: fmt.Sprintf("%q is not a reason code (upper case, like MODEL_RISK)", f.ReasonCode)})
	}
	if f.SubjectID != "" && !decision.ValidID(f.SubjectID) {
		v = append(v, decision.FieldError{Field: "subject_id", Reason: decision.IDRule})
	}
	checkText(&v, "assignee", f.Assignee, MaxNameChars, false)
	if f.Assignee != "" && f.Unassigned {
		v = append(v, decision.FieldError{Field: "unassigned", Reason: "cannot be combined with assignee"})
	}
	if f.PageSize < 0 || f.PageSize > MaxPageSize {
		v = append(v, decision.FieldError{Field: "page_size", Reason: fmt.Sprintf("must be between 0 and %d", MaxPageSize)})
	}
	if len(v) > 0 {
		return nil, "", time.Time{}, v
	}
	now := s.now()
	items, next, err := s.ledger.Queue(ctx, ledger.QueueFilter{
		Kind: f.Kind, ReasonCode: f.ReasonCode, SubjectID: f.SubjectID,
		Assignee: strings.TrimSpace(f.Assignee), Unassigned: f.Unassigned, Overdue: f.Overdue,
		Now: now, AppealSLA: s.cfg.AppealSLA, PageSize: f.PageSize, PageToken: f.PageToken,
	})
	if errors.Is(err, ledger.ErrBadPageToken) {
		return nil, "", time.Time{}, decision.ValidationError{{Field: "page_token", Reason: "is not a token from an earlier page of the same query"}}
	}
	return items, next, now, err
}

// Item is a case or an appeal with its decisions and notes.
type Item struct {
	Kind   string
	Case   *ledger.Case   // when Kind is case
	Appeal *ledger.Appeal // when Kind is appeal
	// Decisions are the case's decisions, or the appealed one.
	Decisions []*decision.Record
	Notes     []ledger.Note
	// Due is when the item should be resolved.
	Due time.Time
}

// ID returns the item's id.
func (it *Item) ID() string {
	if it.Case != nil {
		return it.Case.CaseID
	}
	return it.Appeal.AppealID
}

// Open reports whether the item waits for a reviewer.
func (it *Item) Open() bool {
	if it.Case != nil {
		return it.Case.Status == ledger.CaseOpen
	}
	return it.Appeal.Status == ledger.AppealOpen
}

// Get returns a case or an appeal by id, or decision.ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (*Item, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if ledger.IsCaseID(id) {
		c, err := s.ledger.GetCase(ctx, id)
		if err != nil {
			return nil, err
		}
		it := &Item{Kind: ledger.KindCase, Case: c, Due: c.DueAt}
		for _, d := range c.Decisions {
			rec, err := s.ledger.Get(ctx, d)
			if err != nil {
				return nil, fmt.Errorf("case %s: decision %s: %w", id, d, err)
			}
			it.Decisions = append(it.Decisions, rec)
		}
		if it.Notes, err = s.ledger.Notes(ctx, id); err != nil {
			return nil, err
		}
		return it, nil
	}
	a, rec, err := s.ledger.GetAppeal(ctx, id)
	if err != nil {
		return nil, err
	}
	it := &Item{Kind: ledger.KindAppeal, Appeal: a, Decisions: []*decision.Record{rec}, Due: a.FiledAt.Add(s.cfg.AppealSLA)}
	if it.Notes, err = s.ledger.Notes(ctx, id); err != nil {
		return nil, err
	}
	return it, nil
}

// Claim claims an open item for a reviewer, or releases the reviewer's
// claim.
func (s *Service) Claim(ctx context.Context, id, reviewer string, release bool) (*Item, error) {
	var v decision.ValidationError
	if err := checkID(id); err != nil {
		v = append(v, err.(decision.ValidationError)...)
	}
	checkText(&v, "reviewer", reviewer, MaxNameChars, true)
	if len(v) > 0 {
		return nil, v
	}
	reviewer = strings.TrimSpace(reviewer)
	var err error
	if ledger.IsCaseID(id) {
		_, err = s.ledger.ClaimCase(ctx, ledger.CaseClaim{CaseID: id, Reviewer: reviewer, At: s.now(), For: s.claimTTL, Release: release})
	} else {
		_, err = s.ledger.ClaimAppeal(ctx, ledger.AppealClaim{AppealID: id, Reviewer: reviewer, At: s.now(), For: s.claimTTL, Release: release})
	}
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

// AddNote adds a reviewer's note to a case or an appeal.
func (s *Service) AddNote(ctx context.Context, id, author, body string) (*ledger.Note, error) {
	var v decision.ValidationError
	if err := checkID(id); err != nil {
		v = append(v, err.(decision.ValidationError)...)
	}
	checkText(&v, "author", author, MaxNameChars, true)
	checkText(&v, "body", body, MaxNoteChars, true)
	if len(v) > 0 {
		return nil, v
	}
	kind := ledger.KindAppeal
	if ledger.IsCaseID(id) {
		kind = ledger.KindCase
	}
	return s.ledger.AddNote(ctx, ledger.Note{Kind: kind, ItemID: id, Author: strings.TrimSpace(author), At: s.now(), Body: body})
}

// Resolution asks to resolve an open item.
type Resolution struct {
	ID       string
	How      string // Uphold, Lift, Suspend (cases); Uphold, Overturn (appeals)
	Reviewer string
	// Caller is the authenticated caller.
	Caller       string
	Note         string
	ReasonCode   string
	Capabilities []string
	Duration     time.Duration
	RequestID    string
}

// Resolve resolves an open item and returns it with the manual decision a
// lift or a suspension recorded (nil otherwise). Refusals: a resolved item
// (ledger.ErrCaseResolved, ledger.ErrAlreadyResolved), another reviewer's
// live claim (ledger.ErrCaseClaimed, ledger.ErrClaimed), an action that
// does not apply to the account (decision.ErrPrecondition).
func (s *Service) Resolve(ctx context.Context, r Resolution) (*Item, *decision.Record, error) {
	var v decision.ValidationError
	if err := checkID(r.ID); err != nil {
		v = append(v, err.(decision.ValidationError)...)
	}
	isCase := ledger.IsCaseID(r.ID)
	switch {
	case r.How == "":
		v = append(v, decision.FieldError{Field: "resolution", Reason: "is required: uphold, lift or suspend for a case; uphold or overturn for an appeal"})
	case isCase && !slices.Contains([]string{Uphold, Lift, Suspend}, r.How):
		v = append(v, decision.FieldError{Field: "resolution", Reason: fmt.Sprintf("a case is resolved by uphold, lift or suspend, not %s", r.How)})
	case !isCase && !slices.Contains([]string{Uphold, Overturn}, r.How):
		v = append(v, decision.FieldError{Field: "resolution", Reason: fmt.Sprintf("an appeal is resolved by uphold or overturn, not %s", r.How)})
	}
	checkText(&v, "reviewer", r.Reviewer, MaxNameChars, true)
	if strings.TrimSpace(r.Note) == "" {
		v = append(v, decision.FieldError{Field: "note", Reason: "is required: say what the reviewer found"})
	} else {
		checkText(&v, "note", r.Note, MaxNoteChars, true)
	}
	if r.ReasonCode != "" && !codePattern.MatchString(r.ReasonCode) {
		v = append(v, decision.FieldError{Field: "reason_code", Reason: fmt.Sprintf("%q is not a reason code (upper case, like MODEL_RISK)", r.ReasonCode)})
	}
	if r.How != Lift && len(r.Capabilities) > 0 {
		v = append(v, decision.FieldError{Field: "capabilities", Reason: "only a lift names capabilities"})
	}
	if r.How != Suspend && r.Duration != 0 {
		v = append(v, decision.FieldError{Field: "duration", Reason: "only a suspension has a duration"})
	}
	if r.Duration < 0 {
		v = append(v, decision.FieldError{Field: "duration", Reason: "must be positive, or absent for until lifted"})
	}
	if (r.How == Uphold || r.How == Overturn) && (r.ReasonCode != "" || r.RequestID != "") {
		v = append(v, decision.FieldError{Field: "reason_code", Reason: "only a lift or a suspension records a manual decision with a reason code and request id"})
	}
	if len(v) > 0 {
		return nil, nil, v
	}
	r.Reviewer = strings.TrimSpace(r.Reviewer)
	if !isCase {
		return s.resolveAppeal(ctx, r)
	}
	if r.How == Uphold {
		if _, err := s.ledger.ResolveCase(ctx, ledger.CaseResolution{
			CaseID: r.ID, Reviewer: r.Reviewer, ResolvedBy: r.Caller, Note: r.Note, At: s.now(),
		}); err != nil {
			return nil, nil, err
		}
		it, err := s.Get(ctx, r.ID)
		return it, nil, err
	}
	it, err := s.Get(ctx, r.ID)
	if err != nil {
		return nil, nil, err
	}
	c := it.Case
	if c.Status != ledger.CaseOpen {
		return nil, nil, fmt.Errorf("%w: case %s was resolved (%s)", ledger.ErrCaseResolved, c.CaseID, c.Resolution)
	}
	if who := c.ClaimedAt(s.now()); who != "" && who != r.Reviewer {
		return nil, nil, fmt.Errorf("%w: case %s is claimed by %s until %s", ledger.ErrCaseClaimed, c.CaseID, who, c.ClaimedUntil.UTC().Format(time.RFC3339))
	}
	a := decision.ManualAction{
		RequestID: r.RequestID, SubjectID: c.SubjectID, ReasonCode: r.ReasonCode, Note: r.Note,
		Reviewer: r.Reviewer, Caller: r.Caller, CaseID: c.CaseID,
	}
	switch r.How {
	case Lift:
		a.Kind = decision.ManualLift
		if a.ReasonCode == "" {
			a.ReasonCode = reinstate
		}
		a.Capabilities = r.Capabilities
		if len(a.Capabilities) == 0 {
			if a.Capabilities, err = s.heldByCase(ctx, c); err != nil {
				return nil, nil, err
			}
		}
	case Suspend:
		a.Kind = decision.ManualSuspend
		if a.ReasonCode == "" && len(c.Codes) > 0 {
			a.ReasonCode = c.Codes[0]
		}
		a.Duration = r.Duration
	}
	rec, err := s.engine.Enforce(ctx, a)
	if err != nil {
		return nil, nil, err
	}
	it, err = s.Get(ctx, r.ID)
	return it, rec, err
}

// heldByCase returns the capabilities the case's decisions hold in force.
func (s *Service) heldByCase(ctx context.Context, c *ledger.Case) ([]string, error) {
	st, err := s.engine.Standing(ctx, c.SubjectID)
	if errors.Is(err, decision.ErrNotFound) {
		st, err = &decision.Standing{}, nil
	}
	if err != nil {
		return nil, err
	}
	var caps []string
	for _, h := range st.Holds {
		if slices.Contains(c.Decisions, h.DecisionID) && !slices.Contains(caps, h.Capability) {
			caps = append(caps, h.Capability)
		}
	}
	if len(caps) == 0 {
		return nil, fmt.Errorf("%w: none of the holds of case %s is in force: nothing to lift (uphold closes the case)", decision.ErrPrecondition, c.CaseID)
	}
	slices.Sort(caps)
	return caps, nil
}

func (s *Service) resolveAppeal(ctx context.Context, r Resolution) (*Item, *decision.Record, error) {
	a, _, err := s.ledger.GetAppeal(ctx, r.ID)
	if err != nil {
		return nil, nil, err
	}
	if who := a.ClaimedAt(s.now()); who != "" && who != r.Reviewer && a.Status == ledger.AppealOpen {
		return nil, nil, fmt.Errorf("%w: appeal %s is claimed by %s until %s", ledger.ErrClaimed, a.AppealID, who, a.ClaimedUntil.UTC().Format(time.RFC3339))
	}
	outcome := ledger.AppealUpheld
	if r.How == Overturn {
		outcome = ledger.AppealOverturned
	}
	a, err = s.ledger.ResolveAppeal(ctx, ledger.AppealResolution{
		AppealID: r.ID, Outcome: outcome, Reviewer: r.Reviewer, ResolvedBy: r.Caller, Note: r.Note,
		At: s.now(), ClearFor: s.clearFor,
	})
	if err != nil {
		return nil, nil, err
	}
	if outcome == ledger.AppealOverturned && s.overturned != nil {
		s.overturned(ctx, a.DecisionID)
	}
	it, err := s.Get(ctx, r.ID)
	return it, nil, err
}

func checkID(id string) error {
	switch {
	case id == "":
		return decision.ValidationError{{Field: "id", Reason: "is required: a case id (case-…) or an appeal id"}}
	case !idPattern.MatchString(id):
		return decision.ValidationError{{Field: "id", Reason: "is not an id gavel issued"}}
	}
	return nil
}

func checkText(v *decision.ValidationError, field, s string, max int, required bool) {
	switch {
	case required && strings.TrimSpace(s) == "":
		*v = append(*v, decision.FieldError{Field: field, Reason: "is required"})
	case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
		*v = append(*v, decision.FieldError{Field: field, Reason: "is not valid UTF-8 text"})
	case utf8.RuneCountInString(s) > max:
		*v = append(*v, decision.FieldError{Field: field, Reason: fmt.Sprintf("is longer than %d characters", max)})
	}
}
