// Package decision is gavel's domain core: it turns a validated request into
// the input document the enforcement policy sees, asks the policy for a
// verdict, and records the result before the caller is answered.
//
// The flow of one decision is Validate → (History ∥ Collect) → Input →
// Evaluate → Record → Commit. The package knows no transport: the Connect edge
// converts protos into a Request and a Record back into a response, the
// detector host implements SignalSource, the policy engine implements
// Evaluator, and the ledger implements Ledger.
package decision
