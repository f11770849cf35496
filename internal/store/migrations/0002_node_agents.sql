-- Remote node agents: each node's credential (as a hash), the facts of its
-- host, its drain deadline and the last notice its cloud gave about it.

ALTER TABLE nodes ADD COLUMN token_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE nodes ADD COLUMN facts TEXT NOT NULL DEFAULT '{}';
ALTER TABLE nodes ADD COLUMN drain_deadline TEXT;
ALTER TABLE nodes ADD COLUMN notice TEXT NOT NULL DEFAULT '';
ALTER TABLE nodes ADD COLUMN notice_at TEXT;

CREATE UNIQUE INDEX nodes_token_hash ON nodes (token_hash) WHERE token_hash != '';
