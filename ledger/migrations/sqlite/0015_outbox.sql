-- The events outbox: each change of standing, appeal, case or list writes
-- its events in the same transaction as the change. seq numbers them in
-- commit order for each subject (SQLite has one writer; AUTOINCREMENT never
-- hands a number out twice). SQLite dialect.
CREATE TABLE events (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT    NOT NULL UNIQUE,
    type     TEXT    NOT NULL,
    subject  TEXT    NOT NULL,
    at       TEXT    NOT NULL,
    data     TEXT    NOT NULL,
    -- 1 once each endpoint that wants it has its delivery row.
    routed   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_unrouted ON events (seq) WHERE NOT routed;

-- One event on its way to one endpoint. A subject's deliveries to an
-- endpoint go one at a time, in seq order: only the lowest pending seq of
-- an (endpoint, subject) is ever claimed.
CREATE TABLE event_deliveries (
    endpoint     TEXT    NOT NULL,
    seq          INTEGER NOT NULL REFERENCES events (seq),
    subject      TEXT    NOT NULL,
    state        TEXT    NOT NULL DEFAULT 'pending', -- pending | delivered | dead
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      TEXT    NOT NULL,
    lease_until  TEXT,
    lease        TEXT    NOT NULL DEFAULT '',
    last_status  INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT    NOT NULL DEFAULT '',
    delivered_at TEXT,
    updated_at   TEXT    NOT NULL,
    PRIMARY KEY (endpoint, seq)
);
CREATE INDEX event_deliveries_pending ON event_deliveries (endpoint, seq) WHERE state = 'pending';
CREATE INDEX event_deliveries_subject ON event_deliveries (endpoint, subject, seq) WHERE state = 'pending';
CREATE INDEX event_deliveries_dead ON event_deliveries (endpoint, seq) WHERE state = 'dead';

-- Running counts per endpoint, across replicas.
CREATE TABLE event_endpoints (
    endpoint  TEXT    PRIMARY KEY,
    delivered INTEGER NOT NULL DEFAULT 0,
    failed    INTEGER NOT NULL DEFAULT 0
);

-- A hold or suspension that runs out has no transaction of its own: a
-- sweeper writes its expiry event once and marks it here. Those already
-- ended when this migration runs get none.
ALTER TABLE holds ADD COLUMN expiry_evented INTEGER NOT NULL DEFAULT 0;
ALTER TABLE suspensions ADD COLUMN expiry_evented INTEGER NOT NULL DEFAULT 0;
UPDATE holds SET expiry_evented = 1
    WHERE lifted_at IS NOT NULL OR (until IS NOT NULL AND until <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
UPDATE suspensions SET expiry_evented = 1
    WHERE lifted_at IS NOT NULL OR (until IS NOT NULL AND until <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
CREATE INDEX holds_expiry_due ON holds (until) WHERE lifted_at IS NULL AND NOT expiry_evented AND until IS NOT NULL;
CREATE INDEX suspensions_expiry_due ON suspensions (until) WHERE lifted_at IS NULL AND NOT expiry_evented AND until IS NOT NULL;
-- What a decision lifted, for its events.
CREATE INDEX holds_lifted_by ON holds (lifted_by) WHERE lifted_by <> '';
CREATE INDEX suspensions_lifted_by ON suspensions (lifted_by) WHERE lifted_by <> '';
