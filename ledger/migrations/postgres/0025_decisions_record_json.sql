-- A decision's record is written and read whole, never queried by path
-- inside the database. As jsonb, PostgreSQL parsed every record into its
-- binary form at the commit (about 70 µs a kilobyte on a 2-core machine, the
-- largest part of a decision's INSERT) and printed it back as text at every
-- read. As json it keeps the text gavel wrote: still checked to be JSON,
-- still open to -> and ->> in an ad hoc query. PostgreSQL dialect.
--
-- This rewrites the decisions table under its lock: on a large ledger the
-- upgrade takes time in proportion to it (measure on a copy first).
ALTER TABLE decisions ALTER COLUMN record TYPE json USING record::json;
