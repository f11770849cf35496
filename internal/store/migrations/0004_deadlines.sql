-- Jobs with a deadline: the dispatcher reads the running ones every round to
-- decide whether they stay on their market.
ALTER TABLE jobs ADD COLUMN deadline TEXT; -- NULL when the job has none
CREATE INDEX jobs_deadline ON jobs (state) WHERE deadline IS NOT NULL;

-- An attempt being moved to other capacity: the market it moves to. Its node
-- stops it; when it ends, the job is queued again without spending a retry.
ALTER TABLE attempts ADD COLUMN move_to TEXT NOT NULL DEFAULT '';
