package berth

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"time"
)

// OutcomeKind says how an attempt ended.
type OutcomeKind string

// The ways an attempt ends.
const (
	// Exited: the container exited on its own with ExitCode.
	Exited OutcomeKind = "exited"
	// TimedOut: berth stopped the container at the job's timeout.
	TimedOut OutcomeKind = "timeout"
	// OOMKilled: the kernel killed the container at its memory limit.
	OOMKilled OutcomeKind = "oom"
	// StartError: the container could not be created or started for a reason
	// that running again will not fix (image not found, invalid command). The
	// job fails at once, without retries.
	StartError OutcomeKind = "start_error"
	// Lost: the infrastructure lost the attempt (node lost, engine gone,
	// container vanished, spot reclaimed). The job is re-queued without
	// spending a retry, up to MaxRequeues times.
	Lost OutcomeKind = "lost"
	// Reported: the job reported its own result through its callback.
	// ExitCode is 0 for success and 1 for failure.
	Reported OutcomeKind = "reported"
	// Stopped: the attempt was stopped because its job was cancelled.
	Stopped OutcomeKind = "stopped"
	// Moved: berth stopped the attempt to run the job on other capacity
	// (a deadline policy moving it between Spot and on-demand). The job is
	// queued again; neither a retry nor a re-queue is spent.
	Moved OutcomeKind = "moved"
)

// Outcome is how one attempt ended, as reported by the executor.
type Outcome struct {
	Kind     OutcomeKind     `json:"kind"`
	ExitCode *int            `json:"exit_code,omitempty"`
	Reason   string          `json:"reason,omitempty"` // detail: "image busybox:nope not found", "node lost"
	Result   json.RawMessage `json:"result,omitempty"` // only for Reported
	// At is when the container ended, as its engine says; an attempt
	// reported late (its container ended while the server was down) ends
	// then, not when the report came.
	At *time.Time `json:"at,omitempty"`
}

// Transition is what becomes of a job after an attempt's outcome.
type Transition struct {
	State    State
	Reason   string
	ExitCode *int // the job's exit code; nil when none is known
	// NotBefore is set when State is Scheduled (a retry's backoff), and to
	// now when the job is queued again after a loss or a move: its wait
	// for capacity starts anew.
	NotBefore *time.Time
	Retried   int
	Requeued  int
}

// Next decides what becomes of j after its attempt a ended with out at now.
// It is pure: the store calls it inside the transaction that records out.
func Next(j *Job, a *Attempt, out Outcome, now time.Time) Transition {
	t := Transition{Retried: j.Retried, Requeued: j.Requeued, ExitCode: out.ExitCode}
	failure := Describe(j, out)
	switch {
	case j.State == Cancelled || out.Kind == Stopped:
		t.State, t.Reason = Cancelled, "cancelled"
		if j.Reason != "" && j.State == Cancelled {
			t.Reason = j.Reason
		}
		return t
	case out.Kind == Moved:
		t.State, t.Reason, t.ExitCode, t.NotBefore = Queued, out.Reason, nil, &now
		return t
	case out.Kind == Lost:
		if j.Requeued >= MaxRequeues {
			t.State, t.Reason = Failed, fmt.Sprintf("%s; gave up after %d re-queues", failure, j.Requeued)
			return t
		}
		t.Requeued++
		t.State, t.Reason, t.ExitCode, t.NotBefore = Queued, failure+", re-queued", nil, &now
		return t
	case out.Succeeded():
		t.State, t.Reason = Succeeded, failure
		return t
	case out.Kind == StartError || !j.Retries.retries(out) || j.Retried >= j.Retries.Attempts:
		t.State, t.Reason = Failed, failure
		if out.Kind != StartError && j.Retries.Attempts > 0 && j.Retried >= j.Retries.Attempts {
			t.Reason = fmt.Sprintf("%s; no retries left (%d used)", failure, j.Retried)
		}
		return t
	}
	t.Retried++
	delay := j.Retries.Delay(t.Retried, jitter(a.ID))
	nb := now.Add(delay)
	t.State, t.NotBefore = Scheduled, &nb
	t.Reason = fmt.Sprintf("%s; retry %d of %d at %s", failure, t.Retried, j.Retries.Attempts, nb.UTC().Format(time.RFC3339))
	return t
}

// Succeeded reports whether the attempt ended in success: exit code 0, or
// success reported through the callback.
func (out Outcome) Succeeded() bool {
	return (out.Kind == Exited || out.Kind == Reported) && out.ExitCode != nil && *out.ExitCode == 0
}

// Describe is the human-readable reason for out, an outcome of one of j's
// attempts: "exit code 3", "timeout after 10m", "node lost".
func Describe(j *Job, out Outcome) string {
	var s string
	switch out.Kind {
	case Exited:
		if out.ExitCode != nil && *out.ExitCode == 0 {
			s = "exited 0"
		} else if out.ExitCode != nil && *out.ExitCode == 137 {
			// The engine does not always flag an out-of-memory kill.
			s = fmt.Sprintf("exit code 137: killed by SIGKILL, most likely out of memory at its limit of %d MB", j.MemoryMB)
		} else if out.ExitCode != nil {
			s = fmt.Sprintf("exit code %d", *out.ExitCode)
		} else {
			s = "exited"
		}
	case TimedOut:
		s = "timeout after " + ShortDuration(time.Duration(j.Timeout))
	case OOMKilled:
		s = fmt.Sprintf("out of memory: killed at its limit of %d MB", j.MemoryMB)
	case Reported:
		if out.ExitCode != nil && *out.ExitCode == 0 {
			s = "reported success"
		} else {
			s = "reported failure"
		}
	case StartError:
		s = "could not start"
	case Lost:
		s = "lost"
	default:
		s = string(out.Kind)
	}
	if out.Reason != "" {
		if out.Kind == StartError || out.Kind == Lost || out.Kind == Moved {
			return out.Reason
		}
		s += ": " + out.Reason
	}
	return s
}

// retries reports whether the policy retries an attempt that ended with out.
// A timeout, an out-of-memory kill or a reported failure has no exit code of
// its own and is retried only when OnExitCodes is empty.
func (p RetryPolicy) retries(out Outcome) bool {
	if p.Attempts == 0 {
		return false
	}
	if len(p.OnExitCodes) == 0 {
		return true
	}
	return out.Kind == Exited && out.ExitCode != nil && slices.Contains(p.OnExitCodes, *out.ExitCode)
}

// Delay is the wait before retry n (1-based): Backoff·2ⁿ⁻¹ capped at
// MaxBackoff, then scaled by 0.9–1.1 with jitter in [0, 1).
func (p RetryPolicy) Delay(n int, jitter float64) time.Duration {
	p.Attempts = max(p.Attempts, 1)
	p = JobSpec{Retries: p}.WithDefaults().Retries
	d := time.Duration(p.Backoff)
	for i := 1; i < n && d < time.Duration(p.MaxBackoff); i++ {
		d *= 2
	}
	d = min(d, time.Duration(p.MaxBackoff))
	return time.Duration(float64(d) * (0.9 + 0.2*jitter))
}

// jitter maps an attempt id to [0, 1): deterministic, so Next stays pure, and
// spread, so jobs failing together do not retry together.
func jitter(id string) float64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return float64(h.Sum64()>>11) / (1 << 53)
}
