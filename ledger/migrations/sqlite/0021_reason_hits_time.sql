-- Rule track records over a period read reason_hits alone: each hit keeps
-- its decision's time and dry-run flag, and when the decision was first
-- appealed, so the Rules page scans one covering index instead of joining
-- every decision of the period. SQLite dialect.
ALTER TABLE reason_hits ADD COLUMN decided_at TEXT NOT NULL DEFAULT '';
ALTER TABLE reason_hits ADD COLUMN dry_run INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reason_hits ADD COLUMN appealed_at TEXT;

UPDATE reason_hits SET
    decided_at = (SELECT d.decided_at FROM decisions d WHERE d.decision_id = reason_hits.decision_id),
    dry_run = (SELECT d.dry_run FROM decisions d WHERE d.decision_id = reason_hits.decision_id),
    appealed_at = (SELECT min(a.filed_at) FROM appeals a WHERE a.decision_id = reason_hits.decision_id);

CREATE INDEX reason_hits_time ON reason_hits (decided_at, dry_run, code, appealed_at, overturned_at);
