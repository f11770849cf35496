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
