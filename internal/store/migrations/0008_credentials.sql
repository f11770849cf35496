-- Each pool's join tokens: the generation that is current (a rotation
-- refuses the tokens of older ones) and when its token expires, if ever. A
-- pool without a row is at generation 1, without expiry.
CREATE TABLE join_tokens (
	pool       TEXT PRIMARY KEY,
	generation INTEGER NOT NULL,
	expires_at TEXT,
	rotated_at TEXT NOT NULL
);

-- Scoped API tokens beside the admin token: each holds a role, maybe an
-- expiry, and is kept as the hash of its secret.
CREATE TABLE api_tokens (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	role       TEXT NOT NULL,
	hash       TEXT NOT NULL UNIQUE,
	created_at TEXT NOT NULL,
	expires_at TEXT,
	revoked_at TEXT,
	last_used  TEXT
);
