-- Decision search: newest first by (decided_at, decision_id), filtered by
-- checkpoint, action, bundle revision or fallback, each served by an index
-- that starts with the filter and ends with the order, so a page is an index
-- range scan whatever the ledger's size. (A reason-code filter walks
-- reason_hits by time, on the index migration 0021 adds.) PostgreSQL dialect.

CREATE INDEX decisions_checkpoint_time ON decisions (checkpoint, decided_at DESC, decision_id DESC);
CREATE INDEX decisions_action_time ON decisions (action, decided_at DESC, decision_id DESC);
CREATE INDEX decisions_revision_time ON decisions (bundle_revision, decided_at DESC, decision_id DESC);
CREATE INDEX decisions_fallback_time ON decisions (decided_at DESC, decision_id DESC) WHERE fallback;

CREATE INDEX appeals_time ON appeals (filed_at, appeal_id);
