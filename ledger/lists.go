package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gavel/gavel/events"
	"github.com/gavel/gavel/lists"
)

var _ lists.Store = (*Ledger)(nil)

// listLock, on PostgreSQL, is taken by every transaction that changes a
// list before its first change row, so list_changes.seq is handed out in
// commit order and a replica that has read change n has seen every change
// before it. SQLite's single writer gives the same order.
const listLock = "SELECT pg_advisory_xact_lock(hashtext('gavel lists ' || current_schema()))"

const listColumns = `l.list_id, l.name, l.kind, l.purpose, l.action, l.exempts, l.description,
	l.created_by, l.created_at, l.updated_at,
	(SELECT count(*) FROM list_entries e WHERE e.list_id = l.list_id)`

func (l *Ledger) listTx(ctx context.Context) (*sql.Tx, error) {
	tx, err := l.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if l.d.name == Postgres {
		if _, err := tx.ExecContext(ctx, listLock); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	return tx, nil
}

func scanList(row interface{ Scan(...any) error }) (lists.List, error) {
	var (
		x            lists.List
		kind, purp   string
		exempts      string
		created, upd dbTime
	)
	if err := row.Scan(&x.ID, &x.Name, &kind, &purp, &x.Action, &exempts, &x.Description,
		&x.CreatedBy, &created, &upd, &x.Entries); err != nil {
		return x, err
	}
	x.Kind, x.Purpose = lists.Kind(kind), lists.Purpose(purp)
	x.CreatedAt, x.UpdatedAt = created.Time, upd.Time
	if err := json.Unmarshal([]byte(exempts), &x.Exempts); err != nil {
		return x, fmt.Errorf("list %q: exempts: %w", x.Name, err)
	}
	return x, nil
}

// CreateList implements lists.Store.
func (l *Ledger) CreateList(ctx context.Context, x lists.List, actor string, at time.Time) (lists.List, error) {
	exempts, err := json.Marshal(append([]string{}, x.Exempts...))
	if err != nil {
		return x, err
	}
	tx, err := l.listTx(ctx)
	if err != nil {
		return x, fmt.Errorf("create list %q: begin: %w", x.Name, err)
	}
	defer tx.Rollback()
	var id int64
	err = tx.QueryRowContext(ctx, l.d.rebind(`INSERT INTO lists
		(name, kind, purpose, action, exempts, description, created_by, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING RETURNING list_id`),
		x.Name, string(x.Kind), string(x.Purpose), x.Action, string(exempts), x.Description, actor,
		l.d.ts(at), l.d.ts(at)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return x, fmt.Errorf("create list %q: %w", x.Name, lists.ErrExists)
	}
	if err != nil {
		return x, fmt.Errorf("create list %q: %w", x.Name, err)
	}
	detail := fmt.Sprintf("kind=%s purpose=%s action=%s exempts=%s", x.Kind, x.Purpose, x.Action, exempts)
	if _, err := tx.ExecContext(ctx, l.d.rebind(`INSERT INTO list_changes (at, actor, list_id, list_name, op, detail)
		VALUES (?, ?, ?, ?, ?, ?)`), l.d.ts(at), actor, id, x.Name, string(lists.OpCreate), detail); err != nil {
		return x, fmt.Errorf("create list %q: audit: %w", x.Name, err)
	}
	got, err := scanList(tx.QueryRowContext(ctx, l.d.rebind(`SELECT `+listColumns+` FROM lists l WHERE l.list_id = ?`), id))
	if err != nil {
		return x, fmt.Errorf("create list %q: read back: %w", x.Name, err)
	}
	if err := l.emit(ctx, tx, listEvent(x, lists.OpCreate, 0, at)); err != nil {
		return x, fmt.Errorf("create list %q: %w", x.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return x, fmt.Errorf("create list %q: %w", x.Name, err)
	}
	l.eventsCommitted(1)
	return got, nil
}

// GetList implements lists.Store.
func (l *Ledger) GetList(ctx context.Context, name string) (lists.List, error) {
	x, err := scanList(l.r.QueryRowContext(ctx, l.d.rebind(`SELECT `+listColumns+` FROM lists l WHERE l.name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return x, fmt.Errorf("list %q: %w", name, lists.ErrNotFound)
	}
	if err != nil {
		return x, fmt.Errorf("list %q: %w", name, err)
	}
	return x, nil
}

// Lists implements lists.Store.
func (l *Ledger) Lists(ctx context.Context) ([]lists.List, error) {
	rows, err := l.r.QueryContext(ctx, `SELECT `+listColumns+` FROM lists l ORDER BY l.name`)
	if err != nil {
		return nil, fmt.Errorf("lists: %w", err)
	}
	defer rows.Close()
	var out []lists.List
	for rows.Next() {
		x, err := scanList(rows)
		if err != nil {
			return nil, fmt.Errorf("lists: %w", err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lists: %w", err)
	}
	return out, nil
}

// rowsPerInsert bounds one multi-row INSERT: 1000 rows of at most 7
// parameters stay under both backends' parameter limits.
const rowsPerInsert = 1000

// PutEntries implements lists.Store: multi-row upserts, one transaction.
func (l *Ledger) PutEntries(ctx context.Context, x lists.List, es []lists.Entry, op lists.Op, detail, actor string, at time.Time) error {
	tx, err := l.listTx(ctx)
	if err != nil {
		return fmt.Errorf("%s entries of list %q: begin: %w", op, x.Name, err)
	}
	defer tx.Rollback()
	for start := 0; start < len(es); start += rowsPerInsert {
		batch := es[start:min(start+rowsPerInsert, len(es))]
		var q strings.Builder
		q.WriteString(`INSERT INTO list_entries (list_id, entry_key, note, added_by, added_at, expires_at) VALUES `)
		args := make([]any, 0, 6*len(batch))
		for i, e := range batch {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?)")
			args = append(args, x.ID, e.Key, e.Note, e.AddedBy, l.d.ts(e.AddedAt), l.d.nullTS(e.ExpiresAt))
		}
		q.WriteString(` ON CONFLICT (list_id, entry_key) DO UPDATE SET note = excluded.note,
			added_by = excluded.added_by, added_at = excluded.added_at, expires_at = excluded.expires_at`)
		if _, err := tx.ExecContext(ctx, l.d.rebind(q.String()), args...); err != nil {
			return fmt.Errorf("%s entries of list %q: %w", op, x.Name, err)
		}
		if op != lists.OpAdd {
			continue
		}
		q.Reset()
		q.WriteString(`INSERT INTO list_changes (at, actor, list_id, list_name, op, entry_key, note, expires_at) VALUES `)
		args = args[:0]
		for i, e := range batch {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, l.d.ts(at), actor, x.ID, x.Name, string(op), e.Key, e.Note, l.d.nullTS(e.ExpiresAt))
		}
		if _, err := tx.ExecContext(ctx, l.d.rebind(q.String()), args...); err != nil {
			return fmt.Errorf("%s entries of list %q: audit: %w", op, x.Name, err)
		}
	}
	if op != lists.OpAdd {
		if _, err := tx.ExecContext(ctx, l.d.rebind(`INSERT INTO list_changes (at, actor, list_id, list_name, op, detail)
			VALUES (?, ?, ?, ?, ?, ?)`), l.d.ts(at), actor, x.ID, x.Name, string(op), detail); err != nil {
			return fmt.Errorf("%s entries of list %q: audit: %w", op, x.Name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, l.d.rebind(`UPDATE lists SET updated_at = ? WHERE list_id = ?`), l.d.ts(at), x.ID); err != nil {
		return fmt.Errorf("%s entries of list %q: %w", op, x.Name, err)
	}
	if err := l.emit(ctx, tx, listEvent(x, op, len(es), at)); err != nil {
		return fmt.Errorf("%s entries of list %q: %w", op, x.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s entries of list %q: %w", op, x.Name, err)
	}
	l.eventsCommitted(1)
	return nil
}

// RemoveEntries implements lists.Store.
func (l *Ledger) RemoveEntries(ctx context.Context, x lists.List, keys []string, actor string, at time.Time) (int, error) {
	tx, err := l.listTx(ctx)
	if err != nil {
		return 0, fmt.Errorf("remove entries of list %q: begin: %w", x.Name, err)
	}
	defer tx.Rollback()
	del := l.d.rebind(`DELETE FROM list_entries WHERE list_id = ? AND entry_key = ?`)
	audit := l.d.rebind(`INSERT INTO list_changes (at, actor, list_id, list_name, op, entry_key) VALUES (?, ?, ?, ?, ?, ?)`)
	n := 0
	for _, k := range keys {
		res, err := tx.ExecContext(ctx, del, x.ID, k)
		if err != nil {
			return 0, fmt.Errorf("remove entries of list %q: %w", x.Name, err)
		}
		if c, err := res.RowsAffected(); err != nil {
			return 0, fmt.Errorf("remove entries of list %q: %w", x.Name, err)
		} else if c == 0 {
			continue
		}
		n++
		if _, err := tx.ExecContext(ctx, audit, l.d.ts(at), actor, x.ID, x.Name, string(lists.OpRemove), k); err != nil {
			return 0, fmt.Errorf("remove entries of list %q: audit: %w", x.Name, err)
		}
	}
	if n > 0 {
		if _, err := tx.ExecContext(ctx, l.d.rebind(`UPDATE lists SET updated_at = ? WHERE list_id = ?`), l.d.ts(at), x.ID); err != nil {
			return 0, fmt.Errorf("remove entries of list %q: %w", x.Name, err)
		}
		if err := l.emit(ctx, tx, listEvent(x, lists.OpRemove, n, at)); err != nil {
			return 0, fmt.Errorf("remove entries of list %q: %w", x.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("remove entries of list %q: %w", x.Name, err)
	}
	l.eventsCommitted(n)
	return n, nil
}

// Entries implements lists.Store.
func (l *Ledger) Entries(ctx context.Context, listID int64, after string, limit int) ([]lists.Entry, error) {
	rows, err := l.r.QueryContext(ctx, l.d.rebind(`SELECT entry_key, note, added_by, added_at, expires_at
		FROM list_entries WHERE list_id = ? AND entry_key > ? ORDER BY entry_key LIMIT ?`), listID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("entries of list %d: %w", listID, err)
	}
	defer rows.Close()
	out := make([]lists.Entry, 0, min(limit, 1024))
	for rows.Next() {
		var (
			e        lists.Entry
			added, x dbTime
		)
		if err := rows.Scan(&e.Key, &e.Note, &e.AddedBy, &added, &x); err != nil {
			return nil, fmt.Errorf("entries of list %d: %w", listID, err)
		}
		e.AddedAt, e.ExpiresAt = added.Time, x.Time
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("entries of list %d: %w", listID, err)
	}
	return out, nil
}

const changeColumns = `seq, at, actor, list_id, list_name, op, entry_key, note, expires_at, detail`

func (l *Ledger) changes(ctx context.Context, q string, args ...any) ([]lists.Change, error) {
	rows, err := l.r.QueryContext(ctx, l.d.rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []lists.Change
	for rows.Next() {
		var (
			c      lists.Change
			op     string
			at, ex dbTime
		)
		if err := rows.Scan(&c.Seq, &at, &c.Actor, &c.ListID, &c.ListName, &op, &c.Key, &c.Note, &ex, &c.Detail); err != nil {
			return nil, err
		}
		c.Op, c.At, c.ExpiresAt = lists.Op(op), at.Time, ex.Time
		out = append(out, c)
	}
	return out, rows.Err()
}

// Changes implements lists.Store.
func (l *Ledger) Changes(ctx context.Context, afterSeq int64, limit int) ([]lists.Change, error) {
	cs, err := l.changes(ctx, `SELECT `+changeColumns+` FROM list_changes WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("list changes after %d: %w", afterSeq, err)
	}
	return cs, nil
}

// ListChanges implements lists.Store.
func (l *Ledger) ListChanges(ctx context.Context, listID, beforeSeq int64, limit int) ([]lists.Change, error) {
	if beforeSeq <= 0 {
		beforeSeq = 1<<63 - 1
	}
	cs, err := l.changes(ctx, `SELECT `+changeColumns+` FROM list_changes WHERE list_id = ? AND seq < ?
		ORDER BY seq DESC LIMIT ?`, listID, beforeSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("changes of list %d: %w", listID, err)
	}
	return cs, nil
}

// LastChange implements lists.Store.
func (l *Ledger) LastChange(ctx context.Context) (int64, error) {
	var seq sql.NullInt64
	if err := l.r.QueryRowContext(ctx, `SELECT max(seq) FROM list_changes`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("last list change: %w", err)
	}
	return seq.Int64, nil
}

// listEvent is a list's change event: which list, what was done, to how
// many entries; never an entry's value. Written under the lists lock, so a
// list's events are in commit order.
func listEvent(x lists.List, op lists.Op, entries int, at time.Time) events.Event {
	return mustEvent(events.TypeListChanged, events.ListSubject(x.Name), at, events.ListData{
		List: x.Name, Kind: string(x.Kind), Purpose: string(x.Purpose), Op: string(op), Entries: entries, At: normTime(at),
	})
}
