-- Shadow verdicts: what a candidate policy evaluated beside the active one
-- would have decided. Never enforced; compared with the decision's action
-- for the agreement report.

CREATE TABLE shadow_verdicts (
    decision_id  TEXT PRIMARY KEY REFERENCES decisions (decision_id),
    revision     TEXT NOT NULL DEFAULT '',       -- the shadow bundle's revision
    action       TEXT NOT NULL DEFAULT '',       -- '' when the shadow could not decide
    codes        TEXT NOT NULL DEFAULT '[]',     -- JSON array of reason codes
    error        TEXT NOT NULL DEFAULT '',
    evaluated_at TEXT NOT NULL,
    verdict      TEXT NOT NULL                   -- the whole decision.Verdict as JSON
);
CREATE INDEX shadow_verdicts_revision ON shadow_verdicts (revision, evaluated_at);
