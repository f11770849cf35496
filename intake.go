package berth

import "time"

// IntakeRefusal is a message of an intake queue that did not become a job,
// and why: it is not a job as POST /v1/jobs takes it, it is empty or too
// large, or it repeats an idempotency key with another body. The message
// is left in its queue, for the queue's redrive policy to move it to a
// dead-letter queue; each receive of it is one refusal.
type IntakeRefusal struct {
	Queue      string    `json:"queue"`
	MessageID  string    `json:"message_id"`
	ReceivedAt time.Time `json:"received_at"`
	// Receives is the message's ApproximateReceiveCount at this receive.
	Receives int    `json:"receives"`
	Reason   string `json:"reason"`
	// Excerpt is the start of the body, its secret_env values hidden.
	Excerpt string `json:"excerpt,omitempty"`
}

// IntakeQueue is the state of one intake queue as the server sees it.
type IntakeQueue struct {
	URL string `json:"url"`
	// Depth is the queue's ApproximateNumberOfMessages at the last look
	// (every 30s), or -1 before the first; InFlight its
	// ApproximateNumberOfMessagesNotVisible.
	Depth    int64 `json:"depth"`
	InFlight int64 `json:"in_flight"`
	// What the server did with the messages it received since it started.
	Received   int64 `json:"received"`
	Created    int64 `json:"created"`
	Duplicates int64 `json:"duplicates"`
	// Refused counts the refusals by kind: invalid, empty, too_large,
	// idempotency_conflict.
	Refused map[string]int64 `json:"refused"`
	// Retried counts the messages left in the queue because berth failed
	// to store their job (to be received again).
	Retried int64 `json:"retried"`
	// Problem is why the queue could not be read at the last try, since
	// ProblemSince; "" when it could.
	Problem      string     `json:"problem,omitempty"`
	ProblemSince *time.Time `json:"problem_since,omitempty"`
}
