-- Account standing: who placed and who ended each hold and suspension, the
-- rules overturns cleared, a version per subject that serialises its
-- decisions, manual decisions, and fallbacks superseded by the ledger's
-- decision for the same request. SQLite dialect.

ALTER TABLE decisions ADD COLUMN source TEXT NOT NULL DEFAULT 'policy';

-- How a hold or suspension ended: 'remedied', 'lifted' (by hand) or
-- 'overturned'; by which decision or appeal; which reviewer.
ALTER TABLE holds ADD COLUMN lifted_kind TEXT NOT NULL DEFAULT '';
ALTER TABLE holds ADD COLUMN lifted_by TEXT NOT NULL DEFAULT '';
ALTER TABLE holds ADD COLUMN lifted_reviewer TEXT NOT NULL DEFAULT '';
ALTER TABLE suspensions ADD COLUMN source TEXT NOT NULL DEFAULT 'policy';
ALTER TABLE suspensions ADD COLUMN lifted_kind TEXT NOT NULL DEFAULT '';
ALTER TABLE suspensions ADD COLUMN lifted_by TEXT NOT NULL DEFAULT '';
ALTER TABLE suspensions ADD COLUMN lifted_reviewer TEXT NOT NULL DEFAULT '';
ALTER TABLE strikes ADD COLUMN overturned_by TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN overturned_by TEXT NOT NULL DEFAULT '';

-- A rule an overturned appeal cleared for a subject on the evidence it
-- fired with (canonical JSON), until a time.
CREATE TABLE cleared_rules (
    id          INTEGER PRIMARY KEY,
    subject_id  TEXT NOT NULL,
    code        TEXT NOT NULL,
    rule        TEXT NOT NULL DEFAULT '',
    evidence    TEXT NOT NULL DEFAULT '[]',
    since       TEXT NOT NULL,
    until       TEXT NOT NULL,
    appeal_id   TEXT NOT NULL,
    decision_id TEXT NOT NULL REFERENCES decisions (decision_id)
);
CREATE INDEX cleared_rules_subject ON cleared_rules (subject_id, until);

-- The version of each subject's standing: every commit that changes it
-- bumps it under the row's lock.
CREATE TABLE subject_versions (
    subject_id TEXT PRIMARY KEY,
    version    INTEGER NOT NULL DEFAULT 0
);

-- A fallback decided while the ledger was unreachable, for a request id the
-- ledger had already decided: its id resolves to the ledger's decision.
CREATE TABLE superseded (
    decision_id    TEXT PRIMARY KEY,
    request_id     TEXT NOT NULL,
    by_decision_id TEXT NOT NULL REFERENCES decisions (decision_id),
    at             TEXT NOT NULL
);
