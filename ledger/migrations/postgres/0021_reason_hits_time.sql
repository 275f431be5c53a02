-- Rule track records over a period read reason_hits alone: each hit keeps
-- its decision's time and dry-run flag, and when the decision was first
-- appealed, so the Rules page scans one covering index instead of joining
-- every decision of the period. PostgreSQL dialect.
ALTER TABLE reason_hits ADD COLUMN decided_at timestamptz;
ALTER TABLE reason_hits ADD COLUMN dry_run boolean NOT NULL DEFAULT false;
ALTER TABLE reason_hits ADD COLUMN appealed_at timestamptz;

UPDATE reason_hits h SET decided_at = d.decided_at, dry_run = d.dry_run
    FROM decisions d WHERE d.decision_id = h.decision_id;
UPDATE reason_hits h SET appealed_at = a.first
    FROM (SELECT decision_id, min(filed_at) AS first FROM appeals GROUP BY decision_id) a
    WHERE a.decision_id = h.decision_id;
ALTER TABLE reason_hits ALTER COLUMN decided_at SET NOT NULL;

CREATE INDEX reason_hits_time ON reason_hits (decided_at, dry_run, code) INCLUDE (appealed_at, overturned_at);
