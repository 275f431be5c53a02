package events

import (
	"context"
	"errors"
	"time"
)

// Delivery states.
const (
	StatePending   = "pending"
	StateDelivered = "delivered"
	StateDead      = "dead"
)

// ErrNotFound is returned when a dead letter to redrive does not exist.
var ErrNotFound = errors.New("delivery not found")

// Delivery is one event on its way to one endpoint, leased to this replica.
type Delivery struct {
	Endpoint string
	Event    Event
	// Attempts made before this one.
	Attempts int
	// Lease identifies this replica's lease; a result is recorded only
	// under the lease it was claimed with.
	Lease string
}

// Outcome is the result of one attempt to deliver.
type Outcome struct {
	Endpoint string
	Seq      int64
	Lease    string
	// Attempts made, this one included.
	Attempts int
	// Delivered is true when the endpoint answered 2xx.
	Delivered bool
	// Dead gives up on the delivery (Attempts reached the maximum).
	Dead bool
	// NextAt is when to try again (neither Delivered nor Dead).
	NextAt time.Time
	// Status is the HTTP status, 0 when there was no answer.
	Status int
	Error  string
	At     time.Time
}

// Letter is a delivery as operators see it: a dead letter, or one pending.
type Letter struct {
	Endpoint  string
	Event     Event
	State     string
	Attempts  int
	NextAt    time.Time
	LastError string
	// LastStatus is the last answer's HTTP status, 0 when there was none.
	LastStatus int
	UpdatedAt  time.Time
}

// EndpointStats counts an endpoint's deliveries across every replica.
type EndpointStats struct {
	Endpoint string
	// Pending: waiting, or in flight, or waiting to be retried.
	Pending int64
	// Delivered: delivered, counted as each was.
	Delivered int64
	// Failed: attempts that failed (each retry counts).
	Failed int64
	// Dead: given up on, not redriven.
	Dead int64
	// OldestPending is the commit time of the oldest pending event; zero
	// when none is pending.
	OldestPending time.Time
}

// Stats is the outbox as a whole.
type Stats struct {
	// Unrouted events have not yet been given their deliveries.
	Unrouted  int64
	Endpoints []EndpointStats
}

// Exchange is one round of an endpoint's delivery loop: route what is new
// (with Routes), record Outcomes, then claim up to Claim deliveries to
// Endpoint leased until Now+Lease.
type Exchange struct {
	Endpoint string
	Routes   func(typ string) []string
	Outcomes []Outcome
	Claim    int
	Now      time.Time
	Lease    time.Duration
}

// LetterFilter selects deliveries for operators.
type LetterFilter struct {
	Endpoint string // "" every endpoint
	State    string // StateDead (default) or StatePending
	Subject  string // "" every subject
	// After pages: deliveries after this (endpoint, seq).
	AfterEndpoint string
	AfterSeq      int64
	Limit         int
}

// Store is the outbox and the deliveries' state: the ledger implements it
// on SQLite and PostgreSQL.
type Store interface {
	// Route gives each event not yet routed, oldest first and at most
	// limit of them, one pending delivery per endpoint that routes names
	// for its type, and returns how many events it routed. On PostgreSQL
	// one replica routes at a time; the others return 0.
	Route(ctx context.Context, routes func(typ string) []string, limit int, now time.Time) (int, error)
	// Claim leases up to limit deliveries to endpoint that are due at now
	// and are the oldest pending delivery of their subject, until
	// now+lease, oldest first.
	Claim(ctx context.Context, endpoint string, limit int, now time.Time, lease time.Duration) ([]Delivery, error)
	// Record stores the outcomes of attempts, each only if its lease is
	// still the delivery's.
	Record(ctx context.Context, outcomes []Outcome) error
	// Exchange is Route, Record and Claim in one transaction: the
	// delivery loop's round.
	Exchange(ctx context.Context, x Exchange) ([]Delivery, error)
	// SweepExpired writes, for every hold and suspension that ran out by
	// now and has not had one yet, its expiry event (at most limit
	// subjects per call), and returns how many events it wrote.
	SweepExpired(ctx context.Context, now time.Time, limit int) (int, error)
	// Stats counts the outbox and each endpoint's deliveries.
	Stats(ctx context.Context) (Stats, error)
	// Letters lists deliveries (dead letters by default), oldest first.
	Letters(ctx context.Context, f LetterFilter) ([]Letter, error)
	// Redrive makes dead deliveries pending again, with their attempts
	// reset, due at now: of endpoint ("" every endpoint), the given event
	// sequence numbers (none: every dead delivery). It returns how many.
	Redrive(ctx context.Context, endpoint string, seqs []int64, now time.Time) (int, error)
	// Prune deletes deliveries delivered before before, then events from
	// before before that no delivery names any more (at most limit of
	// each), and returns how many rows it deleted.
	Prune(ctx context.Context, before time.Time, limit int) (int, error)
}
