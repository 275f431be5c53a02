-- History reads a subject whose standing version is 0 as one that nothing
-- was ever committed for, and skips its holds, strikes, recent decisions
-- and cleared rules. Every commit that changes a standing bumps the
-- version, but a ledger older than migration 0004 holds subjects with
-- decisions, holds or strikes and no version yet (or a version row created
-- at 0 by a later lock that changed nothing): they get version 1 here.
-- SQLite dialect.
INSERT OR IGNORE INTO subject_versions (subject_id, version)
SELECT subject_id, 1 FROM (
    SELECT subject_id FROM decisions
    UNION SELECT subject_id FROM holds
    UNION SELECT subject_id FROM suspensions
    UNION SELECT subject_id FROM strikes
    UNION SELECT subject_id FROM cleared_rules
) AS s;
UPDATE subject_versions SET version = 1
WHERE version = 0 AND subject_id IN (
    SELECT subject_id FROM decisions
    UNION SELECT subject_id FROM holds
    UNION SELECT subject_id FROM suspensions
    UNION SELECT subject_id FROM strikes
    UNION SELECT subject_id FROM cleared_rules
);
