package ledger

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gavel/gavel/events"
)

var _ events.Store = (*Ledger)(nil)

// routeLock, on PostgreSQL, lets one replica at a time route the outbox:
// two routing at once could give a subject's later event its delivery
// before the earlier one's. The others skip their turn.
const routeLock = "SELECT pg_try_advisory_xact_lock(hashtext('gavel events route ' || current_schema()))"

// Route implements events.Store.
func (l *Ledger) Route(ctx context.Context, routes func(typ string) []string, limit int, now time.Time) (int, error) {
	if ok, err := l.unrouted(ctx); err != nil || !ok {
		return 0, err
	}
	tx, err := l.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("route events: begin: %w", err)
	}
	defer tx.Rollback()
	n, err := l.routeTx(ctx, tx, routes, limit, now)
	if err != nil || n == 0 {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("route events: %w", err)
	}
	return n, nil
}

// unrouted reports, from the read pool, whether any event waits to be routed.
func (l *Ledger) unrouted(ctx context.Context) (bool, error) {
	var one int
	err := l.r.QueryRowContext(ctx, `SELECT 1 FROM events WHERE NOT routed LIMIT 1`).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("route events: %w", err)
	}
	return true, nil
}

// routeTx routes inside tx; see Route.
func (l *Ledger) routeTx(ctx context.Context, tx *sql.Tx, routes func(typ string) []string, limit int, now time.Time) (int, error) {
	if l.d.name == Postgres {
		var mine bool
		if err := tx.QueryRowContext(ctx, routeLock).Scan(&mine); err != nil {
			return 0, fmt.Errorf("route events: lock: %w", err)
		}
		if !mine {
			return 0, nil
		}
	}
	rows, err := tx.QueryContext(ctx, l.d.rebind(`SELECT seq, type, subject FROM events WHERE NOT routed ORDER BY seq LIMIT ?`), limit)
	if err != nil {
		return 0, fmt.Errorf("route events: %w", err)
	}
	type unrouted struct {
		seq          int64
		typ, subject string
	}
	var evs []unrouted
	for rows.Next() {
		var e unrouted
		if err := rows.Scan(&e.seq, &e.typ, &e.subject); err != nil {
			rows.Close()
			return 0, fmt.Errorf("route events: %w", err)
		}
		evs = append(evs, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("route events: %w", err)
	}
	if len(evs) == 0 {
		return 0, nil
	}
	t := l.d.ts(now)
	var (
		vals []string
		args []any
		seqs = make([]any, 0, len(evs))
	)
	flush := func() error {
		if len(vals) == 0 {
			return nil
		}
		q := `INSERT INTO event_deliveries (endpoint, seq, subject, next_at, updated_at) VALUES ` +
			strings.Join(vals, ", ") + ` ON CONFLICT DO NOTHING`
		if _, err := tx.ExecContext(ctx, l.d.rebind(q), args...); err != nil {
			return err
		}
		vals, args = vals[:0], args[:0]
		return nil
	}
	for _, e := range evs {
		seqs = append(seqs, e.seq)
		for _, ep := range routes(e.typ) {
			vals = append(vals, "(?, ?, ?, ?, ?)")
			args = append(args, ep, e.seq, e.subject, t, t)
			if len(vals) == 500 {
				if err := flush(); err != nil {
					return 0, fmt.Errorf("route events: %w", err)
				}
			}
		}
	}
	if err := flush(); err != nil {
		return 0, fmt.Errorf("route events: %w", err)
	}
	for len(seqs) > 0 {
		n := min(len(seqs), 500)
		if _, err := tx.ExecContext(ctx, l.d.rebind(`UPDATE events SET routed = TRUE WHERE seq IN (?`+strings.Repeat(", ?", n-1)+`)`),
			seqs[:n]...); err != nil {
			return 0, fmt.Errorf("route events: %w", err)
		}
		seqs = seqs[n:]
	}
	return len(evs), nil
}

// Claim implements events.Store. Only the oldest pending delivery of each
// subject to the endpoint is ever a candidate, so while one is leased,
// waiting for a retry or in flight, the subject's later events wait.
func (l *Ledger) Claim(ctx context.Context, endpoint string, limit int, now time.Time, lease time.Duration) ([]events.Delivery, error) {
	if ok, err := l.due(ctx, endpoint, now); err != nil || !ok {
		return nil, err
	}
	tx, err := l.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries to %s: begin: %w", endpoint, err)
	}
	defer tx.Rollback()
	out, err := l.claimTx(ctx, tx, endpoint, limit, now, lease)
	if err != nil || len(out) == 0 {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claim deliveries to %s: %w", endpoint, err)
	}
	return out, nil
}

// due reports, from the read pool, whether a delivery to endpoint may be
// due at now.
func (l *Ledger) due(ctx context.Context, endpoint string, now time.Time) (bool, error) {
	t := l.d.ts(now)
	var one int
	err := l.r.QueryRowContext(ctx, l.d.rebind(`SELECT 1 FROM event_deliveries
		WHERE endpoint = ? AND state = 'pending' AND next_at <= ? AND (lease_until IS NULL OR lease_until <= ?) LIMIT 1`),
		endpoint, t, t).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim deliveries to %s: %w", endpoint, err)
	}
	return true, nil
}

// claimTx claims inside tx; see Claim.
func (l *Ledger) claimTx(ctx context.Context, tx *sql.Tx, endpoint string, limit int, now time.Time, lease time.Duration) ([]events.Delivery, error) {
	t := l.d.ts(now)
	token := uuid.Must(uuid.NewV7()).String()
	const heads = `FROM event_deliveries d
		WHERE d.endpoint = ? AND d.state = 'pending' AND d.next_at <= ? AND (d.lease_until IS NULL OR d.lease_until <= ?)
		  AND NOT EXISTS (SELECT 1 FROM event_deliveries p
			WHERE p.endpoint = d.endpoint AND p.subject = d.subject AND p.state = 'pending' AND p.seq < d.seq)
		ORDER BY d.endpoint, d.seq LIMIT ?`
	if l.d.name == Postgres {
		// One statement: pick, lease and read. A row another replica is
		// leasing right now is skipped, not waited for; once leased it
		// fails the lease_until test.
		return l.scanClaimed(endpoint, token, func() (*sql.Rows, error) {
			return tx.QueryContext(ctx, l.d.rebind(`WITH c AS (SELECT d.endpoint, d.seq `+heads+` FOR UPDATE OF d SKIP LOCKED),
				u AS (UPDATE event_deliveries SET lease = ?, lease_until = ?, updated_at = ?
					FROM c WHERE event_deliveries.endpoint = c.endpoint AND event_deliveries.seq = c.seq
					RETURNING event_deliveries.seq, event_deliveries.attempts)
				SELECT u.seq, u.attempts, e.event_id, e.type, e.subject, e.at, e.data
				FROM u JOIN events e ON e.seq = u.seq ORDER BY u.seq`),
				endpoint, t, t, limit, token, l.d.ts(now.Add(lease)), t)
		})
	}
	out, err := l.scanClaimed(endpoint, token, func() (*sql.Rows, error) {
		return tx.QueryContext(ctx, l.d.rebind(`SELECT d.seq, d.attempts, e.event_id, e.type, e.subject, e.at, e.data
			FROM (SELECT d.seq, d.attempts `+heads+`) d JOIN events e ON e.seq = d.seq ORDER BY d.seq`), endpoint, t, t, limit)
	})
	if err != nil || len(out) == 0 {
		return nil, err
	}
	seqs := make([]any, 0, len(out))
	for _, d := range out {
		seqs = append(seqs, d.Event.Seq)
	}
	args := append([]any{token, l.d.ts(now.Add(lease)), t, endpoint}, seqs...)
	if _, err := tx.ExecContext(ctx, l.d.rebind(`UPDATE event_deliveries SET lease = ?, lease_until = ?, updated_at = ?
		WHERE endpoint = ? AND seq IN (?`+strings.Repeat(", ?", len(seqs)-1)+`)`), args...); err != nil {
		return nil, fmt.Errorf("claim deliveries to %s: lease: %w", endpoint, err)
	}
	return out, nil
}

// scanClaimed reads claimed deliveries (seq, attempts, and the event).
func (l *Ledger) scanClaimed(endpoint, token string, query func() (*sql.Rows, error)) ([]events.Delivery, error) {
	rows, err := query()
	if err != nil {
		return nil, fmt.Errorf("claim deliveries to %s: %w", endpoint, err)
	}
	defer rows.Close()
	var out []events.Delivery
	for rows.Next() {
		var (
			d    = events.Delivery{Endpoint: endpoint, Lease: token}
			at   dbTime
			data string
		)
		if err := rows.Scan(&d.Event.Seq, &d.Attempts, &d.Event.ID, &d.Event.Type, &d.Event.Subject, &at, &data); err != nil {
			return nil, fmt.Errorf("claim deliveries to %s: %w", endpoint, err)
		}
		d.Event.Time, d.Event.Data = at.Time, []byte(data)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim deliveries to %s: %w", endpoint, err)
	}
	return out, nil
}

// Record implements events.Store.
func (l *Ledger) Record(ctx context.Context, outcomes []events.Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	tx, err := l.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record deliveries: begin: %w", err)
	}
	defer tx.Rollback()
	if err := l.recordTx(ctx, tx, outcomes); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record deliveries: %w", err)
	}
	return nil
}

// recordTx records inside tx; see Record.
func (l *Ledger) recordTx(ctx context.Context, tx *sql.Tx, outcomes []events.Outcome) error {
	type counts struct{ delivered, failed int64 }
	byEndpoint := map[string]*counts{}
	sorted := slices.Clone(outcomes)
	slices.SortFunc(sorted, func(a, b events.Outcome) int {
		return cmp.Or(strings.Compare(a.Endpoint, b.Endpoint), cmp.Compare(a.Seq, b.Seq))
	})
	// One statement per batch of outcomes, not one per outcome: on
	// PostgreSQL each statement is a round trip.
	cast := func(t string) string {
		if l.d.name == Postgres {
			return "::" + t
		}
		return ""
	}
	row := "(?" + cast("text") + ", ?" + cast("bigint") + ", ?" + cast("text") + ", ?" + cast("text") + ", ?" + cast("integer") +
		", ?" + cast("timestamptz") + ", ?" + cast("timestamptz") + ", ?" + cast("integer") + ", ?" + cast("text") + ", ?" + cast("timestamptz") + ")"
	for len(sorted) > 0 {
		batch := sorted[:min(len(sorted), 200)]
		sorted = sorted[len(batch):]
		args := make([]any, 0, 10*len(batch))
		rows := make([]string, 0, len(batch))
		for _, o := range batch {
			state, next, delivered := events.StatePending, l.d.ts(o.NextAt), any(nil)
			switch {
			case o.Delivered:
				state, next, delivered = events.StateDelivered, l.d.ts(o.At), l.d.ts(o.At)
			case o.Dead:
				state, next = events.StateDead, l.d.ts(o.At)
			}
			rows = append(rows, row)
			args = append(args, o.Endpoint, o.Seq, o.Lease, state, o.Attempts, next, delivered, o.Status, o.Error, l.d.ts(o.At))
		}
		values := `WITH v (v_endpoint, v_seq, v_lease, v_state, v_attempts, v_next_at, v_delivered_at, v_status, v_error, v_at)
			AS (VALUES ` + strings.Join(rows, ", ") + `)`
		update := `UPDATE event_deliveries SET state = v_state, attempts = v_attempts, next_at = v_next_at,
				delivered_at = COALESCE(v_delivered_at, delivered_at), last_status = v_status, last_error = v_error,
				lease = '', lease_until = NULL, updated_at = v_at
			FROM v WHERE endpoint = v_endpoint AND seq = v_seq AND lease = v_lease AND state = 'pending'
			RETURNING endpoint, state`
		if l.d.name == Postgres {
			// The counts in the same statement: one round trip. A delivery
			// the update does not return had its lease lapse and another
			// replica take it: that replica's outcome counts.
			if _, err := tx.ExecContext(ctx, l.d.rebind(values+`, u AS (`+update+`)
				INSERT INTO event_endpoints (endpoint, delivered, failed)
				SELECT endpoint, count(*) FILTER (WHERE state = 'delivered'), count(*) FILTER (WHERE state <> 'delivered')
				FROM u GROUP BY endpoint ORDER BY endpoint
				ON CONFLICT (endpoint) DO UPDATE SET delivered = event_endpoints.delivered + excluded.delivered,
					failed = event_endpoints.failed + excluded.failed`), args...); err != nil {
				return fmt.Errorf("record deliveries: %w", err)
			}
			continue
		}
		q := values + " " + update
		res, err := tx.QueryContext(ctx, l.d.rebind(q), args...)
		if err != nil {
			return fmt.Errorf("record deliveries: %w", err)
		}
		// A delivery not returned had its lease lapse and another replica
		// take it: that replica's outcome counts.
		for res.Next() {
			var ep, state string
			if err := res.Scan(&ep, &state); err != nil {
				res.Close()
				return fmt.Errorf("record deliveries: %w", err)
			}
			c := byEndpoint[ep]
			if c == nil {
				c = &counts{}
				byEndpoint[ep] = c
			}
			if state == events.StateDelivered {
				c.delivered++
			} else {
				c.failed++
			}
		}
		res.Close()
		if err := res.Err(); err != nil {
			return fmt.Errorf("record deliveries: %w", err)
		}
	}
	eps := make([]string, 0, len(byEndpoint))
	for ep := range byEndpoint {
		eps = append(eps, ep)
	}
	sort.Strings(eps) // the same lock order on every replica
	for _, ep := range eps {
		c := byEndpoint[ep]
		if _, err := tx.ExecContext(ctx, l.d.rebind(`INSERT INTO event_endpoints (endpoint, delivered, failed) VALUES (?, ?, ?)
			ON CONFLICT (endpoint) DO UPDATE SET delivered = event_endpoints.delivered + excluded.delivered,
			failed = event_endpoints.failed + excluded.failed`), ep, c.delivered, c.failed); err != nil {
			return fmt.Errorf("record deliveries to %s: count: %w", ep, err)
		}
	}
	return nil
}

// Exchange implements events.Store: routing, recording and claiming in one
// transaction, so the delivery loop takes the (on SQLite, single) writer
// once per round.
func (l *Ledger) Exchange(ctx context.Context, x events.Exchange) ([]events.Delivery, error) {
	route, err := l.unrouted(ctx)
	if err != nil {
		return nil, err
	}
	claim := x.Claim > 0
	if claim && !route && l.d.name == SQLite {
		// On SQLite a look from the read pool first spares the one writer;
		// on PostgreSQL the claim itself is as cheap as the look.
		if claim, err = l.due(ctx, x.Endpoint, x.Now); err != nil {
			return nil, err
		}
	}
	if !route && !claim && len(x.Outcomes) == 0 {
		return nil, nil
	}
	tx, err := l.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("deliveries to %s: begin: %w", x.Endpoint, err)
	}
	defer tx.Rollback()
	if route {
		if _, err := l.routeTx(ctx, tx, x.Routes, 1000, x.Now); err != nil {
			return nil, err
		}
	}
	if err := l.recordTx(ctx, tx, x.Outcomes); err != nil {
		return nil, err
	}
	var out []events.Delivery
	if x.Claim > 0 {
		if out, err = l.claimTx(ctx, tx, x.Endpoint, x.Claim, x.Now, x.Lease); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("deliveries to %s: %w", x.Endpoint, err)
	}
	return out, nil
}

// SweepExpired implements events.Store. Each subject's expiries are
// written under the subject's lock, like every other change of its
// standing, so they take their place in the subject's order; two replicas
// sweeping at once write each expiry once.
func (l *Ledger) SweepExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	t := l.d.ts(now)
	rows, err := l.r.QueryContext(ctx, l.d.rebind(`SELECT subject_id FROM holds
			WHERE lifted_at IS NULL AND NOT expiry_evented AND until IS NOT NULL AND until <= ?
		UNION SELECT subject_id FROM suspensions
			WHERE lifted_at IS NULL AND NOT expiry_evented AND until IS NOT NULL AND until <= ?
		LIMIT ?`), t, t, limit)
	if err != nil {
		return 0, fmt.Errorf("sweep expiries: %w", err)
	}
	var subjects []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sweep expiries: %w", err)
		}
		subjects = append(subjects, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("sweep expiries: %w", err)
	}
	total := 0
	for _, s := range subjects {
		n, err := l.sweepSubject(ctx, s, now)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

func (l *Ledger) sweepSubject(ctx context.Context, subject string, now time.Time) (int, error) {
	unlock, err := l.subjects.lock(ctx, subject)
	if err != nil {
		return 0, fmt.Errorf("sweep expiries of %q: %w", subject, err)
	}
	defer unlock()
	tx, err := l.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sweep expiries of %q: begin: %w", subject, err)
	}
	defer tx.Rollback()
	if _, err := l.lockSubject(ctx, tx, subject); err != nil {
		return 0, fmt.Errorf("sweep expiries of %q: lock: %w", subject, err)
	}
	t := l.d.ts(now)
	var evs []events.Event
	var holds []int64
	rows, err := tx.QueryContext(ctx, l.d.rebind(`SELECT id, capability, decision_id, since, until, remedy_checkpoint FROM holds
		WHERE subject_id = ? AND lifted_at IS NULL AND NOT expiry_evented AND until IS NOT NULL AND until <= ?
		ORDER BY until, id`), subject, t)
	if err != nil {
		return 0, fmt.Errorf("sweep expiries of %q: holds: %w", subject, err)
	}
	for rows.Next() {
		var (
			id           int64
			h            = events.HoldData{SubjectID: subject, How: events.EndedExpired}
			since, until dbTime
		)
		if err := rows.Scan(&id, &h.Capability, &h.DecisionID, &since, &until, &h.RemedyCheckpoint); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sweep expiries of %q: holds: %w", subject, err)
		}
		h.Since, h.Until, h.EndedAt = since.Time, until.Time, until.Time
		evs = append(evs, mustEvent(events.TypeHoldExpired, subject, until.Time, h))
		holds = append(holds, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("sweep expiries of %q: holds: %w", subject, err)
	}
	var susp []any
	rows, err = tx.QueryContext(ctx, l.d.rebind(`SELECT decision_id, since, until, source FROM suspensions
		WHERE subject_id = ? AND lifted_at IS NULL AND NOT expiry_evented AND until IS NOT NULL AND until <= ?
		ORDER BY until, decision_id`), subject, t)
	if err != nil {
		return 0, fmt.Errorf("sweep expiries of %q: suspensions: %w", subject, err)
	}
	for rows.Next() {
		var (
			s            = events.SuspensionData{SubjectID: subject, How: events.EndedExpired}
			since, until dbTime
		)
		if err := rows.Scan(&s.DecisionID, &since, &until, &s.Source); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sweep expiries of %q: suspensions: %w", subject, err)
		}
		s.Since, s.Until, s.EndedAt = since.Time, until.Time, until.Time
		evs = append(evs, mustEvent(events.TypeAccountReinstated, subject, until.Time, s))
		susp = append(susp, s.DecisionID)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("sweep expiries of %q: suspensions: %w", subject, err)
	}
	if len(evs) == 0 {
		return 0, nil // another replica swept it first
	}
	// In the order they ran out.
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	if err := l.markExpiryEvented(ctx, tx, "holds", "id", holds); err != nil {
		return 0, err
	}
	if len(susp) > 0 {
		if _, err := tx.ExecContext(ctx, l.d.rebind(`UPDATE suspensions SET expiry_evented = TRUE WHERE decision_id IN (?`+
			strings.Repeat(", ?", len(susp)-1)+`)`), susp...); err != nil {
			return 0, fmt.Errorf("sweep expiries of %q: %w", subject, err)
		}
	}
	if err := l.emit(ctx, tx, evs...); err != nil {
		return 0, fmt.Errorf("sweep expiries of %q: %w", subject, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("sweep expiries of %q: %w", subject, err)
	}
	l.eventsCommitted(len(evs))
	return len(evs), nil
}

// Stats implements events.Store.
func (l *Ledger) Stats(ctx context.Context) (events.Stats, error) {
	var st events.Stats
	if err := l.r.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE NOT routed`).Scan(&st.Unrouted); err != nil {
		return st, fmt.Errorf("outbox stats: %w", err)
	}
	by := map[string]*events.EndpointStats{}
	oldest := map[string]int64{}
	get := func(ep string) *events.EndpointStats {
		s := by[ep]
		if s == nil {
			s = &events.EndpointStats{Endpoint: ep}
			by[ep] = s
		}
		return s
	}
	for _, q := range []struct {
		sql  string
		scan func(*sql.Rows) error
	}{
		{`SELECT endpoint, count(*), min(seq) FROM event_deliveries WHERE state = 'pending' GROUP BY endpoint`, func(r *sql.Rows) error {
			var (
				ep     string
				n, seq int64
			)
			if err := r.Scan(&ep, &n, &seq); err != nil {
				return err
			}
			get(ep).Pending = n
			oldest[ep] = seq
			return nil
		}},
		{`SELECT endpoint, count(*) FROM event_deliveries WHERE state = 'dead' GROUP BY endpoint`, func(r *sql.Rows) error {
			var (
				ep string
				n  int64
			)
			if err := r.Scan(&ep, &n); err != nil {
				return err
			}
			get(ep).Dead = n
			return nil
		}},
		{`SELECT endpoint, delivered, failed FROM event_endpoints`, func(r *sql.Rows) error {
			var ep string
			var d, f int64
			if err := r.Scan(&ep, &d, &f); err != nil {
				return err
			}
			s := get(ep)
			s.Delivered, s.Failed = d, f
			return nil
		}},
	} {
		rows, err := l.r.QueryContext(ctx, q.sql)
		if err != nil {
			return st, fmt.Errorf("outbox stats: %w", err)
		}
		for rows.Next() {
			if err := q.scan(rows); err != nil {
				rows.Close()
				return st, fmt.Errorf("outbox stats: %w", err)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return st, fmt.Errorf("outbox stats: %w", err)
		}
	}
	for ep, seq := range oldest {
		var at dbTime
		if err := l.r.QueryRowContext(ctx, l.d.rebind(`SELECT at FROM events WHERE seq = ?`), seq).Scan(&at); err != nil {
			return st, fmt.Errorf("outbox stats: %w", err)
		}
		by[ep].OldestPending = at.Time
	}
	for _, s := range by {
		st.Endpoints = append(st.Endpoints, *s)
	}
	sort.Slice(st.Endpoints, func(i, j int) bool { return st.Endpoints[i].Endpoint < st.Endpoints[j].Endpoint })
	return st, nil
}

// Letters implements events.Store.
func (l *Ledger) Letters(ctx context.Context, f events.LetterFilter) ([]events.Letter, error) {
	state := f.State
	if state == "" {
		state = events.StateDead
	}
	if state != events.StateDead && state != events.StatePending {
		return nil, fmt.Errorf("list deliveries: state %q is neither dead nor pending", state)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)
	q := `SELECT d.endpoint, d.state, d.attempts, d.next_at, d.last_error, d.last_status, d.updated_at,
		e.seq, e.event_id, e.type, e.subject, e.at, e.data
		FROM event_deliveries d JOIN events e ON e.seq = d.seq WHERE d.state = '` + state + `'`
	var args []any
	if f.Endpoint != "" {
		q += ` AND d.endpoint = ?`
		args = append(args, f.Endpoint)
	}
	if f.Subject != "" {
		q += ` AND d.subject = ?`
		args = append(args, f.Subject)
	}
	if f.AfterEndpoint != "" || f.AfterSeq > 0 {
		q += ` AND (d.endpoint, d.seq) > (?, ?)`
		args = append(args, f.AfterEndpoint, f.AfterSeq)
	}
	q += ` ORDER BY d.endpoint, d.seq LIMIT ?`
	args = append(args, limit)
	rows, err := l.r.QueryContext(ctx, l.d.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	var out []events.Letter
	for rows.Next() {
		var (
			x             events.Letter
			next, upd, at dbTime
			data          string
		)
		if err := rows.Scan(&x.Endpoint, &x.State, &x.Attempts, &next, &x.LastError, &x.LastStatus, &upd,
			&x.Event.Seq, &x.Event.ID, &x.Event.Type, &x.Event.Subject, &at, &data); err != nil {
			return nil, fmt.Errorf("list deliveries: %w", err)
		}
		x.NextAt, x.UpdatedAt, x.Event.Time, x.Event.Data = next.Time, upd.Time, at.Time, []byte(data)
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return out, nil
}

// Redrive implements events.Store.
func (l *Ledger) Redrive(ctx context.Context, endpoint string, seqs []int64, now time.Time) (int, error) {
	t := l.d.ts(now)
	q := `UPDATE event_deliveries SET state = 'pending', attempts = 0, next_at = ?, last_error = '',
		lease = '', lease_until = NULL, updated_at = ? WHERE state = 'dead'`
	args := []any{t, t}
	if endpoint != "" {
		q += ` AND endpoint = ?`
		args = append(args, endpoint)
	}
	if len(seqs) > 0 {
		q += ` AND seq IN (?` + strings.Repeat(", ?", len(seqs)-1) + `)`
		for _, s := range seqs {
			args = append(args, s)
		}
	}
	res, err := l.w.ExecContext(ctx, l.d.rebind(q), args...)
	if err != nil {
		return 0, fmt.Errorf("redrive dead letters: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("redrive dead letters: %w", err)
	}
	if n == 0 && len(seqs) > 0 {
		return 0, fmt.Errorf("redrive dead letters: %w", events.ErrNotFound)
	}
	if n > 0 {
		l.eventsCommitted(int(n))
	}
	return int(n), nil
}

// Prune implements events.Store: deliveries delivered before before go
// first, then routed events from before before that no delivery still
// names (dead letters and pending deliveries keep theirs), limit of each
// per call.
func (l *Ledger) Prune(ctx context.Context, before time.Time, limit int) (int, error) {
	t := l.d.ts(before)
	res, err := l.w.ExecContext(ctx, l.d.rebind(`DELETE FROM event_deliveries WHERE (endpoint, seq) IN (
		SELECT endpoint, seq FROM event_deliveries WHERE state = 'delivered' AND delivered_at < ? LIMIT ?)`), t, limit)
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	deliveries, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	res, err = l.w.ExecContext(ctx, l.d.rebind(`DELETE FROM events WHERE seq IN (
		SELECT e.seq FROM events e WHERE e.routed AND e.at < ?
		  AND NOT EXISTS (SELECT 1 FROM event_deliveries d WHERE d.seq = e.seq) LIMIT ?)`), t, limit)
	if err != nil {
		return 0, fmt.Errorf("prune events: %w", err)
	}
	evs, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune events: %w", err)
	}
	return int(deliveries + evs), nil
}
