-- Why a node drains is the node's own: the fleet reads it back after a
-- restart, so that a host drained for scale-in is still reused when work
-- arrives, and one an operator drained is still let go once idle.
ALTER TABLE nodes ADD COLUMN drain_reason TEXT NOT NULL DEFAULT '';
