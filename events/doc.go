// Package events tells the marketplace what changed: it delivers the events
// the ledger writes to its outbox — in the same transaction as each change
// of standing, appeal, case or list — to configured HTTP endpoints, as
// CloudEvents 1.0 in structured JSON mode, signed per the Standard Webhooks
// scheme.
//
// Delivery is at least once and in order per subject: an endpoint gets a
// subject's next event only once the one before it was delivered or given
// up on (dead-lettered after Endpoint.MaxAttempts). Failed attempts are
// retried with exponential backoff and full jitter. Replicas sharing a
// PostgreSQL ledger share the work: a delivery is leased to one replica at
// a time, and the lease outlives the request's timeout, so two replicas
// never send the same subject's events at once.
//
// The ledger (package ledger) implements Store; this package holds the
// delivery loop, the envelope and the signature, and knows no SQL.
package events
