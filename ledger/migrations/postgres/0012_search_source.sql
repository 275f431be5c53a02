-- Decision search by source: reviewers' manual actions (rare) and the
-- policy's decisions, newest first.
CREATE INDEX decisions_source_time ON decisions (source, decided_at DESC, decision_id DESC);
