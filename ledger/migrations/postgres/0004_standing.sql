-- Account standing: who placed and who ended each hold and suspension, the
-- rules overturns cleared, a version per subject that serialises its
-- decisions, manual decisions, and fallbacks superseded by the ledger's
-- decision for the same request. PostgreSQL dialect.

ALTER TABLE decisions ADD COLUMN source text NOT NULL DEFAULT 'policy';

-- How a hold or suspension ended: 'remedied', 'lifted' (by hand) or
-- 'overturned'; by which decision or appeal; which reviewer.
ALTER TABLE holds ADD COLUMN lifted_kind text NOT NULL DEFAULT '';
ALTER TABLE holds ADD COLUMN lifted_by text NOT NULL DEFAULT '';
ALTER TABLE holds ADD COLUMN lifted_reviewer text NOT NULL DEFAULT '';
ALTER TABLE suspensions ADD COLUMN source text NOT NULL DEFAULT 'policy';
ALTER TABLE suspensions ADD COLUMN lifted_kind text NOT NULL DEFAULT '';
ALTER TABLE suspensions ADD COLUMN lifted_by text NOT NULL DEFAULT '';
ALTER TABLE suspensions ADD COLUMN lifted_reviewer text NOT NULL DEFAULT '';
ALTER TABLE strikes ADD COLUMN overturned_by text NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN overturned_by text NOT NULL DEFAULT '';

-- A rule an overturned appeal cleared for a subject on the evidence it
-- fired with (canonical JSON), until a time.
CREATE TABLE cleared_rules (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject_id  text        NOT NULL,
    code        text        NOT NULL,
    rule        text        NOT NULL DEFAULT '',
    evidence    text        NOT NULL DEFAULT '[]',
    since       timestamptz NOT NULL,
    until       timestamptz NOT NULL,
    appeal_id   text        NOT NULL,
    decision_id text        NOT NULL REFERENCES decisions (decision_id)
);
CREATE INDEX cleared_rules_subject ON cleared_rules (subject_id, until);

-- The version of each subject's standing: every commit that changes it
-- bumps it under the row's lock (SELECT … FOR UPDATE), which serialises the
-- decisions of one subject across replicas.
CREATE TABLE subject_versions (
    subject_id text   PRIMARY KEY,
    version    bigint NOT NULL DEFAULT 0
);

-- A fallback decided while the ledger was unreachable, for a request id the
-- ledger had already decided: its id resolves to the ledger's decision.
CREATE TABLE superseded (
    decision_id    text        PRIMARY KEY,
    request_id     text        NOT NULL,
    by_decision_id text        NOT NULL REFERENCES decisions (decision_id),
    at             timestamptz NOT NULL
);
