-- reason_hits_code (code) is a prefix of reason_hits_code_time (code,
-- decided_at DESC, decision_id DESC), which migration 0022 added: every
-- lookup by code can use the longer index, and each reason a decision
-- records no longer pays for a second. Dropping an index rewrites nothing
-- and no query names it, so replicas of the previous version keep working.
DROP INDEX IF EXISTS reason_hits_code;
