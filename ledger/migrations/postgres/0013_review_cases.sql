-- The review queue's cases: a decision the policy marks for review opens
-- one, in the decision's own transaction. One open case per subject: a
-- later decision marked for review while it is open joins it. Notes are
-- kept for cases and appeals alike (one workflow for a reviewer). PostgreSQL
-- dialect.

CREATE TABLE review_cases (
    case_id      text PRIMARY KEY,
    subject_id   text NOT NULL,
    -- the decision that opened the case
    decision_id  text NOT NULL REFERENCES decisions (decision_id),
    opened_at    timestamptz NOT NULL,
    due_at       timestamptz NOT NULL,
    status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    claimed_by   text NOT NULL DEFAULT '',
    claimed_until timestamptz,
    -- once resolved: how, when, by which human, through which caller, why,
    -- and the manual decision that carried the resolution out (none for uphold)
    resolution   text NOT NULL DEFAULT '' CHECK (resolution IN ('', 'uphold', 'lift', 'suspend')),
    resolved_at  timestamptz,
    reviewer     text NOT NULL DEFAULT '',
    resolved_by  text NOT NULL DEFAULT '',
    note         text NOT NULL DEFAULT '',
    action_decision_id text NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX review_cases_one_open ON review_cases (subject_id) WHERE status = 'open';
-- The queue: open cases oldest first.
CREATE INDEX review_cases_queue ON review_cases (status, opened_at, case_id);

-- Every decision of a case, and the reason codes that sent each to review.
CREATE TABLE review_case_decisions (
    case_id     text NOT NULL REFERENCES review_cases (case_id),
    decision_id text NOT NULL REFERENCES decisions (decision_id),
    added_at    timestamptz NOT NULL,
    PRIMARY KEY (case_id, decision_id)
);
CREATE TABLE review_case_reasons (
    case_id text NOT NULL REFERENCES review_cases (case_id),
    code    text NOT NULL,
    PRIMARY KEY (code, case_id)
);

-- A reviewer's notes on a case or an appeal, oldest first.
CREATE TABLE review_notes (
    note_id text PRIMARY KEY,
    kind    text NOT NULL CHECK (kind IN ('case', 'appeal')),
    item_id text NOT NULL,
    author  text NOT NULL,
    at      timestamptz NOT NULL,
    body    text NOT NULL
);
CREATE INDEX review_notes_item ON review_notes (item_id, at, note_id);
