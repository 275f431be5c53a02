-- Runtime lists: block and allow lists edited by operators, matched against
-- every decision's request. Entries of personal kinds (email, phone,
-- payout_account, document_number) are stored only as keyed hashes. Every
-- change is one row of list_changes, which is both the audit trail and the
-- feed replicas follow to see changes. SQLite dialect.

CREATE TABLE lists (
    list_id     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    purpose     TEXT NOT NULL CHECK (purpose IN ('block', 'allow')),
    action      TEXT NOT NULL DEFAULT '',   -- block lists: the action a hit takes (LIST_BLOCK)
    exempts     TEXT NOT NULL DEFAULT '[]', -- allow lists: JSON array of reason codes a hit exempts
    description TEXT NOT NULL DEFAULT '',
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE list_entries (
    list_id    INTEGER NOT NULL REFERENCES lists (list_id),
    entry_key  TEXT    NOT NULL, -- the normalised value, or 'hmac:<hex>' for personal kinds
    note       TEXT    NOT NULL DEFAULT '',
    added_by   TEXT    NOT NULL DEFAULT '',
    added_at   TEXT    NOT NULL,
    expires_at TEXT,             -- NULL: never
    PRIMARY KEY (list_id, entry_key)
);

CREATE TABLE list_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    list_id    INTEGER NOT NULL,
    list_name  TEXT    NOT NULL,
    op         TEXT    NOT NULL, -- create, update, add, remove, import
    entry_key  TEXT    NOT NULL DEFAULT '',
    note       TEXT    NOT NULL DEFAULT '',
    expires_at TEXT,
    detail     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX list_changes_list ON list_changes (list_id, seq);
