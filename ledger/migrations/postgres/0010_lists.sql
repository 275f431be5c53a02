-- Runtime lists: block and allow lists edited by operators, matched against
-- every decision's request. Entries of personal kinds (email, phone,
-- payout_account, document_number) are stored only as keyed hashes. Every
-- change is one row of list_changes, which is both the audit trail and the
-- feed replicas follow to see changes; writers take an advisory lock before
-- their first change so that seq order is commit order. PostgreSQL dialect.

CREATE TABLE lists (
    list_id     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL UNIQUE,
    kind        text        NOT NULL,
    purpose     text        NOT NULL CHECK (purpose IN ('block', 'allow')),
    action      text        NOT NULL DEFAULT '',
    exempts     text        NOT NULL DEFAULT '[]',
    description text        NOT NULL DEFAULT '',
    created_by  text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE list_entries (
    list_id    bigint      NOT NULL REFERENCES lists (list_id),
    entry_key  text        NOT NULL,
    note       text        NOT NULL DEFAULT '',
    added_by   text        NOT NULL DEFAULT '',
    added_at   timestamptz NOT NULL,
    expires_at timestamptz,
    PRIMARY KEY (list_id, entry_key)
);

CREATE TABLE list_changes (
    seq        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL,
    actor      text        NOT NULL,
    list_id    bigint      NOT NULL,
    list_name  text        NOT NULL,
    op         text        NOT NULL,
    entry_key  text        NOT NULL DEFAULT '',
    note       text        NOT NULL DEFAULT '',
    expires_at timestamptz,
    detail     text        NOT NULL DEFAULT ''
);
CREATE INDEX list_changes_list ON list_changes (list_id, seq);
