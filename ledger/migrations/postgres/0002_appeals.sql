-- Appeals (the internal complaint-handling system), the false positives they
-- record against the rules that fired, and the index the statements-of-
-- reasons export reads by. PostgreSQL dialect.

CREATE TABLE appeals (
    appeal_id   text        PRIMARY KEY,
    decision_id text        NOT NULL REFERENCES decisions (decision_id),
    subject_id  text        NOT NULL,
    statement   text        NOT NULL,
    filed_by    text        NOT NULL DEFAULT '',
    filed_at    timestamptz NOT NULL,
    -- open until resolved; the outcome once resolved
    status      text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'upheld', 'overturned')),
    resolved_at timestamptz,
    reviewer    text        NOT NULL DEFAULT '',   -- the human who resolved it
    resolved_by text        NOT NULL DEFAULT '',   -- the authenticated caller
    note        text        NOT NULL DEFAULT ''
);
-- One open appeal per decision.
CREATE UNIQUE INDEX appeals_one_open ON appeals (decision_id) WHERE status = 'open';
CREATE INDEX appeals_decision ON appeals (decision_id, filed_at);
-- The review queue: by status, oldest first.
CREATE INDEX appeals_queue ON appeals (status, filed_at, appeal_id);

-- Set when an appeal overturned the decision: a false positive of the code.
ALTER TABLE reason_hits ADD COLUMN overturned_at timestamptz;

CREATE INDEX decisions_time ON decisions (decided_at, decision_id);
