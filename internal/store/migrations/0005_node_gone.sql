-- When a node went (its host terminated), so that a host's whole life is
-- priced: the time its attempts held it, and the time it stood idle.
ALTER TABLE nodes ADD COLUMN gone_at TEXT;
