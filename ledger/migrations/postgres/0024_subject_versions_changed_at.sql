-- A decision commits without being made again when its subject's standing
-- version is the one its history was read at. But that history is read as
-- of the decision's own time: a later-dated decision of the same subject
-- that committed first (it overtook this one) counts in the version and is
-- left out of the history. changed_at is the latest time a commit changed
-- the standing as of; a decision dated before it is made again. Subjects
-- of an older ledger get their latest decision's time. PostgreSQL dialect.
ALTER TABLE subject_versions ADD COLUMN changed_at timestamptz;
UPDATE subject_versions SET changed_at = (
    SELECT max(decided_at) FROM decisions
    WHERE decisions.subject_id = subject_versions.subject_id AND NOT dry_run
);
