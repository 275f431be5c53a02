-- gavel enforcement ledger, PostgreSQL dialect.
-- Times are timestamptz (microsecond precision; the ledger truncates to it).

CREATE TABLE decisions (
    decision_id     text        PRIMARY KEY,
    request_id      text        NOT NULL UNIQUE,
    subject_id      text        NOT NULL,
    checkpoint      text        NOT NULL,
    decided_at      timestamptz NOT NULL,
    action          text        NOT NULL,
    codes           text        NOT NULL DEFAULT '[]', -- JSON array of reason codes
    fallback        boolean     NOT NULL DEFAULT false,
    dry_run         boolean     NOT NULL DEFAULT false,
    bundle_revision text        NOT NULL DEFAULT '',
    latency_ns      bigint      NOT NULL DEFAULT 0,
    overturned_at   timestamptz,
    record          jsonb       NOT NULL              -- the whole decision.Record
);
CREATE INDEX decisions_subject_time ON decisions (subject_id, decided_at DESC, decision_id DESC);
CREATE INDEX decisions_subject_overturned ON decisions (subject_id) WHERE overturned_at IS NOT NULL;

CREATE TABLE reason_hits (
    decision_id text NOT NULL REFERENCES decisions (decision_id),
    code        text NOT NULL,
    PRIMARY KEY (decision_id, code)
);
CREATE INDEX reason_hits_code ON reason_hits (code);

CREATE TABLE holds (
    id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject_id        text        NOT NULL,
    capability        text        NOT NULL,
    since             timestamptz NOT NULL,
    until             timestamptz,                -- NULL: until lifted
    decision_id       text        NOT NULL REFERENCES decisions (decision_id),
    remedy            text        NOT NULL DEFAULT '',
    remedy_checkpoint text        NOT NULL DEFAULT '', -- a passing decision here lifts the hold
    lifted_at         timestamptz,
    lifted_reason     text        NOT NULL DEFAULT ''
);
CREATE INDEX holds_subject_active ON holds (subject_id) WHERE lifted_at IS NULL;
CREATE INDEX holds_decision ON holds (decision_id);

CREATE TABLE suspensions (
    decision_id   text        PRIMARY KEY REFERENCES decisions (decision_id),
    subject_id    text        NOT NULL,
    since         timestamptz NOT NULL,
    until         timestamptz,
    lifted_at     timestamptz,
    lifted_reason text        NOT NULL DEFAULT ''
);
CREATE INDEX suspensions_subject_active ON suspensions (subject_id) WHERE lifted_at IS NULL;

CREATE TABLE strikes (
    decision_id   text        PRIMARY KEY REFERENCES decisions (decision_id), -- never two strikes for one decision
    subject_id    text        NOT NULL,
    codes         text        NOT NULL DEFAULT '[]',
    at            timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    overturned_at timestamptz
);
CREATE INDEX strikes_subject_active ON strikes (subject_id, expires_at) WHERE overturned_at IS NULL;
