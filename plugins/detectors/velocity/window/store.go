package window

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/gavel/gavel/ledger/groupcommit"
)

// Store keeps timestamped events in SQLite (WAL) so that counts survive a
// restart. Keys and members are stored as hashes: the file holds no IP
// address, device id or account id in the clear.
type Store struct {
	db                           *sql.DB
	insert, count, countDistinct *sql.Stmt
	// w runs this process's calls one at a time, several to a transaction
	// when they arrive together (see groupcommit): SQLite's busy handler
	// would make a waiting writer sleep (for up to 100 ms a turn), far past
	// the detector's budget when many decisions count at once, and each
	// call's own COMMIT was most of its cost. Other processes on the file
	// still wait on busy_timeout.
	w *groupcommit.Writer
}

const schema = `
CREATE TABLE IF NOT EXISTS events (
	key    TEXT    NOT NULL,
	member TEXT    NOT NULL DEFAULT '',
	at     INTEGER NOT NULL -- Unix nanoseconds
) STRICT;
-- (key, at, member) answers every count from the index alone.
CREATE INDEX IF NOT EXISTS events_key_at_member ON events (key, at, member);
DROP INDEX IF EXISTS events_key_at;
CREATE INDEX IF NOT EXISTS events_at ON events (at);`

// Open opens (creating if needed) the store in the SQLite file at path.
func Open(path string) (*Store, error) {
	db, err := groupcommit.OpenStore(path)
	if err != nil {
		return nil, fmt.Errorf("open velocity store %s: %w", path, err)
	}
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create velocity store schema in %s: %w", path, err)
	}
	s := &Store{db: db}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{{&s.insert, insertEvent}, {&s.count, countEvents}, {&s.countDistinct, countMembers}} {
		if *p.stmt, err = db.Prepare(p.sql); err != nil {
			db.Close()
			return nil, fmt.Errorf("prepare velocity store statement in %s: %w", path, err)
		}
	}
	s.w = groupcommit.New(db, groupcommit.Options{Checkpoint: path})
	return s, nil
}

// Close closes the store once the calls being written have committed.
func (s *Store) Close() error {
	s.w.Close()
	return s.db.Close()
}

// The store's statements, prepared once. ?1 key, ?2 the window's start
// (exclusive), ?3 the most rows to read, ?4 the current event's member
// (distinct counts only), ?5 whether it is recorded (in the table already)
// or only counted here (a dry run). No upper bound on the time: an event
// recorded before this one with a later time (its decision started later,
// and overtook this one) is counted too. The limit bounds the work of a
// count whatever the number of events under the key (Query.Limit).
const (
	insertEvent = `INSERT INTO events (key, member, at) VALUES (?, ?, ?)`
	countEvents = `SELECT COUNT(*) FROM (
		SELECT 1 FROM events WHERE key = ?1 AND at > ?2
		UNION ALL SELECT 1 WHERE NOT ?5
		LIMIT ?3)`
	countMembers = `SELECT COUNT(*) FROM (
		SELECT DISTINCT member FROM (SELECT member FROM events WHERE key = ?1 AND at > ?2
			UNION ALL SELECT ?4 WHERE NOT ?5) LIMIT ?3)`
)

// Query asks how many events under Key fall in the Window ending at the
// observation's time, the observed event included. With Distinct it counts
// distinct members instead (accounts per device). A count may stop at Limit
// (when positive): a store need not read further.
type Query struct {
	Key      string
	Member   string
	Distinct bool
	Window   time.Duration
	Limit    int
}

// Observe implements Counter, in a transaction of its own or in one shared
// with the calls that arrived with it (groupcommit), each call in turn.
// BEGIN IMMEDIATE (the _txlock of Open) takes SQLite's write lock first, so
// calls, from any connection or process on the file, run one after
// another: each sees every event recorded before it, whatever their times,
// and none after.
func (s *Store) Observe(ctx context.Context, at time.Time, record bool, qs []Query) ([]int, error) {
	now := at.UnixNano()
	counts := make([]int, len(qs))
	keys := make([][2]string, len(qs)) // hashed outside the writer's turn
	for i, q := range qs {
		keys[i][0] = hash(q.Key)
		if q.Member != "" {
			keys[i][1] = hash(q.Member)
		}
	}
	err := s.w.Do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for i, q := range qs {
			key, member := keys[i][0], keys[i][1]
			if record {
				if _, err := tx.StmtContext(ctx, s.insert).ExecContext(ctx, key, member, now); err != nil {
					return fmt.Errorf("record velocity event: %w", err)
				}
			}
			count, limit := s.count, int64(q.Limit)
			if q.Distinct {
				count = s.countDistinct
			}
			if limit <= 0 {
				limit = -1 // SQLite: no limit
			}
			if err := tx.StmtContext(ctx, count).QueryRowContext(ctx, key, now-q.Window.Nanoseconds(), limit, member, record).Scan(&counts[i]); err != nil {
				return fmt.Errorf("count velocity events: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("velocity store: %w", err)
	}
	return counts, nil
}

// Prune deletes the events at or before before and returns how many.
func (s *Store) Prune(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM events WHERE at <= ?`, before.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("prune velocity events: %w", err)
	}
	return res.RowsAffected()
}

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:16])
}
