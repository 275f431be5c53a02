package lists

import (
	"context"
	"errors"
	"time"
)

var (
	// ErrNotFound is returned for an unknown list.
	ErrNotFound = errors.New("list not found")
	// ErrExists is returned when creating a list whose name is taken.
	ErrExists = errors.New("list already exists")
)

// List is a list's definition.
type List struct {
	ID      int64
	Name    string
	Kind    Kind
	Purpose Purpose
	// Action is what a hit on a block list does (warn, challenge,
	// restrict, suspend); it comes
	// from the operator, so the policy does not cap it as it caps caller
	// signals.
	Action string
	// Exempts are the reason codes a hit on an allow list exempts.
	Exempts     []string
	Description string
	CreatedBy   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// Entries is the number of entries, expired ones included; filled in
	// by GetList and Lists.
	Entries int64
}

// Entry is one value of a list, by its stored key.
type Entry struct {
	// Key is the normalised value, or "hmac:<hex>" for personal kinds.
	Key     string
	Note    string
	AddedBy string
	AddedAt time.Time
	// ExpiresAt is zero for an entry that never expires.
	ExpiresAt time.Time
}

// Op is a kind of change.
type Op string

// The changes a list goes through.
const (
	OpCreate Op = "create"
	OpAdd    Op = "add"
	OpRemove Op = "remove"
	OpImport Op = "import"
)

// Change is one audited change: who, when, what. Changes are numbered in
// commit order; the matcher follows them.
type Change struct {
	Seq       int64
	At        time.Time
	Actor     string
	ListID    int64
	ListName  string
	Op        Op
	Key       string // add, remove
	Note      string // add
	ExpiresAt time.Time
	Detail    string // import: how many entries, from where
}

// Store keeps lists, their entries and the audit trail of changes (the
// ledger implements it on SQLite and PostgreSQL). Every method that changes
// something writes its Change rows in the same transaction, numbered in
// commit order.
type Store interface {
	// CreateList stores a new list, or ErrExists.
	CreateList(ctx context.Context, l List, actor string, at time.Time) (List, error)
	// GetList returns a list by name, or ErrNotFound.
	GetList(ctx context.Context, name string) (List, error)
	// Lists returns every list, by name.
	Lists(ctx context.Context) ([]List, error)
	// PutEntries adds or replaces entries of a list. With op OpAdd each
	// entry is one change; with OpImport the whole batch is one change
	// whose detail is given.
	PutEntries(ctx context.Context, l List, entries []Entry, op Op, detail, actor string, at time.Time) error
	// RemoveEntries removes entries by key and returns how many existed.
	RemoveEntries(ctx context.Context, l List, keys []string, actor string, at time.Time) (int, error)
	// Entries returns up to limit entries of a list by key, after the key
	// after ("" for the first).
	Entries(ctx context.Context, listID int64, after string, limit int) ([]Entry, error)
	// Changes returns up to limit changes after seq, in order.
	Changes(ctx context.Context, afterSeq int64, limit int) ([]Change, error)
	// LastChange returns the number of the latest change, 0 when none.
	LastChange(ctx context.Context) (int64, error)
	// ListChanges returns the audit trail of one list, newest first, before
	// seq (0: from the newest), up to limit.
	ListChanges(ctx context.Context, listID int64, beforeSeq int64, limit int) ([]Change, error)
}
