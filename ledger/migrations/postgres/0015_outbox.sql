-- The events outbox: each change of standing, appeal, case or list writes
-- its events in the same transaction as the change. Every writer takes the
-- subject's lock (its subject_versions row, or the lists lock) before it
-- writes an event, so seq orders each subject's events as they committed.
-- PostgreSQL dialect.
CREATE TABLE events (
    seq      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id text        NOT NULL UNIQUE,
    type     text        NOT NULL,
    subject  text        NOT NULL,
    at       timestamptz NOT NULL,
    data     text        NOT NULL,
    -- true once each endpoint that wants it has its delivery row.
    routed   boolean     NOT NULL DEFAULT false
);
CREATE INDEX events_unrouted ON events (seq) WHERE NOT routed;

-- One event on its way to one endpoint. A subject's deliveries to an
-- endpoint go one at a time, in seq order: only the lowest pending seq of
-- an (endpoint, subject) is ever claimed.
CREATE TABLE event_deliveries (
    endpoint     text        NOT NULL,
    seq          bigint      NOT NULL REFERENCES events (seq),
    subject      text        NOT NULL,
    state        text        NOT NULL DEFAULT 'pending', -- pending | delivered | dead
    attempts     integer     NOT NULL DEFAULT 0,
    next_at      timestamptz NOT NULL,
    lease_until  timestamptz,
    lease        text        NOT NULL DEFAULT '',
    last_status  integer     NOT NULL DEFAULT 0,
    last_error   text        NOT NULL DEFAULT '',
    delivered_at timestamptz,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (endpoint, seq)
);
CREATE INDEX event_deliveries_pending ON event_deliveries (endpoint, seq) WHERE state = 'pending';
CREATE INDEX event_deliveries_subject ON event_deliveries (endpoint, subject, seq) WHERE state = 'pending';
CREATE INDEX event_deliveries_dead ON event_deliveries (endpoint, seq) WHERE state = 'dead';

-- Running counts per endpoint, across replicas.
CREATE TABLE event_endpoints (
    endpoint  text   PRIMARY KEY,
    delivered bigint NOT NULL DEFAULT 0,
    failed    bigint NOT NULL DEFAULT 0
);

-- A hold or suspension that runs out has no transaction of its own: a
-- sweeper writes its expiry event once and marks it here. Those already
-- ended when this migration runs get none.
ALTER TABLE holds ADD COLUMN expiry_evented boolean NOT NULL DEFAULT false;
ALTER TABLE suspensions ADD COLUMN expiry_evented boolean NOT NULL DEFAULT false;
UPDATE holds SET expiry_evented = true WHERE lifted_at IS NOT NULL OR (until IS NOT NULL AND until <= now());
UPDATE suspensions SET expiry_evented = true WHERE lifted_at IS NOT NULL OR (until IS NOT NULL AND until <= now());
CREATE INDEX holds_expiry_due ON holds (until) WHERE lifted_at IS NULL AND NOT expiry_evented AND until IS NOT NULL;
CREATE INDEX suspensions_expiry_due ON suspensions (until) WHERE lifted_at IS NULL AND NOT expiry_evented AND until IS NOT NULL;
-- What a decision lifted, for its events.
CREATE INDEX holds_lifted_by ON holds (lifted_by) WHERE lifted_by <> '';
CREATE INDEX suspensions_lifted_by ON suspensions (lifted_by) WHERE lifted_by <> '';
