package links

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Households. Where a device is shared, the policy needs to tell a family
// laptop from a device farm without personal data: for each account the
// detector keeps a keyed hash of its family name (personname.FamilyKey),
// when the account was created (as the caller says), and whether gavel
// restricted it (learnt through Observe, forgotten when overturned).

// accountSchema is the household table, on both backends.
var accountSchema = []string{
	`CREATE TABLE IF NOT EXISTS linkage_accounts (
		account       TEXT   NOT NULL PRIMARY KEY,
		family_hash   TEXT   NOT NULL DEFAULT '',
		created_at    BIGINT NOT NULL DEFAULT 0,
		flagged_by    TEXT   NOT NULL DEFAULT '',
		flagged_at    BIGINT NOT NULL DEFAULT 0
	)`,
}

// AccountFacts is what the detector knows of a linked account.
type AccountFacts struct {
	FamilyHash string
	CreatedAt  time.Time // zero when the caller never said
	Flagged    bool      // gavel restricted it (a decision not overturned)
}

// recordAccountStatement upserts an account's family-name hash and creation
// time (recordAccountArgs), keeping what is known where they are empty. A
// recording Link runs it in its transaction.
const recordAccountStatement = `INSERT INTO linkage_accounts (account, family_hash, created_at) VALUES (?, ?, ?)
		ON CONFLICT (account) DO UPDATE SET
			family_hash = CASE WHEN excluded.family_hash <> '' THEN excluded.family_hash ELSE linkage_accounts.family_hash END,
			created_at  = CASE WHEN excluded.created_at <> 0 THEN excluded.created_at ELSE linkage_accounts.created_at END`

func recordAccountArgs(account, familyHash string, createdAt time.Time) []any {
	var created int64
	if !createdAt.IsZero() {
		created = createdAt.UnixNano()
	}
	return []any{account, familyHash, created}
}

// flagStatement records that a decision restricted an account.
const flagStatement = `INSERT INTO linkage_accounts (account, flagged_by, flagged_at) VALUES (?, ?, ?)
		ON CONFLICT (account) DO UPDATE SET flagged_by = excluded.flagged_by, flagged_at = excluded.flagged_at`

// Flag records that decision restricted account.
func (s *Store) Flag(ctx context.Context, account, decisionID string, at time.Time) error {
	err := s.execWrite(ctx, s.prepared.flag, flagStatement, account, decisionID, at.UnixNano())
	if err != nil {
		return fmt.Errorf("linkage store: flag account: %w", err)
	}
	return nil
}

// Unflag forgets that decision restricted account (it was overturned).
func (s *Store) Unflag(ctx context.Context, account, decisionID string) error {
	err := s.execWrite(ctx, nil, `UPDATE linkage_accounts SET flagged_by = '', flagged_at = 0
		WHERE account = ? AND flagged_by = ?`, account, decisionID)
	if err != nil {
		return fmt.Errorf("linkage store: unflag account: %w", err)
	}
	return nil
}

// Accounts returns what is known of each of ids (absent: nothing).
func (s *Store) Accounts(ctx context.Context, ids []string) (map[string]AccountFacts, error) {
	out := make(map[string]AccountFacts, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT account, family_hash, created_at, flagged_by FROM linkage_accounts
		WHERE account IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`), args...)
	if err != nil {
		return nil, fmt.Errorf("linkage store: read accounts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, family, flagged string
			created             sql.NullInt64
		)
		if err := rows.Scan(&id, &family, &created, &flagged); err != nil {
			return nil, fmt.Errorf("linkage store: read accounts: %w", err)
		}
		f := AccountFacts{FamilyHash: family, Flagged: flagged != ""}
		if created.Valid && created.Int64 != 0 {
			f.CreatedAt = time.Unix(0, created.Int64)
		}
		out[id] = f
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("linkage store: read accounts: %w", err)
	}
	return out, nil
}

// household summarises the accounts sharing a device with account, for the
// policy: how many share this account's family name, how old the youngest
// of them is, how many gavel restricted or suspended. Only the first
// maxEvidenceAccounts linked accounts are looked at; a bigger crowd is no
// household.
func (d *Detector) household(ctx context.Context, familyHash string, linked []Linked, at time.Time) (map[string]any, error) {
	ids := make([]string, 0, min(len(linked), maxEvidenceAccounts))
	suspended := 0
	for _, l := range linked[:min(len(linked), maxEvidenceAccounts)] {
		ids = append(ids, l.Account)
		if l.Suspended {
			suspended++
		}
	}
	facts, err := d.store.Accounts(ctx, ids)
	if err != nil {
		return nil, err
	}
	sameFamily, flagged, known := 0, 0, 0
	youngest := -1.0
	for _, id := range ids {
		f, ok := facts[id]
		if !ok {
			youngest = 0
			continue
		}
		known++
		if familyHash != "" && f.FamilyHash == familyHash {
			sameFamily++
		}
		if f.Flagged {
			flagged++
		}
		age := 0.0
		if !f.CreatedAt.IsZero() {
			age = max(at.Sub(f.CreatedAt).Hours()/24, 0)
		}
		if youngest < 0 || age < youngest {
			youngest = age
		}
	}
	return map[string]any{
		"examined":            len(ids),
		"known":               known,
		"same_family":         sameFamily,
		"youngest_age_days":   float64(int(max(youngest, 0)*10)) / 10,
		"restricted":          flagged,
		"suspended":           suspended,
		"family_name_unknown": familyHash == "",
	}, nil
}
