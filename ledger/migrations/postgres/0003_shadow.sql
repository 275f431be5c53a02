-- Shadow verdicts: what a candidate policy evaluated beside the active one
-- would have decided. Never enforced; compared with the decision's action
-- for the agreement report.

CREATE TABLE shadow_verdicts (
    decision_id  text        PRIMARY KEY REFERENCES decisions (decision_id),
    revision     text        NOT NULL DEFAULT '',   -- the shadow bundle's revision
    action       text        NOT NULL DEFAULT '',   -- '' when the shadow could not decide
    codes        text        NOT NULL DEFAULT '[]', -- JSON array of reason codes
    error        text        NOT NULL DEFAULT '',
    evaluated_at timestamptz NOT NULL,
    verdict      jsonb       NOT NULL               -- the whole decision.Verdict
);
CREATE INDEX shadow_verdicts_revision ON shadow_verdicts (revision, evaluated_at);
