-- Decision search by reason code walks reason_hits of that code newest
-- first: (code, decided_at DESC, decision_id DESC) makes it an index range
-- scan instead of a walk of every hit by time. SQLite dialect.
CREATE INDEX reason_hits_code_time ON reason_hits (code, decided_at DESC, decision_id DESC);
