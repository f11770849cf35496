-- SQLite's 0009 for PostgreSQL: the same tables (DOUBLE PRECISION for
-- REAL), and its triggers as PL/pgSQL functions.

ALTER TABLE jobs ADD COLUMN retain_seconds INTEGER;
ALTER TABLE jobs ADD COLUMN expires_at TEXT COLLATE "C";

CREATE INDEX jobs_finished ON jobs (finished_at)
    WHERE retain_seconds IS NULL AND finished_at IS NOT NULL;
CREATE INDEX jobs_expires ON jobs (expires_at)
    WHERE expires_at IS NOT NULL;

CREATE INDEX job_labels_job ON job_labels (job_id);

-- expires_at is finished_at plus retain_seconds, in the fixed width of the
-- other timestamps, at the millisecond as SQLite's trigger computes it.
CREATE FUNCTION jobs_expires_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.expires_at := to_char(
        (NEW.finished_at::timestamptz + NEW.retain_seconds * interval '1 second') AT TIME ZONE 'UTC',
        'YYYY-MM-DD"T"HH24:MI:SS.MS') || '000000Z';
    RETURN NEW;
END $$;

CREATE TRIGGER jobs_expires_at BEFORE UPDATE OF finished_at, retain_seconds ON jobs
FOR EACH ROW WHEN (NEW.retain_seconds IS NOT NULL AND NEW.finished_at IS NOT NULL)
EXECUTE FUNCTION jobs_expires_at();

CREATE TABLE cost_rollup (
    day      TEXT COLLATE "C" NOT NULL,
    pool     TEXT COLLATE "C" NOT NULL,
    market   TEXT COLLATE "C" NOT NULL,
    labels   TEXT COLLATE "C" NOT NULL,
    first_at TEXT COLLATE "C" NOT NULL,
    last_at  TEXT COLLATE "C" NOT NULL,
    usd      DOUBLE PRECISION NOT NULL,
    attempts INTEGER NOT NULL,
    PRIMARY KEY (day, pool, market, labels)
);

CREATE TABLE cost_rollup_held (
    day      TEXT COLLATE "C" NOT NULL,
    node_id  TEXT COLLATE "C" NOT NULL,
    first_at TEXT COLLATE "C" NOT NULL,
    last_at  TEXT COLLATE "C" NOT NULL,
    usd      DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (day, node_id)
);

CREATE TABLE job_counts (
    state TEXT PRIMARY KEY,
    n     INTEGER NOT NULL
);

INSERT INTO job_counts (state, n) SELECT state, count(*) FROM jobs GROUP BY state;

CREATE FUNCTION job_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_counts AS c (state, n) VALUES (NEW.state, 1)
        ON CONFLICT (state) DO UPDATE SET n = c.n + 1;
    RETURN NULL;
END $$;

CREATE FUNCTION job_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE job_counts SET n = n - 1 WHERE state = OLD.state;
    INSERT INTO job_counts AS c (state, n) VALUES (NEW.state, 1)
        ON CONFLICT (state) DO UPDATE SET n = c.n + 1;
    RETURN NULL;
END $$;

CREATE FUNCTION job_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE job_counts SET n = n - 1 WHERE state = OLD.state;
    RETURN NULL;
END $$;

CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs
FOR EACH ROW EXECUTE FUNCTION job_counts_insert();
CREATE TRIGGER job_counts_update AFTER UPDATE OF state ON jobs
FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION job_counts_update();
CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs
FOR EACH ROW EXECUTE FUNCTION job_counts_delete();
