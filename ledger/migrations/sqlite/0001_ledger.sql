-- gavel enforcement ledger, SQLite dialect.
-- Times are TEXT in UTC, fixed width 'YYYY-MM-DDTHH:MM:SS.ffffffZ', so that
-- text order is time order and indexes on them work for ranges.

CREATE TABLE decisions (
    decision_id     TEXT    PRIMARY KEY,
    request_id      TEXT    NOT NULL UNIQUE,
    subject_id      TEXT    NOT NULL,
    checkpoint      TEXT    NOT NULL,
    decided_at      TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    codes           TEXT    NOT NULL DEFAULT '[]', -- JSON array of reason codes
    fallback        INTEGER NOT NULL DEFAULT 0,
    dry_run         INTEGER NOT NULL DEFAULT 0,
    bundle_revision TEXT    NOT NULL DEFAULT '',
    latency_ns      INTEGER NOT NULL DEFAULT 0,
    overturned_at   TEXT,
    record          TEXT    NOT NULL              -- the whole decision.Record as JSON
);
CREATE INDEX decisions_subject_time ON decisions (subject_id, decided_at DESC, decision_id DESC);
CREATE INDEX decisions_subject_overturned ON decisions (subject_id) WHERE overturned_at IS NOT NULL;

CREATE TABLE reason_hits (
    decision_id TEXT NOT NULL REFERENCES decisions (decision_id),
    code        TEXT NOT NULL,
    PRIMARY KEY (decision_id, code)
);
CREATE INDEX reason_hits_code ON reason_hits (code);

CREATE TABLE holds (
    id                INTEGER PRIMARY KEY,
    subject_id        TEXT NOT NULL,
    capability        TEXT NOT NULL,
    since             TEXT NOT NULL,
    until             TEXT,                       -- NULL: until lifted
    decision_id       TEXT NOT NULL REFERENCES decisions (decision_id),
    remedy            TEXT NOT NULL DEFAULT '',
    remedy_checkpoint TEXT NOT NULL DEFAULT '',   -- a passing decision here lifts the hold
    lifted_at         TEXT,
    lifted_reason     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX holds_subject_active ON holds (subject_id) WHERE lifted_at IS NULL;
CREATE INDEX holds_decision ON holds (decision_id);

CREATE TABLE suspensions (
    decision_id   TEXT PRIMARY KEY REFERENCES decisions (decision_id),
    subject_id    TEXT NOT NULL,
    since         TEXT NOT NULL,
    until         TEXT,
    lifted_at     TEXT,
    lifted_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX suspensions_subject_active ON suspensions (subject_id) WHERE lifted_at IS NULL;

CREATE TABLE strikes (
    decision_id   TEXT PRIMARY KEY REFERENCES decisions (decision_id), -- never two strikes for one decision
    subject_id    TEXT NOT NULL,
    codes         TEXT NOT NULL DEFAULT '[]',
    at            TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    overturned_at TEXT
);
CREATE INDEX strikes_subject_active ON strikes (subject_id, expires_at) WHERE overturned_at IS NULL;
