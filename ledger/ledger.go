package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/gavel/gavel/decision"
)

var _ decision.Ledger = (*Ledger)(nil)

// Ledger is the enforcement ledger on one database. It is safe for
// concurrent use.
//
// Both backends go through database/sql: PostgreSQL through pgx's stdlib
// adapter rather than pgxpool, so that one implementation of every query and
// transaction serves both dialects and one test suite proves them alike. The
// cost is pgx's native extras (batching, COPY), which the ledger's small
// statements do not need; pgx still caches prepared statements per
// connection.
type Ledger struct {
	cfg   Config
	d     *dialect
	q     *queries
	where string // "sqlite ledger \"path\"" or "postgres ledger \"dsn\"", password redacted
	log   *slog.Logger

	// w is the connection pool for writes, r for reads. On PostgreSQL they
	// are the same pool; on SQLite w has exactly one connection, so writers
	// queue in Go instead of meeting SQLITE_BUSY, and r has MaxConns
	// read-only connections that WAL lets read alongside the writer.
	w, r *sql.DB

	// hot are History's statements, prepared once on the read pool; put
	// are Commit's, on the write pool.
	hot       struct{ holds, strikes, recent, standing, cleared *sql.Stmt }
	byRequest *sql.Stmt // ByRequestID's, on the read pool
	put       struct {
		decision, reasonHit, hold, suspension, strike, lift *sql.Stmt
		versionLock, versionBump                            *sql.Stmt
		event                                               *sql.Stmt
	}

	// redone counts decisions made again at commit because the subject's
	// standing had changed since their history was read.
	redone atomic.Int64
	// subjects queues each subject's commits in this process.
	subjects subjectLocks
	// group commits decisions together on SQLite (groupcommit.go); nil
	// commits each alone.
	group *groupCommitter
	// outboxKick is signalled when events commit (EventsWritten).
	outboxKick chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the ledger described by cfg and applies
// the schema migrations. Zero fields of cfg take their defaults, except
// StoreInput (see DefaultConfig). A database that cannot be reached, opened
// or migrated is an error naming it, with any password redacted.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Ledger, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Ledger{cfg: cfg, log: log.With("ledger", cfg.Driver), outboxKick: make(chan struct{}, 1)}
	var err error
	switch cfg.Driver {
	case SQLite:
		l.where = fmt.Sprintf("sqlite ledger %q", cfg.Path)
		err = l.openSQLite(ctx)
	case Postgres:
		l.where = fmt.Sprintf("postgres ledger %q", RedactDSN(cfg.DSN))
		err = l.openPostgres(ctx)
	}
	if err == nil {
		err = l.migrate(ctx)
	}
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("open %s: %w", l.where, err)
	}
	l.q = newQueries(l.d)
	if err := l.prepare(ctx); err != nil {
		l.Close()
		return nil, fmt.Errorf("open %s: %w", l.where, err)
	}
	if cfg.groupCommit() {
		l.group = newGroupCommitter(l, cfg.SQLiteCommitBatch)
	}
	return l, nil
}

// prepare prepares the statements of History and Commit, which run on
// every decision's path; database/sql prepares them again on each
// connection that runs them.
func (l *Ledger) prepare(ctx context.Context) error {
	for _, s := range []struct {
		db  *sql.DB
		dst **sql.Stmt
		q   string
	}{
		{l.r, &l.hot.holds, l.q.activeHolds},
		{l.r, &l.hot.strikes, l.q.activeStrikes},
		{l.r, &l.hot.recent, l.q.recent},
		{l.r, &l.hot.standing, l.q.standing},
		{l.r, &l.hot.cleared, l.q.cleared},
		{l.r, &l.byRequest, l.q.recordByRequestID},
		{l.w, &l.put.decision, l.q.insertDecision},
		{l.w, &l.put.reasonHit, l.q.insertReasonHit},
		{l.w, &l.put.hold, l.q.insertHold},
		{l.w, &l.put.suspension, l.q.insertSuspension},
		{l.w, &l.put.strike, l.q.insertStrike},
		{l.w, &l.put.lift, l.q.liftRemedied},
		{l.w, &l.put.versionLock, l.q.subjectVersionLock},
		{l.w, &l.put.versionBump, l.q.subjectVersionBump},
		{l.w, &l.put.event, l.q.insertEvent},
	} {
		st, err := s.db.PrepareContext(ctx, s.q)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", s.q, err)
		}
		*s.dst = st
	}
	return nil
}

func (l *Ledger) openSQLite(ctx context.Context) error {
	l.d = sqliteDialect
	path := l.cfg.Path
	if strings.ContainsRune(path, '?') {
		return errors.New("sqlite path must not contain '?'")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("create folder: %w", err)
	}
	// WAL lets readers run alongside the one writer. synchronous=NORMAL in
	// WAL mode syncs the WAL at checkpoints, not at every commit: the
	// database cannot be corrupted, and a crash of gavel's process loses
	// nothing (committed pages are in the OS cache); only an OS crash or a
	// power cut may roll back the last commits. FULL would add an fsync to
	// every decision's reply path: ledger.sqlite.synchronous: full chooses
	// it, for a single node that must survive power loss with no lost
	// decision (or run on PostgreSQL).
	// busy_timeout covers other processes (a second gavel, the sqlite3
	// shell); within this process the single writer connection serialises
	// writers, and _txlock=immediate takes the write lock at BEGIN so a
	// transaction never fails upgrading a read lock.
	common := url.Values{
		"_busy_timeout": {"10000"},
		"_foreign_keys": {"1"},
		"_journal_mode": {"WAL"},
		"_synchronous":  {strings.ToUpper(l.cfg.SQLiteSynchronous)},
	}
	wq := cloneValues(common)
	wq.Set("_txlock", "immediate")
	// Group commit takes a savepoint per decision, so each page a decision
	// changes is first copied to the statement journal. SQLite keeps that
	// journal in memory up to 64 KiB and then spills it to a temporary
	// file, a write system call per page; a batch passes that size. In
	// memory the journal is a few hundred KiB at most (a batch is bounded)
	// and is dropped at COMMIT.
	wq.Add("_pragma", "temp_store(MEMORY)")
	if l.cfg.groupCommit() {
		// The group commit's writer checkpoints from a connection of its
		// own, off the decisions' path (groupcommit/checkpoint.go).
		wq.Add("_pragma", "wal_autocheckpoint(0)")
	}
	w, err := sql.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		return err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	l.w = w
	if err := w.PingContext(ctx); err != nil {
		return err
	}
	// Touch the file so a corrupt one fails now, not on the first decision.
	var n int
	if err := w.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
		return err
	}

	rq := cloneValues(common)
	rq.Set("_query_only", "1")
	// The readers' page caches are 256 KiB, not 2 MiB: the writer commits
	// every few milliseconds under load, and a WAL reader drops its cache
	// whenever another connection has committed since its last read, so a
	// larger one mostly holds memory (see groupcommit.OpenStore). The
	// writer keeps SQLite's default; nothing else commits to clear it.
	rq.Add("_pragma", "cache_size(-256)")
	r, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		return err
	}
	r.SetMaxOpenConns(l.cfg.MaxConns)
	r.SetMaxIdleConns(l.cfg.MaxConns)
	r.SetConnMaxIdleTime(0)
	r.SetConnMaxLifetime(0)
	l.r = r
	return r.PingContext(ctx)
}

func (l *Ledger) openPostgres(ctx context.Context) error {
	l.d = postgresDialect
	pc, err := pgx.ParseConfig(l.cfg.DSN)
	if err != nil {
		// pgx's parse errors may quote the connection string; keep them out.
		return errors.New("cannot parse the connection string")
	}
	db := stdlib.OpenDB(*pc)
	db.SetMaxOpenConns(l.cfg.MaxConns)
	db.SetMaxIdleConns(l.cfg.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(time.Hour)
	l.w, l.r = db, db
	return db.PingContext(ctx)
}

func cloneValues(v url.Values) url.Values {
	c := make(url.Values, len(v)+1)
	for k, s := range v {
		c[k] = append([]string(nil), s...)
	}
	return c
}

// GroupCommits reports how many transactions the SQLite group commit has
// committed and how many decisions they held (both 0 when decisions commit
// alone).
func (l *Ledger) GroupCommits() (transactions, decisions int64) {
	if l.group == nil {
		return 0, 0
	}
	return l.group.w.Stats()
}

// Checkpoints reports the SQLite group commit's WAL checkpoints: those run
// in the background that copied pages, the writer's catch-ups after them,
// and those that failed (all 0 when decisions commit alone).
func (l *Ledger) Checkpoints() (background, catchUps, failures int64) {
	if l.group == nil {
		return 0, 0, 0
	}
	return l.group.w.Checkpoints()
}

// GroupCommitted reports whether decisions commit through the SQLite
// group commit (GroupCommits, CommitsWaiting).
func (l *Ledger) GroupCommitted() bool { return l.group != nil }

// CommitsWaiting reports how many decisions are with the SQLite group
// commit's writer or waiting for it (0 when decisions commit alone).
func (l *Ledger) CommitsWaiting() int64 {
	if l.group == nil {
		return 0
	}
	return l.group.w.Pending()
}

// Backend names the database: "sqlite" or "postgres".
func (l *Ledger) Backend() string { return l.cfg.Driver }

// Config returns the configuration the ledger was opened with, defaults
// applied. It holds the DSN: do not log it without RedactDSN.
func (l *Ledger) Config() Config { return l.cfg }

// Ping checks that the database answers.
func (l *Ledger) Ping(ctx context.Context) error {
	if err := l.r.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", l.where, err)
	}
	if l.w != l.r {
		if err := l.w.PingContext(ctx); err != nil {
			return fmt.Errorf("ping %s: %w", l.where, err)
		}
	}
	return nil
}

// Close closes the database. It is safe to call more than once.
func (l *Ledger) Close() error {
	l.closeOnce.Do(func() {
		if l.group != nil {
			l.group.close() // the batch being written ends first
		}
		var errs []error
		for _, st := range []*sql.Stmt{l.hot.holds, l.hot.strikes, l.hot.recent, l.hot.standing, l.hot.cleared,
			l.put.decision, l.put.reasonHit, l.put.hold, l.put.suspension, l.put.strike, l.put.lift,
			l.put.versionLock, l.put.versionBump, l.put.event, l.byRequest} {
			if st != nil {
				errs = append(errs, st.Close())
			}
		}
		if l.r != nil && l.r != l.w {
			errs = append(errs, l.r.Close())
		}
		if l.w != nil {
			errs = append(errs, l.w.Close())
		}
		if err := errors.Join(errs...); err != nil {
			l.closeErr = fmt.Errorf("close %s: %w", l.where, err)
		}
	})
	return l.closeErr
}
