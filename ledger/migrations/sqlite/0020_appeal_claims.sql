-- A reviewer claims an open appeal while working it, so two reviewers do
-- not work the same one; a claim lapses at claimed_until. SQLite dialect.
ALTER TABLE appeals ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE appeals ADD COLUMN claimed_until TEXT;
