package ledger

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// dialect is what differs between the backends: placeholders, how a time is
// passed to the database, and how migrations are serialised.
type dialect struct {
	name string
	// dollar: placeholders are $1, $2, ... (queries are written with ?).
	dollar bool
	// encodeTime turns a UTC, microsecond time into a query argument.
	encodeTime func(time.Time) any
	// migrationLock, run first in the migration transaction, keeps two
	// replicas starting together from migrating at once.
	migrationLock string
	// timeType is the column type of times in schema_migrations.
	timeType string
}

// sqliteTime is how SQLite stores times: UTC, fixed width, so that text
// order is time order.
const sqliteTime = "2006-01-02T15:04:05.000000Z"

var (
	sqliteDialect = &dialect{
		name:       SQLite,
		encodeTime: func(t time.Time) any { return t.Format(sqliteTime) },
		timeType:   "TEXT",
	}
	postgresDialect = &dialect{
		name:       Postgres,
		dollar:     true,
		encodeTime: func(t time.Time) any { return t },
		// Transaction-scoped, so it is released even if start-up dies; keyed
		// by schema so independent schemas in one database do not wait.
		migrationLock: "SELECT pg_advisory_xact_lock(hashtext('gavel ledger migrations ' || current_schema()))",
		timeType:      "timestamptz",
	}
)

// normTime is how the ledger keeps every time: UTC with microsecond
// precision, the finest both backends store exactly, without a monotonic
// clock reading. Times read back are time.Equal to the times stored.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// ts encodes a time as a query argument.
func (d *dialect) ts(t time.Time) any { return d.encodeTime(normTime(t)) }

// nullTS encodes a time, or NULL when it is zero.
func (d *dialect) nullTS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return d.ts(t)
}

// rebind rewrites ? placeholders for the dialect. Queries here never hold a
// literal ?.
func (d *dialect) rebind(q string) string {
	if !d.dollar {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// dbTime scans a time column of either backend, NULL included.
type dbTime struct {
	Time  time.Time
	Valid bool
}

func (t *dbTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*t = dbTime{}
		return nil
	case time.Time:
		*t = dbTime{Time: normTime(x), Valid: true}
		return nil
	case string:
		return t.parse(x)
	case []byte:
		return t.parse(string(x))
	default:
		return fmt.Errorf("scan time: unexpected %T", v)
	}
}

func (t *dbTime) parse(s string) error {
	p, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("scan time %q: %w", s, err)
	}
	*t = dbTime{Time: normTime(p), Valid: true}
	return nil
}
