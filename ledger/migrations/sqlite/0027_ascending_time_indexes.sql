-- The time-ordered indexes behind history, search and the reason-code
-- search, rebuilt ascending. Their queries read newest first, which SQLite
-- does as well by walking an ascending index backwards. But a new decision
-- is the newest of its subject, checkpoint, action, revision, source and
-- reason codes: in a descending index it goes before every entry of its
-- range, where each page split leaves half-empty pages and the next insert
-- splits again; in an ascending one it goes after them, and SQLite fills
-- the pages to the left of the split. Fewer pages written per decision,
-- indexes about a third smaller. Each index is read by the same queries
-- with the same columns, so a replica of the previous version keeps
-- working on the new indexes. SQLite dialect. Rebuilding them holds the
-- ledger's write lock: about 45 s for a million decisions on a 2-core
-- machine, once, before gavel starts serving.
DROP INDEX decisions_subject_time;
CREATE INDEX decisions_subject_time ON decisions (subject_id, decided_at, decision_id);
DROP INDEX decisions_checkpoint_time;
CREATE INDEX decisions_checkpoint_time ON decisions (checkpoint, decided_at, decision_id);
DROP INDEX decisions_action_time;
CREATE INDEX decisions_action_time ON decisions (action, decided_at, decision_id);
DROP INDEX decisions_revision_time;
CREATE INDEX decisions_revision_time ON decisions (bundle_revision, decided_at, decision_id);
DROP INDEX decisions_fallback_time;
CREATE INDEX decisions_fallback_time ON decisions (decided_at, decision_id) WHERE fallback = 1;
DROP INDEX decisions_source_time;
CREATE INDEX decisions_source_time ON decisions (source, decided_at, decision_id);
DROP INDEX reason_hits_code_time;
CREATE INDEX reason_hits_code_time ON reason_hits (code, decided_at, decision_id);
