package berth

import (
	"encoding/json"
	"time"
)

// Job is a JobSpec accepted by berth, with where it is in its lifecycle.
// Scripts depend on the fields id, state, reason, exit_code, attempts and
// created_at.
type Job struct {
	ID string `json:"id"`
	JobSpec
	State      State           `json:"state"`
	Reason     string          `json:"reason"`
	ExitCode   *int            `json:"exit_code"`
	Result     json.RawMessage `json:"result,omitempty"` // reported by the job through its callback
	ScheduleID string          `json:"schedule_id,omitempty"`
	// NotBefore is when a scheduled job becomes eligible: its run_at, or the
	// end of a retry's backoff; for a job queued again after losing its
	// capacity (or moved to other capacity), when it was queued again, from
	// which its start budget counts anew.
	NotBefore    *time.Time `json:"not_before,omitempty"`
	Retried      int        `json:"retried"`  // retries spent
	Requeued     int        `json:"requeued"` // re-queues after infrastructure loss, not counted as retries
	Attempts     []Attempt  `json:"attempts"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	FinishedAt   *time.Time `json:"finished_at,omitempty"`
	Version      int64      `json:"version"` // bumped by every change; plans commit only against the version they read
	CallbackSent bool       `json:"callback_sent,omitempty"`
}

// CurrentAttempt returns the job's latest attempt, or nil.
func (j *Job) CurrentAttempt() *Attempt {
	if len(j.Attempts) == 0 {
		return nil
	}
	return &j.Attempts[len(j.Attempts)-1]
}

// Attempt is one execution of a job on one node. Every report names its
// attempt; a report for an attempt that is not the job's current one is
// refused.
type Attempt struct {
	ID          string     `json:"id"`
	Node        string     `json:"node"`
	ContainerID string     `json:"container_id,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
	ExitCode    *int       `json:"exit_code,omitempty"`
	Reason      string     `json:"reason,omitempty"`
}

// Active reports whether the attempt has not finished.
func (a *Attempt) Active() bool { return a.FinishedAt == nil }

// MaxRequeues bounds how often a job is re-queued after infrastructure losses
// (node lost, spot reclaimed, engine gone) before it fails.
const MaxRequeues = 10

// PricedAttempt is an attempt as the API shows it, with what it held: a
// share of a node at the node's price per hour, or a serverless container
// at its price (share 1), and what that cost so far.
type PricedAttempt struct {
	Attempt
	Pool         string  `json:"pool,omitempty"`
	Market       Market  `json:"market,omitempty"`
	PriceUSDHour float64 `json:"price_usd_hour"`
	Share        float64 `json:"share"`
	CostUSD      float64 `json:"cost_usd"`
}
