package ledger

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gavel/gavel/decision"
)

// ErrBadPageToken is wrapped by List's error for a page token it did not
// issue, or issued for another subject.
var ErrBadPageToken = errors.New("invalid page token")

// Page sizes of List.
const (
	DefaultPageSize = 20
	MaxPageSize     = 1000
)

// ByRequestID returns the decision made for a request id, or
// decision.ErrNotFound.
func (l *Ledger) ByRequestID(ctx context.Context, requestID string) (*decision.Record, error) {
	rec, err := l.scanRecord(l.byRequest.QueryRowContext(ctx, requestID))
	if err != nil {
		return nil, fmt.Errorf("decision for request %q: %w", requestID, err)
	}
	return rec, nil
}

// Get returns a decision by id, with what became of it and of its effects
// as of now, or decision.ErrNotFound. The id of a fallback superseded by
// the ledger's decision for the same request returns that decision, with
// SupersededID set to the id asked for.
func (l *Ledger) Get(ctx context.Context, decisionID string) (*decision.Record, error) {
	rec, err := l.scanRecord(l.r.QueryRowContext(ctx, l.q.recordByID, decisionID))
	superseded := ""
	if errors.Is(err, decision.ErrNotFound) {
		var by string
		if e := l.r.QueryRowContext(ctx, l.d.rebind(`SELECT by_decision_id FROM superseded WHERE decision_id = ?`), decisionID).Scan(&by); e == nil {
			superseded = decisionID
			rec, err = l.scanRecord(l.r.QueryRowContext(ctx, l.q.recordByID, by))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("decision %s: %w", decisionID, err)
	}
	rec.SupersededID = superseded
	if err := l.annotate(ctx, rec); err != nil {
		return nil, fmt.Errorf("decision %s: %w", decisionID, err)
	}
	if err := l.effects(ctx, rec, time.Now()); err != nil {
		return nil, fmt.Errorf("decision %s: %w", decisionID, err)
	}
	return rec, nil
}

// List returns a subject's decisions, newest first, pageSize at most
// (DefaultPageSize when not positive, MaxPageSize at most), after the page
// token ("" for the first page). The returned token, "" on the last page,
// fetches the next page; it is opaque and stable under inserts (keyset
// paging on decision time and id).
func (l *Ledger) List(ctx context.Context, subjectID string, pageSize int, pageToken string) ([]*decision.Record, string, error) {
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	pageSize = min(pageSize, MaxPageSize)
	var (
		rows *sql.Rows
		err  error
	)
	if pageToken == "" {
		rows, err = l.r.QueryContext(ctx, l.q.listFirst, subjectID, pageSize+1)
	} else {
		var c cursor
		if c, err = decodeCursor(pageToken, subjectID); err != nil {
			return nil, "", fmt.Errorf("list decisions of %q: %w", subjectID, err)
		}
		rows, err = l.r.QueryContext(ctx, l.q.listAfter, subjectID, l.d.ts(c.At), c.ID, pageSize+1)
	}
	if err != nil {
		return nil, "", fmt.Errorf("list decisions of %q: %w", subjectID, err)
	}
	defer rows.Close()
	var (
		recs []*decision.Record
		last cursor
		body []byte
	)
	for rows.Next() {
		var at dbTime
		var id string
		if err := rows.Scan(&body, &at, &id); err != nil {
			return nil, "", fmt.Errorf("list decisions of %q: %w", subjectID, err)
		}
		if len(recs) == pageSize {
			// One more than asked: there is a next page after the last kept.
			rows.Close()
			if err := l.annotate(ctx, recs...); err != nil {
				return nil, "", fmt.Errorf("list decisions of %q: %w", subjectID, err)
			}
			if err := l.effectsOf(ctx, recs); err != nil {
				return nil, "", fmt.Errorf("list decisions of %q: %w", subjectID, err)
			}
			return recs, encodeCursor(subjectID, last), nil
		}
		rec, err := decodeRecord(body)
		if err != nil {
			return nil, "", fmt.Errorf("list decisions of %q: decision %s: %w", subjectID, id, err)
		}
		recs = append(recs, rec)
		last = cursor{At: at.Time, ID: id}
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list decisions of %q: %w", subjectID, err)
	}
	rows.Close()
	if err := l.annotate(ctx, recs...); err != nil {
		return nil, "", fmt.Errorf("list decisions of %q: %w", subjectID, err)
	}
	if err := l.effectsOf(ctx, recs); err != nil {
		return nil, "", fmt.Errorf("list decisions of %q: %w", subjectID, err)
	}
	return recs, "", nil
}

// effectsOf fills in the effects of listed decisions and their state now.
func (l *Ledger) effectsOf(ctx context.Context, recs []*decision.Record) error {
	now := time.Now()
	for _, r := range recs {
		if err := l.effects(ctx, r, now); err != nil {
			return fmt.Errorf("decision %s: %w", r.DecisionID, err)
		}
	}
	return nil
}

func (l *Ledger) scanRecord(row *sql.Row) (*decision.Record, error) {
	var body []byte
	if err := row.Scan(&body); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, decision.ErrNotFound
		}
		return nil, err
	}
	return decodeRecord(body)
}

func decodeRecord(stored []byte) (*decision.Record, error) {
	body, err := unpackRecord(stored)
	if err != nil {
		return nil, err
	}
	rec := new(decision.Record)
	if err := json.Unmarshal(body, rec); err != nil {
		return nil, fmt.Errorf("decode stored record: %w", err)
	}
	rec.DecidedAt = normTime(rec.DecidedAt)
	return rec, nil
}

// decodeRecordForReplay is decodeRecord leaving Signals and Detectors
// empty: the fields of the same JSON names on replayRecord are shallower
// than the embedded record's, so they take those values and skip them.
func decodeRecordForReplay(stored []byte) (*decision.Record, error) {
	body, err := unpackRecord(stored)
	if err != nil {
		return nil, err
	}
	rec := replayRecord{Record: new(decision.Record)}
	if err := json.Unmarshal(body, &rec); err != nil {
		return nil, fmt.Errorf("decode stored record: %w", err)
	}
	rec.DecidedAt = normTime(rec.DecidedAt)
	return rec.Record, nil
}

type replayRecord struct {
	*decision.Record
	Signals   skipJSON `json:"signals"`
	Detectors skipJSON `json:"detectors"`
}

// skipJSON accepts any JSON value and keeps nothing.
type skipJSON struct{}

func (skipJSON) UnmarshalJSON([]byte) error { return nil }

// cursor is where a page ends: the last decision's time and id.
type cursor struct {
	Subject string    `json:"s"`
	At      time.Time `json:"t"`
	ID      string    `json:"d"`
}

func encodeCursor(subjectID string, c cursor) string {
	c.Subject = subjectID
	b, _ := json.Marshal(c) // a string and a time always encode
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(token, subjectID string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return c, ErrBadPageToken
	}
	if err := json.Unmarshal(b, &c); err != nil || c.ID == "" || c.At.IsZero() {
		return c, ErrBadPageToken
	}
	if c.Subject != subjectID {
		return c, fmt.Errorf("%w: issued for another subject", ErrBadPageToken)
	}
	return c, nil
}

// HoldRecord is a hold as the ledger keeps it, for reviewers: lifted or not.
type HoldRecord struct {
	decision.Hold
	// RemedyCheckpoint is the checkpoint at which an allow decision lifts
	// the hold.
	RemedyCheckpoint string
	// LiftedAt is zero while the hold stands (it may still have expired).
	LiftedAt     time.Time
	LiftedReason string
}

// Holds returns every hold ever placed on a subject, oldest first, lifted
// and expired ones included.
func (l *Ledger) Holds(ctx context.Context, subjectID string) ([]HoldRecord, error) {
	rows, err := l.r.QueryContext(ctx, l.d.rebind(allHolds), subjectID)
	if err != nil {
		return nil, fmt.Errorf("holds of %q: %w", subjectID, err)
	}
	defer rows.Close()
	var hs []HoldRecord
	for rows.Next() {
		var (
			h                      HoldRecord
			since, until, liftedAt dbTime
		)
		if err := rows.Scan(&h.Capability, &since, &until, &h.DecisionID, &h.Remedy,
			&h.RemedyCheckpoint, &liftedAt, &h.LiftedReason); err != nil {
			return nil, fmt.Errorf("holds of %q: %w", subjectID, err)
		}
		h.Since, h.Until, h.LiftedAt = since.Time, until.Time, liftedAt.Time
		hs = append(hs, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("holds of %q: %w", subjectID, err)
	}
	return hs, nil
}
