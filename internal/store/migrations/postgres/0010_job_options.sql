-- SQLite's 0010 without its rewrite of the specs of older rows: no
-- PostgreSQL database holds jobs from before it.
ALTER TABLE jobs ADD COLUMN pool TEXT COLLATE "C" NOT NULL DEFAULT '';
CREATE INDEX jobs_pool ON jobs (pool) WHERE pool != '';
