package autoscale

import (
	"fmt"
	"time"
)

// Notice is a Spot interruption notice, or a rebalance recommendation, for
// one host.
type Notice struct {
	Host         string
	InstanceType string
	// InterruptAt is when the host will be reclaimed; zero for a rebalance
	// recommendation.
	InterruptAt time.Time
}

// Rebalance reports whether the notice is only a recommendation.
func (n Notice) Rebalance() bool { return n.InterruptAt.IsZero() }

// Running is an attempt running on the host when the notice comes.
type Running struct {
	JobID     string
	AttemptID string
	// Requeued counts the job's re-queues after infrastructure losses so
	// far.
	Requeued int
}

// Stop asks the host's executor to stop an attempt: SIGTERM, then SIGKILL
// after Grace.
type Stop struct {
	AttemptID string
	Grace     time.Duration
}

// Requeue ends an attempt without spending a retry and queues its job
// again.
type Requeue struct {
	JobID, AttemptID, Reason string
}

// Fail ends an attempt and fails its job: it was re-queued too often.
type Fail struct {
	JobID, AttemptID, Reason string
}

// Response is what a notice calls for.
type Response struct {
	// Drain: the host takes no new work, at once.
	Drain  bool
	Reason string // the drain reason
	Stop   []Stop
	// Requeue and Fail end the host's attempts.
	Requeue []Requeue
	Fail    []Fail
	// Avoid is the instance type to mark unavailable: its Spot capacity
	// is being reclaimed, so replacements should be of other types.
	Avoid string
	// Replace is true when the re-queued work needs capacity: run an
	// autoscaling round now rather than at the next tick.
	Replace bool
}

// OnNotice decides what a notice does at now. A rebalance recommendation
// only stops new placements on the host. An interruption notice also stops
// the host's containers with grace (capped to leave a few seconds before
// the reclaim) and re-queues their jobs with reason "spot reclaimed on
// HOST, re-queued", without spending a retry; a job re-queued maxRequeues
// times already fails instead.
func OnNotice(n Notice, now time.Time, grace time.Duration, running []Running, maxRequeues int) Response {
	if n.Rebalance() {
		return Response{Drain: true, Reason: DrainRebalance}
	}
	r := Response{Drain: true, Reason: DrainInterruption, Avoid: n.InstanceType}
	const margin = 5 * time.Second
	g := max(min(grace, n.InterruptAt.Sub(now)-margin), 0)
	for _, a := range running {
		r.Stop = append(r.Stop, Stop{AttemptID: a.AttemptID, Grace: g})
		if a.Requeued >= maxRequeues {
			r.Fail = append(r.Fail, Fail{JobID: a.JobID, AttemptID: a.AttemptID,
				Reason: fmt.Sprintf("spot reclaimed on %s; re-queued %d times already, the limit", n.Host, a.Requeued)})
			continue
		}
		r.Requeue = append(r.Requeue, Requeue{JobID: a.JobID, AttemptID: a.AttemptID,
			Reason: fmt.Sprintf("spot reclaimed on %s, re-queued", n.Host)})
		r.Replace = true
	}
	return r
}
