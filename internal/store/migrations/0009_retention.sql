-- Retention: finished jobs are deleted once they are older than the
-- server's --retain, or than a retain of their own; what their attempts
-- cost is kept, rolled up, for the cost reports. Jobs are counted by state
-- as they change, so that counting them reads a few rows, not the table.

-- A job's own retention, in seconds; NULL: the server's --retain. When it
-- is set, expires_at is finished_at plus it (kept by jobs_expires_at).
ALTER TABLE jobs ADD COLUMN retain_seconds INTEGER;
ALTER TABLE jobs ADD COLUMN expires_at TEXT;

-- Finished jobs under the server's retention, oldest first.
CREATE INDEX jobs_finished ON jobs (finished_at)
    WHERE retain_seconds IS NULL AND finished_at IS NOT NULL;
-- Finished jobs with a retention of their own, by when it ends.
CREATE INDEX jobs_expires ON jobs (expires_at)
    WHERE expires_at IS NOT NULL;

-- A job's labels, for deleting them with it (and for the check of the
-- foreign key when the job goes, which would otherwise read every label).
CREATE INDEX job_labels_job ON job_labels (job_id);

-- Timestamps keep their fixed width (nanoseconds; SQLite's arithmetic
-- keeps milliseconds), so that they compare as they sort.
CREATE TRIGGER jobs_expires_at AFTER UPDATE OF finished_at, retain_seconds ON jobs
WHEN NEW.retain_seconds IS NOT NULL AND NEW.finished_at IS NOT NULL
BEGIN
    UPDATE jobs SET expires_at =
        strftime('%Y-%m-%dT%H:%M:%f', NEW.finished_at, '+' || NEW.retain_seconds || ' seconds') || '000000Z'
    WHERE id = NEW.id;
END;

-- What the attempts of deleted jobs cost, by UTC day, pool, market and the
-- jobs' labels (a JSON object, keys sorted): the cost reports add these
-- lines to the attempts still stored. first_at and last_at bound the time
-- of the day they held capacity, for a report that starts within it.
CREATE TABLE cost_rollup (
    day      TEXT NOT NULL,               -- 2006-01-02, UTC
    pool     TEXT NOT NULL,
    market   TEXT NOT NULL,
    labels   TEXT NOT NULL,
    first_at TEXT NOT NULL,
    last_at  TEXT NOT NULL,
    usd      REAL NOT NULL,
    attempts INTEGER NOT NULL,            -- how many day pieces of attempts it sums
    PRIMARY KEY (day, pool, market, labels)
) WITHOUT ROWID;

-- What the attempts of deleted jobs held of each node each UTC day, so
-- that the node's idle time stays its life less what all its attempts
-- held.
CREATE TABLE cost_rollup_held (
    day      TEXT NOT NULL,               -- 2006-01-02, UTC
    node_id  TEXT NOT NULL,
    first_at TEXT NOT NULL,
    last_at  TEXT NOT NULL,
    usd      REAL NOT NULL,
    PRIMARY KEY (day, node_id)
) WITHOUT ROWID;

-- Jobs by state, kept by the triggers below in the transactions that
-- insert, move and delete jobs.
CREATE TABLE job_counts (
    state TEXT PRIMARY KEY,
    n     INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO job_counts (state, n) SELECT state, count(*) FROM jobs GROUP BY state;

CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs
BEGIN
    INSERT INTO job_counts (state, n) VALUES (NEW.state, 1)
        ON CONFLICT (state) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER job_counts_update AFTER UPDATE OF state ON jobs
WHEN OLD.state != NEW.state
BEGIN
    UPDATE job_counts SET n = n - 1 WHERE state = OLD.state;
    INSERT INTO job_counts (state, n) VALUES (NEW.state, 1)
        ON CONFLICT (state) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs
BEGIN
    UPDATE job_counts SET n = n - 1 WHERE state = OLD.state;
END;
