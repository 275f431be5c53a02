package groupcommit

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

func openStore(t *testing.T) *sql.DB {
	t.Helper()
	db, err := OpenStore(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Every connection OpenStore hands out has the store's settings, and its
// pool keeps the connections it opened.
func TestOpenStoreSettings(t *testing.T) {
	db := openStore(t)
	ctx := context.Background()
	// Hold every connection at once, so each is asked.
	for i := range StoreConns {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var journal string
		var cache, sync, busy, autocheckpoint int
		for _, q := range []struct {
			pragma string
			into   any
		}{{"journal_mode", &journal}, {"cache_size", &cache}, {"synchronous", &sync}, {"busy_timeout", &busy}, {"wal_autocheckpoint", &autocheckpoint}} {
			if err := c.QueryRowContext(ctx, "PRAGMA "+q.pragma).Scan(q.into); err != nil {
				t.Fatalf("connection %d: PRAGMA %s: %v", i, q.pragma, err)
			}
		}
		if journal != "wal" || cache != -256 || sync != 1 || busy != 5000 || autocheckpoint != 0 {
			t.Errorf("connection %d: journal_mode %s, cache_size %d, synchronous %d, busy_timeout %d, wal_autocheckpoint %d; want wal, -256, 1 (NORMAL), 5000, 0",
				i, journal, cache, sync, busy, autocheckpoint)
		}
	}
	if s := db.Stats(); s.MaxOpenConnections != StoreConns {
		t.Errorf("MaxOpenConnections %d, want %d", s.MaxOpenConnections, StoreConns)
	}
}

// A connection given back is kept for the next caller, not closed: under
// load a pool that closes its spare connections opens them again, parsing
// the schema and allocating a cache each time.
func TestOpenStoreKeepsIdle(t *testing.T) {
	db := openStore(t)
	ctx := context.Background()
	for range 3 {
		var conns []interface{ Close() error }
		for range StoreConns {
			c, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.PingContext(ctx); err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		for _, c := range conns {
			c.Close()
		}
	}
	if s := db.Stats(); s.MaxIdleClosed != 0 || s.OpenConnections != StoreConns {
		t.Errorf("%d connections closed as spare, %d open; want none closed, %d open", s.MaxIdleClosed, s.OpenConnections, StoreConns)
	}
}
