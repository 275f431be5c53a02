package groupcommit

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sync/atomic"
	"time"
)

// Checkpoints. In WAL mode a commit appends the pages it changed to the WAL,
// and a checkpoint copies them back into the database file so that the WAL
// can start over. By default SQLite runs one inside the commit that takes
// the WAL past 1,000 pages: a read and a write system call per page and two
// fsyncs, 10 to 15 ms here, and every write queued behind that commit waits
// for it. A Writer given Options.Checkpoint instead checkpoints from a
// connection of its own, in the background, once 1,000 pages wait to be
// copied: SQLite's PASSIVE checkpoint, which copies what no reader still
// needs without the write lock, so commits go on meanwhile.
//
// A PASSIVE checkpoint alone cannot keep the WAL short under a steady load:
// SQLite starts the WAL over only at a commit that finds every page of it
// copied, and the commits made while the checkpoint ran are not. So once
// the WAL is 4,000 pages long, the writer copies the rest itself after a
// background checkpoint, between two of its transactions (the pages
// committed while that checkpoint ran, and two fsyncs), and the commit after
// that starts the WAL over.
//
// How many pages the WAL holds, and how many of them are copied, the writer
// reads after each commit from the WAL index (the -shm file), whose header
// SQLite documents (https://www.sqlite.org/walformat.html): a 136-byte
// read, no lock. Should the file not read as that header, a checkpoint runs
// every 64 commits instead.
//
// What a commit promises is unchanged: it is in the WAL either way, and the
// WAL is synced before its pages are copied.

const (
	// checkpointPages is how many WAL pages waiting to be copied wake the
	// background checkpoint: SQLite's wal_autocheckpoint default.
	checkpointPages = 1000
	// restartPages is the WAL's length past which the writer catches up
	// after a background checkpoint, so that the WAL starts over.
	restartPages = 4 * checkpointPages
	// checkpointCommits is how many commits wake the background checkpoint
	// when the WAL index cannot be read.
	checkpointCommits = 64
	// checkpointIdle is the longest a WAL waits for a checkpoint while
	// anything is left to copy: writes not made through the Writer are not
	// counted.
	checkpointIdle = 10 * time.Second
)

type checkpointer struct {
	db    *sql.DB // one connection, the checkpointer's own
	shm   string  // the WAL index's file
	log   *slog.Logger
	nudge chan struct{} // one pending nudge at most
	quit  chan struct{}
	ended chan struct{}

	index   *os.File     // shm, opened by the writer's goroutine at its first commit
	since   atomic.Int64 // commits since the last checkpoint began, without the index
	woken   atomic.Bool  // a checkpoint is asked for or running
	catchUp atomic.Bool  // the writer copies what was committed during the last checkpoint

	runs, catchUps, failures atomic.Int64
}

// newCheckpointer checkpoints the SQLite file at path from a connection of
// its own: never one a reader of the file waits for.
func newCheckpointer(path string, log *slog.Logger) *checkpointer {
	if log == nil {
		log = slog.Default()
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		panic(fmt.Sprintf("groupcommit: the \"sqlite\" driver is not registered: %v", err))
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	c := &checkpointer{db: db, shm: path + "-shm", log: log, nudge: make(chan struct{}, 1), quit: make(chan struct{}), ended: make(chan struct{})}
	go c.run()
	return c
}

// walIndexVersion is the version a WAL index's header starts with.
const walIndexVersion = 3007000

// walIndex reads the WAL's length and how much of it is copied, in pages,
// from the header of the WAL index at f, in the host's byte order: its
// version at byte 0, mxFrame at byte 16, nBackfill at byte 96.
func walIndex(f *os.File) (wal, copied int64, ok bool) {
	var b [136]byte
	if f == nil {
		return 0, 0, false
	}
	if _, err := f.ReadAt(b[:], 0); err != nil {
		return 0, 0, false
	}
	if binary.NativeEndian.Uint32(b[0:]) != walIndexVersion {
		return 0, 0, false
	}
	wal, copied = int64(binary.NativeEndian.Uint32(b[16:])), int64(binary.NativeEndian.Uint32(b[96:]))
	return wal, copied, copied <= wal
}

// committed runs on the writer's goroutine after each commit: it wakes the
// checkpointer once enough pages wait to be copied, unless a checkpoint is
// already on its way or the writer has yet to catch up with the last one
// (the two would wait for each other).
func (c *checkpointer) committed() {
	if c.woken.Load() || c.catchUp.Load() {
		return
	}
	if c.index == nil {
		c.index, _ = os.Open(c.shm) // nil on failure: counted in commits instead
	}
	wal, copied, ok := walIndex(c.index)
	if ok && wal-copied < checkpointPages {
		return
	}
	if !ok && c.since.Add(1) < checkpointCommits {
		return
	}
	c.woken.Store(true)
	select {
	case c.nudge <- struct{}{}:
	default: // one is waiting already
	}
}

func (c *checkpointer) run() {
	defer close(c.ended)
	t := time.NewTicker(checkpointIdle)
	defer t.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-c.nudge:
		case <-t.C:
		}
		c.since.Store(0)
		wal, copied, err := checkpoint(c.db, "PASSIVE")
		// What SQLite reports is the WAL as this checkpoint began; the
		// commits made since are not copied, so the WAL cannot start over
		// yet. The catch-up is asked for before the next checkpoint can
		// be: the two would wait for each other.
		if err == nil && wal >= restartPages {
			c.catchUp.Store(true)
		}
		c.woken.Store(false)
		if err != nil {
			c.failed(err)
			continue
		}
		if copied > 0 {
			c.runs.Add(1)
		}
	}
}

// catchUpNow copies, on the writer's goroutine between its transactions,
// what was committed while the last background checkpoint ran.
func (c *checkpointer) catchUpNow(db *sql.DB) {
	if !c.catchUp.Load() {
		return
	}
	if _, _, err := checkpoint(db, "PASSIVE"); err != nil {
		c.failed(err)
	} else {
		c.catchUps.Add(1)
	}
	c.catchUp.Store(false)
}

func (c *checkpointer) failed(err error) {
	if f := c.failures.Add(1); f&(f-1) == 0 { // the 1st, 2nd, 4th, 8th… failure
		c.log.Warn("WAL checkpoint failed; the WAL grows until one succeeds", "failures", f, "error", err)
	}
}

func (c *checkpointer) close() {
	close(c.quit)
	<-c.ended
	if c.index != nil {
		c.index.Close()
	}
	c.db.Close()
}

// checkpoint runs SQLite's wal_checkpoint in mode on a connection of db and
// returns the WAL's length and how much of it is copied, in pages.
func checkpoint(db *sql.DB, mode string) (log, copied int64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var busy int64
	err = db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &log, &copied)
	return log, copied, err
}

// Checkpoints reports the background checkpoints that copied pages, the
// writer's catch-ups, and the checkpoints that failed (all 0 without
// Options.Checkpoint).
func (w *Writer) Checkpoints() (background, catchUps, failures int64) {
	if w.ckpt == nil {
		return 0, 0, 0
	}
	return w.ckpt.runs.Load(), w.ckpt.catchUps.Load(), w.ckpt.failures.Load()
}
