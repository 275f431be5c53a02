package window

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Store keeps timestamped events in SQLite (WAL) so that counts survive a
// restart. Keys and members are stored as hashes: the file holds no IP
// address, device id or account id in the clear.
type Store struct {
	db *sql.DB
}

const schema = `
CREATE TABLE IF NOT EXISTS events (
	key    TEXT    NOT NULL,
	member TEXT    NOT NULL DEFAULT '',
	at     INTEGER NOT NULL -- Unix nanoseconds
) STRICT;
CREATE INDEX IF NOT EXISTS events_key_at ON events (key, at);
CREATE INDEX IF NOT EXISTS events_at ON events (at);`

// Open opens (creating if needed) the store in the SQLite file at path.
func Open(path string) (*Store, error) {
	q := url.Values{}
	q.Set("_txlock", "immediate") // BEGIN takes the write lock; other writers wait on busy_timeout
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open velocity store %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create velocity store schema in %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Query asks how many events under Key fall in the Window ending at the
// observation's time, the observed event included. With Distinct it counts
// distinct members instead (accounts per device).
type Query struct {
	Key      string
	Member   string
	Distinct bool
	Window   time.Duration
}

// Observe implements Counter in one transaction per call. BEGIN IMMEDIATE
// (the _txlock of Open) takes SQLite's write lock first, so calls, from any
// connection or process on the file, run one after another: each sees every
// event recorded before it, whatever their times, and none after.
func (s *Store) Observe(ctx context.Context, at time.Time, record bool, qs []Query) ([]int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin velocity transaction: %w", err)
	}
	defer tx.Rollback()
	now := at.UnixNano()
	counts := make([]int, len(qs))
	for i, q := range qs {
		key, member := hash(q.Key), ""
		if q.Member != "" {
			member = hash(q.Member)
		}
		if record {
			if _, err := tx.ExecContext(ctx, `INSERT INTO events (key, member, at) VALUES (?, ?, ?)`, key, member, now); err != nil {
				return nil, fmt.Errorf("record velocity event: %w", err)
			}
		}
		// The current event is in the table when recorded; otherwise it is
		// added to the counted rows here. No upper bound on the time: an
		// event recorded before this one with a later time (its decision
		// started later, and overtook this one) is counted too.
		count := `SELECT COUNT(*) FROM (
			SELECT member FROM events WHERE key = ?1 AND at > ?2
			UNION ALL SELECT ?3 WHERE NOT ?4)`
		if q.Distinct {
			count = `SELECT COUNT(DISTINCT member) FROM (
			SELECT member FROM events WHERE key = ?1 AND at > ?2
			UNION ALL SELECT ?3 WHERE NOT ?4)`
		}
		if err := tx.QueryRowContext(ctx, count, key, now-q.Window.Nanoseconds(), member, record).Scan(&counts[i]); err != nil {
			return nil, fmt.Errorf("count velocity events: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit velocity transaction: %w", err)
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
