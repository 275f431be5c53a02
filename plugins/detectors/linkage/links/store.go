package links

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/gavel/gavel/ledger/groupcommit"
	"github.com/gavel/gavel/plugins/sdk"
)

// Kinds of identifier that link accounts. They appear in evidence ("via").
const (
	KindDevice   = "device"
	KindPayout   = "payout"
	KindDocument = "document"
)

// Store keeps which accounts used which identifiers, and which accounts are
// suspended, in SQLite (one gavel) or PostgreSQL (several replicas sharing
// it), with the same schema and queries. Identifiers are stored as keyed
// hashes (see Hasher); account ids are stored as the caller sent them, since
// reviewers need them to follow a link (see the package comment).
type Store struct {
	db       *sql.DB
	postgres bool
	where    string // for errors: the SQLite path or "postgres"
	// w runs this process's SQLite writes one at a time, several to a
	// transaction when they arrive together (see groupcommit): SQLite's busy
	// handler would make a waiting writer sleep (for up to 100 ms a turn),
	// far past the detector's budget when many decisions link at once, and
	// each call's own COMMIT was most of its cost. Other processes on the
	// file still wait on busy_timeout. Nil on PostgreSQL, where row and
	// advisory locks order the writers.
	w *groupcommit.Writer
	// prepared are the statements of every Link, and Flag's, prepared once
	// (SQLite; pgx prepares and caches them itself on PostgreSQL).
	prepared struct{ linked, upsert, account, flag *sql.Stmt }
}

// prepare prepares the SQLite statements of Link.
func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{{&s.prepared.linked, linkedQuery}, {&s.prepared.upsert, upsertStatement}, {&s.prepared.account, recordAccountStatement},
		{&s.prepared.flag, flagStatement}} {
		var err error
		if *p.stmt, err = s.db.PrepareContext(ctx, p.query); err != nil {
			return fmt.Errorf("linkage store %s: prepare: %w", s.where, err)
		}
	}
	return nil
}

// exec runs query in tx, as its prepared statement when there is one.
func (s *Store) exec(ctx context.Context, tx *sql.Tx, prepared *sql.Stmt, query string, args ...any) error {
	var err error
	if prepared != nil {
		_, err = tx.StmtContext(ctx, prepared).ExecContext(ctx, args...)
	} else {
		_, err = tx.ExecContext(ctx, s.q(query), args...)
	}
	return err
}

// write runs fn as a write transaction: on SQLite through the store's
// group commit, on PostgreSQL in a transaction of its own.
func (s *Store) write(ctx context.Context, fn groupcommit.Write) error {
	if s.w != nil {
		return s.w.Do(ctx, fn)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// execWrite runs one writing statement, as its prepared statement when
// there is one: on SQLite through the store's group commit, on PostgreSQL
// on its own.
func (s *Store) execWrite(ctx context.Context, prepared *sql.Stmt, query string, args ...any) error {
	if s.w == nil {
		_, err := s.db.ExecContext(ctx, s.q(query), args...)
		return err
	}
	return s.w.Do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return s.exec(ctx, tx, prepared, query, args...)
	})
}

// The schema, identical on both backends. Times are Unix nanoseconds.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS linkage_links (
		kind       TEXT   NOT NULL,
		key        TEXT   NOT NULL,
		account    TEXT   NOT NULL,
		first_seen BIGINT NOT NULL,
		last_seen  BIGINT NOT NULL,
		PRIMARY KEY (kind, key, account)
	)`,
	`CREATE INDEX IF NOT EXISTS linkage_links_account ON linkage_links (account)`,
	`CREATE TABLE IF NOT EXISTS linkage_suspensions (
		account     TEXT   NOT NULL,
		decision_id TEXT   NOT NULL,
		at          BIGINT NOT NULL,
		PRIMARY KEY (account, decision_id)
	)`,
}

// migrationLock is the PostgreSQL advisory lock that serialises schema
// creation by replicas starting at once (CREATE … IF NOT EXISTS races).
const migrationLock = 0x6c696e6b // "link"

// OpenSQLite opens (creating if needed) the store in the SQLite file at path.
func OpenSQLite(ctx context.Context, path string) (*Store, error) {
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("linkage store path %q must not contain '?'", path)
	}
	db, err := groupcommit.OpenStore(path)
	if err != nil {
		return nil, fmt.Errorf("open linkage store %s: %w", path, err)
	}
	s := &Store{db: db, where: path}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		db.Close()
		return nil, err
	}
	s.w = groupcommit.New(db, groupcommit.Options{Checkpoint: path})
	return s, nil
}

// OpenPostgres opens the store in the PostgreSQL database at dsn (a URL or
// libpq key=value string), creating its tables when missing.
func OpenPostgres(ctx context.Context, dsn string) (*Store, error) {
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors may quote the connection string, password included.
		return nil, errors.New("linkage store: POSTGRES_DSN is not a valid PostgreSQL connection string")
	}
	db := stdlib.OpenDB(*pc)
	db.SetMaxOpenConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{db: db, postgres: true, where: "postgres " + pc.Host + "/" + pc.Database}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("linkage store %s: %w", s.where, err)
	}
	defer tx.Rollback()
	if s.postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return fmt.Errorf("linkage store %s: lock for schema creation: %w", s.where, err)
		}
	}
	for _, stmt := range slices.Concat(schema, accountSchema) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("linkage store %s: create schema: %w", s.where, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("linkage store %s: create schema: %w", s.where, err)
	}
	return nil
}

// Close closes the store once the writes being committed have committed.
func (s *Store) Close() error {
	if s.w != nil {
		s.w.Close()
	}
	return s.db.Close()
}

// q rewrites a query's ? placeholders as $1, $2, … for PostgreSQL. The
// queries below contain no other question marks.
func (s *Store) q(query string) string {
	if !s.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Key is one hashed identifier of an account.
type Key struct {
	Kind string
	Hash string
}

// Linked is another account sharing a key.
type Linked struct {
	Account   string
	Suspended bool
}

// maxLinked bounds how many other accounts one key reports; a key shared by
// more is reported as shared by maxLinked (enough for any policy threshold).
const maxLinked = 1000

// Link records, unless record is false (a dry run), that account used keys at
// at, with its facts when given, and returns for each key the other accounts that used it since since,
// most recent first, each marked when suspended.
//
// A recorded Link is written whatever becomes of ctx: it runs on its own
// context (sdk.Record), so a call whose answer is too late for the host still
// leaves its link behind for the next decision. It runs in one transaction
// (on SQLite perhaps shared with the calls that arrived with it, each in its
// turn: see groupcommit), and the transactions recording a key run one after
// another, on one store handle or many (SQLite: BEGIN IMMEDIATE; PostgreSQL:
// an advisory lock per key), so the n-th account to use a key sees exactly the n-1 before it, and
// any call sees every recording call that reached the store before it.
func (s *Store) Link(ctx context.Context, account string, keys []Key, at, since time.Time, record bool, facts *NewFacts) ([][]Linked, error) {
	if !record {
		return s.link(ctx, account, keys, at, since, false, nil)
	}
	return sdk.Record(ctx, sdk.RecordTimeout, func(ctx context.Context) ([][]Linked, error) {
		return s.link(ctx, account, keys, at, since, true, facts)
	})
}

// NewFacts are an account's facts for the household table, recorded by a
// recording Link in its transaction (recordAccountStatement).
type NewFacts struct {
	FamilyHash string
	CreatedAt  time.Time // zero: not said
}

// linkedQuery reads the other accounts on one key.
var linkedQuery = `SELECT l.account, EXISTS (SELECT 1 FROM linkage_suspensions s WHERE s.account = l.account)
		FROM linkage_links l
		WHERE l.kind = ? AND l.key = ? AND l.account <> ? AND l.last_seen > ?
		ORDER BY l.last_seen DESC, l.account LIMIT ` + strconv.Itoa(maxLinked)

func (s *Store) link(ctx context.Context, account string, keys []Key, at, since time.Time, record bool, facts *NewFacts) ([][]Linked, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	if s.postgres {
		return s.linkPipelined(ctx, account, keys, at, since, record, facts)
	}
	out := make([][]Linked, len(keys))
	err := s.w.Do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		// A dry run takes the write turn too: like any call, it waits for
		// the recording calls before it, and sees their links.
		if record {
			if facts != nil {
				if err := s.exec(ctx, tx, s.prepared.account, recordAccountStatement, recordAccountArgs(account, facts.FamilyHash, facts.CreatedAt)...); err != nil {
					return fmt.Errorf("record account: %w", err)
				}
			}
			if err := s.upsert(ctx, tx, account, keys, at); err != nil {
				return err
			}
		}
		linked := tx.StmtContext(ctx, s.prepared.linked)
		for i, k := range keys {
			rows, err := linked.QueryContext(ctx, k.Kind, k.Hash, account, since.UnixNano())
			if err != nil {
				return fmt.Errorf("read links: %w", err)
			}
			for rows.Next() {
				var l Linked
				if err := rows.Scan(&l.Account, &l.Suspended); err != nil {
					rows.Close()
					return fmt.Errorf("read links: %w", err)
				}
				out[i] = append(out[i], l)
			}
			if err := rows.Close(); err != nil {
				return fmt.Errorf("read links: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("linkage store: %w", err)
	}
	return out, nil
}

// linkPipelined is link on PostgreSQL in one round trip: the key locks, the
// upserts and the reads go out as one pgx batch, which the server runs as one
// implicit transaction (rolled back whole on any error) and each statement of
// which reads afresh, after the locks are held. The locks are thus held for
// the server's own work, not for the network round trips of a transaction
// driven statement by statement: that is what bounds a burst on one key.
func (s *Store) linkPipelined(ctx context.Context, account string, keys []Key, at, since time.Time, record bool, facts *NewFacts) ([][]Linked, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("linkage store: connect: %w", err)
	}
	defer conn.Close()
	out := make([][]Linked, len(keys))
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		b := &pgx.Batch{}
		lockSQL, lockArgs := lockStatement(keys)
		b.Queue(lockSQL, lockArgs...)
		withFacts := record && facts != nil
		if withFacts {
			b.Queue(s.q(recordAccountStatement), recordAccountArgs(account, facts.FamilyHash, facts.CreatedAt)...)
		}
		if record {
			for _, k := range keys {
				b.Queue(s.q(upsertStatement), k.Kind, k.Hash, account, at.UnixNano(), at.UnixNano())
			}
		}
		query := s.q(linkedQuery)
		for _, k := range keys {
			b.Queue(query, k.Kind, k.Hash, account, since.UnixNano())
		}
		br := pc.SendBatch(ctx, b)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("linkage store: lock keys: %w", err)
		}
		if withFacts {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("linkage store: record account: %w", err)
			}
		}
		if record {
			for range keys {
				if _, err := br.Exec(); err != nil {
					return fmt.Errorf("record link: %w", err)
				}
			}
		}
		for i := range keys {
			rows, err := br.Query()
			if err != nil {
				return fmt.Errorf("linkage store: read links: %w", err)
			}
			for rows.Next() {
				var l Linked
				if err := rows.Scan(&l.Account, &l.Suspended); err != nil {
					rows.Close()
					return fmt.Errorf("linkage store: read links: %w", err)
				}
				out[i] = append(out[i], l)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("linkage store: read links: %w", err)
			}
		}
		if err := br.Close(); err != nil {
			return fmt.Errorf("linkage store: commit: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// linkLockClass is the first half of the PostgreSQL advisory locks taken on
// keys (pg_advisory_xact_lock(int4, int4) locks are apart from the one-bigint
// locks that the schema creation and gavel's ledger take).
const linkLockClass = 0x6c6e6b00 // "lnk\0"

// lock serialises, on PostgreSQL, the transactions that record the same
// keys: under READ COMMITTED two concurrent ones would otherwise each miss
// the other's uncommitted link. The lock is held until commit, and every
// statement after it reads afresh, so the next holder sees this one's link.
// Keys are locked in one order (their lock ids sorted) so that two accounts
// sharing two keys cannot deadlock. Two keys whose 32-bit ids collide merely
// wait for each other. SQLite needs none: BEGIN IMMEDIATE already
// serialises every writer.
func (s *Store) lock(ctx context.Context, tx *sql.Tx, keys []Key) error {
	if !s.postgres || len(keys) == 0 {
		return nil
	}
	q, args := lockStatement(keys)
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("lock keys: %w", err)
	}
	return nil
}

// lockStatement is the statement taking the locks of keys, in order.
func lockStatement(keys []Key) (string, []any) {
	ids := make([]int32, len(keys))
	for i, k := range keys {
		h := fnv.New32a()
		h.Write([]byte(k.Kind))
		h.Write([]byte{0})
		h.Write([]byte(k.Hash))
		ids[i] = int32(h.Sum32())
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var q strings.Builder
	args := []any{int32(linkLockClass)}
	q.WriteString("SELECT ")
	for i, id := range ids {
		if i > 0 {
			q.WriteString(", ")
		}
		fmt.Fprintf(&q, "pg_advisory_xact_lock($1, $%d)", i+2) // evaluated left to right
		args = append(args, id)
	}
	return q.String(), args
}

// upsertStatement records one link, or moves its last_seen forward.
const upsertStatement = `INSERT INTO linkage_links (kind, key, account, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (kind, key, account) DO UPDATE SET last_seen = excluded.last_seen
		WHERE linkage_links.last_seen < excluded.last_seen`

func (s *Store) upsert(ctx context.Context, tx *sql.Tx, account string, keys []Key, at time.Time) error {
	for _, k := range keys {
		if err := s.exec(ctx, tx, s.prepared.upsert, upsertStatement, k.Kind, k.Hash, account, at.UnixNano(), at.UnixNano()); err != nil {
			return fmt.Errorf("record link: %w", err)
		}
	}
	return nil
}

// Suspend records that decision suspended account, and the keys the account
// used in it (in case its own Detect was missed). Idempotent.
func (s *Store) Suspend(ctx context.Context, account, decisionID string, keys []Key, at time.Time) error {
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := s.lock(ctx, tx, keys); err != nil {
			return err
		}
		if err := s.upsert(ctx, tx, account, keys, at); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO linkage_suspensions (account, decision_id, at) VALUES (?, ?, ?)
			ON CONFLICT (account, decision_id) DO NOTHING`), account, decisionID, at.UnixNano()); err != nil {
			return fmt.Errorf("record suspension: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("linkage store: %w", err)
	}
	return nil
}

// Unsuspend forgets the suspension of account by decision (it was
// overturned). The account stays suspended if another decision suspended it.
func (s *Store) Unsuspend(ctx context.Context, account, decisionID string) error {
	if err := s.execWrite(ctx, nil, `DELETE FROM linkage_suspensions WHERE account = ? AND decision_id = ?`,
		account, decisionID); err != nil {
		return fmt.Errorf("linkage store: forget suspension: %w", err)
	}
	return nil
}

// Suspended reports whether account is suspended.
func (s *Store) Suspended(ctx context.Context, account string) (bool, error) {
	var ok bool
	err := s.db.QueryRowContext(ctx, s.q(`SELECT EXISTS (SELECT 1 FROM linkage_suspensions WHERE account = ?)`), account).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("linkage store: read suspension: %w", err)
	}
	return ok, nil
}
