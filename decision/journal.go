package decision

import (
	"fmt"
	"time"
)

// Journal is where the engine keeps decisions it could not put in the ledger
// (the ledger could not be read or written), until they are replayed into it.
// A decision is in the journal, durably, before its reply leaves.
type Journal interface {
	// Append durably writes rec. If the request id is already journaled it
	// writes nothing and returns the journaled record with replayed true.
	Append(rec *Record) (stored *Record, replayed bool, err error)
	// ByRequestID returns the journaled, not yet replayed, record for a
	// request id.
	ByRequestID(requestID string) (*Record, bool)
}

// ReasonLedgerUnavailable is the reason recorded when the ledger could not be
// read or written, so the configured failure action was applied and the
// decision journaled.
const ReasonLedgerUnavailable = "LEDGER_UNAVAILABLE"

// SetJournal makes the engine answer with the failure action, and journal
// the decision, when the ledger cannot be read or written; without a journal
// such a decision is ErrUnavailable. Call before serving.
func (e *Engine) SetJournal(j Journal) { e.journal = j }

// ledgerFallback answers a request the ledger could not serve: the failure
// action, marked, journaled before it is returned. The policy is not
// evaluated: without the subject's history it could under-enforce (a
// suspended account would look clean). rec carries what was gathered so far
// (its decision id, input, signals); cause is the ledger's error.
func (e *Engine) ledgerFallback(rec *Record, req *Request, start time.Time, cause error) (*Record, error) {
	if e.journal == nil {
		return nil, cause
	}
	a := e.cfg.FailureAction
	rec.Verdict = Verdict{
		Action: a,
		Reasons: []Reason{{
			Code:        ReasonLedgerUnavailable,
			Action:      a,
			Title:       "Automated check unavailable",
			Message:     "We could not complete an automated check on your account. Please try again shortly.",
			Explanation: "Emitted by gavel, not by a rule: the enforcement ledger could not be read or written, so the account's history was unknown; the policy was not evaluated, the configured failure action was applied and the decision was journaled, to be written to the ledger when it is back.",
			Ground:      "Terms of Service §4.5 — account security and verification",
		}},
	}
	rec.Fallback = true
	rec.Cause = cause.Error()
	rec.Latency = time.Since(start)
	stored, replayed, err := e.journal.Append(rec)
	if err != nil {
		return nil, fmt.Errorf("%w; journal: %v", cause, err)
	}
	if replayed {
		return e.replay(stored, req)
	}
	e.log.Warn("ledger unavailable; applied the failure action and journaled the decision",
		"request_id", rec.RequestID, "decision_id", rec.DecisionID,
		"failure_action", a.String(), "error", cause)
	return stored, nil
}
