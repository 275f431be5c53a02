-- The review queue's cases: a decision the policy marks for review opens
-- one, in the decision's own transaction. One open case per subject: a
-- later decision marked for review while it is open joins it. Notes are
-- kept for cases and appeals alike (one workflow for a reviewer). SQLite
-- dialect.

CREATE TABLE review_cases (
    case_id      TEXT PRIMARY KEY,
    subject_id   TEXT NOT NULL,
    -- the decision that opened the case
    decision_id  TEXT NOT NULL REFERENCES decisions (decision_id),
    opened_at    TEXT NOT NULL,
    due_at       TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    claimed_by   TEXT NOT NULL DEFAULT '',
    claimed_until TEXT,
    -- once resolved: how, when, by which human, through which caller, why,
    -- and the manual decision that carried the resolution out (none for uphold)
    resolution   TEXT NOT NULL DEFAULT '' CHECK (resolution IN ('', 'uphold', 'lift', 'suspend')),
    resolved_at  TEXT,
    reviewer     TEXT NOT NULL DEFAULT '',
    resolved_by  TEXT NOT NULL DEFAULT '',
    note         TEXT NOT NULL DEFAULT '',
    action_decision_id TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX review_cases_one_open ON review_cases (subject_id) WHERE status = 'open';
-- The queue: open cases oldest first.
CREATE INDEX review_cases_queue ON review_cases (status, opened_at, case_id);

-- Every decision of a case, and the reason codes that sent each to review.
CREATE TABLE review_case_decisions (
    case_id     TEXT NOT NULL REFERENCES review_cases (case_id),
    decision_id TEXT NOT NULL REFERENCES decisions (decision_id),
    added_at    TEXT NOT NULL,
    PRIMARY KEY (case_id, decision_id)
);
CREATE TABLE review_case_reasons (
    case_id TEXT NOT NULL REFERENCES review_cases (case_id),
    code    TEXT NOT NULL,
    PRIMARY KEY (code, case_id)
);

-- A reviewer's notes on a case or an appeal, oldest first.
CREATE TABLE review_notes (
    note_id TEXT PRIMARY KEY,
    kind    TEXT NOT NULL CHECK (kind IN ('case', 'appeal')),
    item_id TEXT NOT NULL,
    author  TEXT NOT NULL,
    at      TEXT NOT NULL,
    body    TEXT NOT NULL
);
CREATE INDEX review_notes_item ON review_notes (item_id, at, note_id);
