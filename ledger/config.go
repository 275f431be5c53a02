package ledger

import (
	"errors"
	"fmt"
	"time"
)

// Backends understood by Open.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Config is the ledger's part of gavel's configuration.
type Config struct {
	// Driver is SQLite (default) or Postgres.
	Driver string
	// Path is the SQLite database file; its folder is created.
	Path string
	// DSN is the PostgreSQL connection string (URL or key=value form).
	DSN string
	// MaxConns bounds the connections to PostgreSQL, or the SQLite reader
	// connections (SQLite always has exactly one writer connection).
	// Default 10 for PostgreSQL, 4 for SQLite.
	MaxConns int
	// StrikeTTL is how long a strike counts. Default 90 days.
	StrikeTTL time.Duration
	// RecentWindow is how far back History looks for recent decisions.
	// Default 30 days.
	RecentWindow time.Duration
	// RecentLimit caps the recent decisions in History. Default 20.
	RecentLimit int
	// StoreInput keeps the account holder's claimed profile (names, email,
	// phone, date of birth) in the stored input document. When false the
	// record is stored without input.subject.profile. A bool cannot default
	// to true: start from DefaultConfig, which sets it.
	StoreInput bool
	// SQLiteSynchronous is SQLite's synchronous pragma: "normal" (default)
	// survives a crash of gavel's process; "full" also survives an OS crash
	// or power loss, at the cost of an fsync of the WAL on every commit.
	SQLiteSynchronous string
	// SQLiteCommitBatch is the most decisions the SQLite ledger commits in
	// one transaction (group commit: groupcommit.go); 1 commits each in a
	// transaction of its own. Default 64.
	SQLiteCommitBatch int
	// SQLitePlainRecords stores records on SQLite as plain JSON instead of
	// zstd-compressed JSON (recordcodec.go); either reads back the same.
	SQLitePlainRecords bool
	// ClearFor is how long an overturn clears the rules that fired in the
	// overturned decision, on their evidence, for the subject. Default 180
	// days (gavel sets it to the appeal window unless configured).
	ClearFor time.Duration
}

// DefaultConfig returns the built-in defaults: SQLite, input stored in full.
func DefaultConfig() Config {
	return Config{
		Driver:       SQLite,
		StrikeTTL:    90 * 24 * time.Hour,
		RecentWindow: 30 * 24 * time.Hour,
		RecentLimit:  20,
		StoreInput:   true,
		ClearFor:     180 * 24 * time.Hour,
	}
}

// withDefaults fills zero fields with the built-in defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Driver == "" {
		c.Driver = d.Driver
	}
	if c.MaxConns == 0 {
		c.MaxConns = 4
		if c.Driver == Postgres {
			c.MaxConns = 10
		}
	}
	if c.StrikeTTL == 0 {
		c.StrikeTTL = d.StrikeTTL
	}
	if c.RecentWindow == 0 {
		c.RecentWindow = d.RecentWindow
	}
	if c.RecentLimit == 0 {
		c.RecentLimit = d.RecentLimit
	}
	if c.SQLiteSynchronous == "" {
		c.SQLiteSynchronous = "normal"
	}
	if c.SQLiteCommitBatch == 0 {
		c.SQLiteCommitBatch = 64
	}
	if c.ClearFor == 0 {
		c.ClearFor = d.ClearFor
	}
	return c
}

// Validate reports every problem with the configuration at once.
func (c Config) Validate() error {
	var errs []error
	switch c.Driver {
	case SQLite, "":
		if c.Path == "" {
			errs = append(errs, errors.New("ledger: sqlite needs a path"))
		}
	case Postgres:
		if c.DSN == "" {
			errs = append(errs, errors.New("ledger: postgres needs a dsn"))
		}
	default:
		errs = append(errs, fmt.Errorf("ledger: unknown driver %q (want %q or %q)", c.Driver, SQLite, Postgres))
	}
	if s := c.SQLiteSynchronous; s != "" && s != "normal" && s != "full" {
		errs = append(errs, fmt.Errorf("ledger: sqlite synchronous %q (want normal or full)", c.SQLiteSynchronous))
	}
	if c.SQLiteCommitBatch < 0 {
		errs = append(errs, fmt.Errorf("ledger: sqlite commit batch %d is negative", c.SQLiteCommitBatch))
	}
	if c.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("ledger: max conns %d is negative", c.MaxConns))
	}
	if c.StrikeTTL < 0 {
		errs = append(errs, fmt.Errorf("ledger: strike ttl %v is negative", c.StrikeTTL))
	}
	if c.RecentWindow < 0 {
		errs = append(errs, fmt.Errorf("ledger: recent window %v is negative", c.RecentWindow))
	}
	if c.RecentLimit < 0 {
		errs = append(errs, fmt.Errorf("ledger: recent limit %d is negative", c.RecentLimit))
	}
	return errors.Join(errs...)
}

// groupCommit reports whether decisions commit through the SQLite group
// commit, whose writer also checkpoints the WAL (groupcommit/checkpoint.go).
func (c Config) groupCommit() bool { return c.Driver == SQLite && c.SQLiteCommitBatch > 1 }
