-- berth's first schema. Timestamps are UTC text of one fixed width
-- (2006-01-02T15:04:05.000000000Z), so they compare as they sort.

CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    spec            TEXT NOT NULL,            -- the JobSpec as JSON, defaults applied
    state           TEXT NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    exit_code       INTEGER,
    result          TEXT,                     -- JSON reported by the job
    schedule_id     TEXT,
    not_before      TEXT,
    retried         INTEGER NOT NULL DEFAULT 0,
    requeued        INTEGER NOT NULL DEFAULT 0,
    priority        INTEGER NOT NULL,
    cpu             REAL NOT NULL,
    memory_mb       INTEGER NOT NULL,
    idempotency_key TEXT,
    callback_url    TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    finished_at     TEXT,
    version         INTEGER NOT NULL,
    callback_sent   INTEGER NOT NULL DEFAULT 0
);

CREATE UNIQUE INDEX jobs_idempotency_key ON jobs (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- Listing by state, newest first.
CREATE INDEX jobs_state_id ON jobs (state, id);
-- Dispatch order of queued jobs.
CREATE INDEX jobs_queued ON jobs (priority DESC, created_at, id)
    WHERE state = 'queued';
-- Scheduled jobs by the time they become due.
CREATE INDEX jobs_due ON jobs (not_before)
    WHERE state = 'scheduled';
-- Listing a schedule's jobs, newest first.
CREATE INDEX jobs_schedule_id ON jobs (schedule_id, id)
    WHERE schedule_id IS NOT NULL;
-- A schedule's jobs that are not terminal, for its concurrency policy.
CREATE INDEX jobs_schedule_open ON jobs (schedule_id)
    WHERE schedule_id IS NOT NULL AND state IN ('scheduled', 'queued', 'starting', 'running');

CREATE TABLE job_labels (
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    job_id TEXT NOT NULL REFERENCES jobs (id),
    PRIMARY KEY (key, value, job_id)
) WITHOUT ROWID;

CREATE TABLE attempts (
    seq          INTEGER PRIMARY KEY,         -- order of creation
    id           TEXT NOT NULL UNIQUE,
    job_id       TEXT NOT NULL REFERENCES jobs (id),
    node_id      TEXT NOT NULL,
    container_id TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    started_at   TEXT,
    finished_at  TEXT,
    exit_code    INTEGER,
    reason       TEXT NOT NULL DEFAULT ''
);

CREATE INDEX attempts_job ON attempts (job_id, seq);
-- Active attempts per node: what holds the node's capacity.
CREATE INDEX attempts_active ON attempts (node_id)
    WHERE finished_at IS NULL;

CREATE TABLE nodes (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    pool       TEXT NOT NULL,
    state      TEXT NOT NULL,
    cpu        REAL NOT NULL,
    memory_mb  INTEGER NOT NULL,
    healthy    INTEGER NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    last_seen  TEXT NOT NULL,
    version    INTEGER NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE schedules (
    id          TEXT PRIMARY KEY,
    spec        TEXT NOT NULL,                -- the ScheduleSpec as JSON
    next_run_at TEXT NOT NULL,
    last_run_at TEXT,
    last_job_id TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);

CREATE INDEX schedules_next_run_at ON schedules (next_run_at, id);

-- The outbox of callbacks: one row per terminal job with a callback_url,
-- written in the transaction that made it terminal.
CREATE TABLE callbacks (
    job_id   TEXT PRIMARY KEY REFERENCES jobs (id),
    url      TEXT NOT NULL,
    tries    INTEGER NOT NULL DEFAULT 0,
    next_at  TEXT NOT NULL,
    last_err TEXT NOT NULL DEFAULT '',
    snapshot TEXT NOT NULL
);

CREATE INDEX callbacks_next_at ON callbacks (next_at, job_id);
