-- The messages of the SQS intake queues that did not become jobs, and why:
-- the last ones of each queue (Store.RefuseIntake keeps a bounded number).
CREATE TABLE intake_refusals (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	queue       TEXT NOT NULL,
	message_id  TEXT NOT NULL,
	received_at TEXT NOT NULL,
	receives    INTEGER NOT NULL,
	reason      TEXT NOT NULL,
	excerpt     TEXT NOT NULL
);
CREATE INDEX intake_refusals_queue ON intake_refusals (queue, seq);
