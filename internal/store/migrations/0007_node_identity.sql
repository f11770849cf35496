-- A node's own schedulability, apart from its liveness: a node drained by
-- hand, for scale-in or by a notice stays drained when it is lost and comes
-- back.
ALTER TABLE nodes ADD COLUMN drained INTEGER NOT NULL DEFAULT 0;
UPDATE nodes SET drained = 1 WHERE state = 'draining';
-- The last refusal of a second agent that presented the node's credential
-- (a copied data directory, a cloned disk), for berth node to show.
ALTER TABLE nodes ADD COLUMN conflict TEXT NOT NULL DEFAULT '';
