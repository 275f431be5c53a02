package decision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Evaluator evaluates the active enforcement policy on an input document.
// An undefined or malformed result is an error, never a silent allow.
type Evaluator interface {
	Evaluate(ctx context.Context, input map[string]any) (Verdict, error)
}

var (
	// ErrUnavailable means gavel cannot decide at all: the ledger is down and
	// there is no journal, or the journal cannot be written either.
	ErrUnavailable = errors.New("unavailable")
	// ErrConflict means a request id was reused for a different request.
	ErrConflict = errors.New("request id already used for a different subject or checkpoint")
)

// Config is the engine's part of gavel's configuration.
type Config struct {
	// Checkpoints are the journey steps callers may ask about.
	Checkpoints []string
	// FailureAction applies when the policy cannot decide.
	FailureAction Action
	// PolicyTimeout bounds one policy evaluation.
	PolicyTimeout time.Duration
	// SignalTimeout bounds the detector fan-out and the history read.
	SignalTimeout time.Duration
	// LedgerTimeout bounds the request-id lookup and the commit: a ledger
	// that hangs (not only one that refuses) fails the decision over to
	// the journal instead of holding the caller until its own deadline.
	LedgerTimeout time.Duration
	Limits        Limits
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Engine makes decisions. It is safe for concurrent use.
type Engine struct {
	cfg         Config
	checkpoints map[string]bool
	signals     SignalSource
	policy      Evaluator
	ledger      Ledger
	log         *slog.Logger
	shadow      *shadowRunner
	observers   []Observer
	journal     Journal
	catalog     Catalog
	recent      *recentIndex
	lists       ListMatcher // nil: no runtime lists
}

// New returns an engine. signals may be nil (no detectors).
func New(cfg Config, signals SignalSource, policy Evaluator, ledger Ledger, log *slog.Logger) (*Engine, error) {
	if policy == nil || ledger == nil {
		return nil, errors.New("decision engine needs a policy evaluator and a ledger")
	}
	if !cfg.FailureAction.Valid() {
		return nil, fmt.Errorf("failure action %v is not an enforceable action", cfg.FailureAction)
	}
	if len(cfg.Checkpoints) == 0 {
		return nil, errors.New("no checkpoints configured")
	}
	if cfg.PolicyTimeout <= 0 {
		cfg.PolicyTimeout = 250 * time.Millisecond
	}
	if cfg.LedgerTimeout <= 0 {
		cfg.LedgerTimeout = time.Second
	}
	if cfg.SignalTimeout <= 0 {
		cfg.SignalTimeout = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Limits.Now == nil {
		cfg.Limits.Now = cfg.Now // timestamps are judged by the engine's clock
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cp := make(map[string]bool, len(cfg.Checkpoints))
	for _, c := range cfg.Checkpoints {
		cp[c] = true
	}
	return &Engine{cfg: cfg, checkpoints: cp, signals: signals, policy: policy, ledger: ledger, log: log,
		recent: newRecentIndex(RecentRequests)}, nil
}

// Checkpoints returns the configured checkpoint names.
func (e *Engine) Checkpoints() []string { return e.cfg.Checkpoints }

// Decide validates req, gathers history and signals concurrently, evaluates
// the policy and commits the decision to the ledger before returning it. A
// retried request id returns the stored decision with Replayed set.
//
// When the ledger cannot be read or written and a journal is set, the
// decision is the configured failure action with reason
// ReasonLedgerUnavailable, journaled before it is returned (see SetJournal);
// only a journal that cannot be written either makes it ErrUnavailable.
func (e *Engine) Decide(ctx context.Context, req *Request) (*Record, error) {
	start := time.Now()
	if err := Validate(req, e.checkpoints, e.cfg.Limits); err != nil {
		return nil, err
	}
	if e.journal != nil {
		if prev, ok := e.journal.ByRequestID(req.RequestID); ok {
			return e.replay(prev, req)
		}
	}
	now := e.cfg.Now()
	if err := CheckEventTime(req, now, e.cfg.Limits); err != nil {
		return nil, err
	}
	lctx, lcancel := context.WithTimeout(ctx, e.cfg.LedgerTimeout)
	prev, err := e.ledger.ByRequestID(lctx, req.RequestID)
	lcancel()
	if err == nil {
		return e.replay(prev, req)
	} else if !errors.Is(err, ErrNotFound) {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if prev, ok := e.recent.get(req.RequestID); ok {
			// Decided and committed by this process before the ledger
			// went away: the caller gets the decision it already holds.
			return e.replay(prev, req)
		}
		cause := fmt.Errorf("%w: look up request %q: %v", ErrUnavailable, req.RequestID, err)
		rec := e.newRecord(req, now, Input(req, nil, req.Signals, History{}, now), req.Signals, nil)
		return e.ledgerFallback(rec, req, start, cause)
	}

	var (
		hist    History
		histErr error
		results []DetectorResult
		matches []ListMatch
		wg      sync.WaitGroup
	)
	sctx, cancel := context.WithTimeout(ctx, e.cfg.SignalTimeout)
	wg.Add(1)
	go func() {
		defer wg.Done()
		hist, histErr = e.ledger.History(sctx, req.Subject.ID, now)
	}()
	if e.lists != nil {
		wg.Go(func() { matches = e.lists.Match(sctx, req, now) })
	}
	if e.signals != nil {
		results = e.signals.Collect(sctx, req, req.EventTime(now))
	}
	wg.Wait()
	cancel()
	signals := make([]Signal, 0, len(req.Signals)+4*len(results))
	signals = append(signals, req.Signals...)
	for _, r := range results {
		signals = append(signals, r.Signals...)
	}
	if histErr != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		cause := fmt.Errorf("%w: read history of %q: %v", ErrUnavailable, req.Subject.ID, histErr)
		rec := e.newRecord(req, now, Input(req, results, signals, History{}, now), signals, results)
		return e.ledgerFallback(rec, req, start, cause)
	}
	// decide evaluates the policy on the subject's history h into rec. The
	// ledger calls it again, under the subject's lock, when the subject's
	// standing changed before the commit.
	var rec *Record
	decide := func(ctx context.Context, h History) error {
		now := rec.DecidedAt
		input := Input(req, results, signals, h, now)
		input["lists"] = listsDoc(matches)
		rec.Input = input
		pctx, pcancel := context.WithTimeout(ctx, e.cfg.PolicyTimeout)
		verdict, err := e.policy.Evaluate(pctx, input)
		pcancel()
		rec.Fallback, rec.Cause = false, ""
		if err != nil {
			e.log.Warn("policy could not decide; applying failure action",
				"request_id", req.RequestID, "decision_id", rec.DecisionID,
				"failure_action", e.cfg.FailureAction.String(), "error", err)
			verdict = e.fallback(verdict.BundleRevision)
			rec.Fallback = true
			rec.Cause = err.Error()
		}
		rec.Verdict = verdict
		return nil
	}
	rec = e.newRecord(req, now, nil, signals, results)
	_ = decide(ctx, hist)
	rec.Latency = time.Since(start)

	cctx, ccancel := context.WithTimeout(ctx, e.cfg.LedgerTimeout)
	var basis *Basis
	if !req.DryRun { // a dry run changes no standing: it need not wait its turn
		basis = &Basis{Version: hist.Version, Redo: decide}
	}
	stored, replayed, err := e.ledger.Commit(cctx, rec, basis)
	ccancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		cause := fmt.Errorf("%w: record decision %s: %v", ErrUnavailable, rec.DecisionID, err)
		return e.ledgerFallback(rec, req, start, cause)
	}
	if replayed {
		return e.replay(stored, req)
	}
	e.recent.add(stored)
	if e.shadow != nil && !rec.DryRun {
		e.shadow.submit(stored.DecisionID, rec.Input)
	}
	e.observe(ctx, stored)
	return stored, nil
}

func (e *Engine) newRecord(req *Request, now time.Time, input map[string]any, signals []Signal, results []DetectorResult) *Record {
	return &Record{
		DecisionID: uuid.Must(uuid.NewV7()).String(),
		RequestID:  req.RequestID,
		SubjectID:  req.Subject.ID,
		Checkpoint: req.Checkpoint,
		DecidedAt:  now,
		Input:      input,
		Signals:    signals,
		Detectors:  results,
		DryRun:     req.DryRun,
	}
}

func (e *Engine) replay(prev *Record, req *Request) (*Record, error) {
	if prev.SubjectID != req.Subject.ID || prev.Checkpoint != req.Checkpoint {
		return nil, ErrConflict
	}
	cp := *prev
	cp.Replayed = true
	return &cp, nil
}

// fallback is the verdict applied when the policy cannot decide.
func (e *Engine) fallback(revision string) Verdict {
	a := e.cfg.FailureAction
	return Verdict{
		Action: a,
		Reasons: []Reason{{
			Code:        ReasonPolicyUnavailable,
			Action:      a,
			Title:       "Automated check unavailable",
			Message:     "We could not complete an automated check on your account. Please try again shortly.",
			Explanation: "The enforcement policy returned no valid decision; the configured failure action was applied.",
		}},
		BundleRevision: revision,
	}
}

// Get returns a stored decision.
func (e *Engine) Get(ctx context.Context, decisionID string) (*Record, error) {
	return e.ledger.Get(ctx, decisionID)
}

// List returns a subject's decisions, newest first.
func (e *Engine) List(ctx context.Context, subjectID string, pageSize int, pageToken string) ([]*Record, string, error) {
	if pageSize <= 0 {
		pageSize = 20
	}
	if pageSize > 100 {
		pageSize = 100
	}
	return e.ledger.List(ctx, subjectID, pageSize, pageToken)
}
