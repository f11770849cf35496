-- What each attempt held, for its cost: the pool and market of the capacity,
-- its price in USD per hour (the node's, or the serverless container's) and
-- the share of it the attempt held. An attempt costs price × share for the
-- time from its placement (created_at) to its end (finished_at).

ALTER TABLE attempts ADD COLUMN pool TEXT NOT NULL DEFAULT '';
ALTER TABLE attempts ADD COLUMN market TEXT NOT NULL DEFAULT '';
ALTER TABLE attempts ADD COLUMN price REAL NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN share REAL NOT NULL DEFAULT 0;

-- A node's attempts, for when it last became idle.
CREATE INDEX attempts_node_finished ON attempts (node_id, finished_at);
