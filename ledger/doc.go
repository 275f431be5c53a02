// Package ledger is gavel's enforcement ledger: it implements decision.Ledger
// on SQLite (embedded, the default) and PostgreSQL (for several replicas).
//
// In the flow of one decision the engine reads a subject's History (active
// holds, suspension, unexpired strikes, recent decisions) while the detectors
// run, and Commits the decision record with its enforcement effects (holds,
// suspension, strike, remedy lifts) in one transaction before the caller is
// answered. A retried request id stores nothing and returns the first
// decision. Reviewers read decisions back with Get, ByRequestID and List.
//
// Both backends share one implementation over database/sql; only the SQL
// dialect, the time encoding and the connection set-up differ. Schema
// migrations are embedded per dialect (migrations/<dialect>/*.sql) and
// applied at Open.
package ledger
