-- SQLite's 0007 with a BOOLEAN flag.
ALTER TABLE nodes ADD COLUMN drained BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE nodes SET drained = TRUE WHERE state = 'draining';
ALTER TABLE nodes ADD COLUMN conflict TEXT NOT NULL DEFAULT '';
