package berth

import (
	"testing"
	"time"
)

func TestNext(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	code := func(c int) *int { return &c }
	retry3 := RetryPolicy{Attempts: 3, Backoff: Duration(10 * time.Second), MaxBackoff: Duration(time.Minute)}
	tests := []struct {
		name     string
		job      Job
		out      Outcome
		state    State
		reason   string
		retried  int
		requeued int
	}{
		{"exit 0", Job{State: Running}, Outcome{Kind: Exited, ExitCode: code(0)}, Succeeded, "exited 0", 0, 0},
		{"exit 3, no retries", Job{State: Running}, Outcome{Kind: Exited, ExitCode: code(3)}, Failed, "exit code 3", 0, 0},
		{"exit 3, retry", Job{State: Running, JobSpec: JobSpec{Retries: retry3}}, Outcome{Kind: Exited, ExitCode: code(3)}, Scheduled, "exit code 3; retry 1 of 3 at", 1, 0},
		{"retries spent", Job{State: Running, Retried: 3, JobSpec: JobSpec{Retries: retry3}}, Outcome{Kind: Exited, ExitCode: code(3)}, Failed, "exit code 3; no retries left (3 used)", 3, 0},
		{"exit code not listed", Job{State: Running, JobSpec: JobSpec{Retries: RetryPolicy{Attempts: 3, OnExitCodes: []int{2}}}}, Outcome{Kind: Exited, ExitCode: code(3)}, Failed, "exit code 3", 0, 0},
		{"timeout", Job{State: Running, JobSpec: JobSpec{Timeout: Duration(10 * time.Minute)}}, Outcome{Kind: TimedOut}, Failed, "timeout after 10m", 0, 0},
		{"exit 137 without the flag", Job{State: Running, JobSpec: JobSpec{MemoryMB: 64}}, Outcome{Kind: Exited, ExitCode: code(137)}, Failed, "exit code 137: killed by SIGKILL, most likely out of memory at its limit of 64 MB", 0, 0},
		{"oom", Job{State: Running, JobSpec: JobSpec{MemoryMB: 64}}, Outcome{Kind: OOMKilled, ExitCode: code(137)}, Failed, "out of memory: killed at its limit of 64 MB", 0, 0},
		{"start error never retries", Job{State: Starting, JobSpec: JobSpec{Retries: retry3}}, Outcome{Kind: StartError, Reason: `image "nope" not found`}, Failed, `image "nope" not found`, 0, 0},
		{"lost re-queues without a retry", Job{State: Running, JobSpec: JobSpec{Retries: retry3}}, Outcome{Kind: Lost, Reason: "node lost"}, Queued, "node lost, re-queued", 0, 1},
		{"lost too often fails", Job{State: Running, Requeued: MaxRequeues}, Outcome{Kind: Lost, Reason: "node lost"}, Failed, "node lost; gave up after 10 re-queues", 0, MaxRequeues},
		{"cancelled never retries", Job{State: Cancelled, Reason: "cancelled by user", JobSpec: JobSpec{Retries: retry3}}, Outcome{Kind: Stopped}, Cancelled, "cancelled by user", 0, 0},
		{"reported success", Job{State: Running}, Outcome{Kind: Reported, ExitCode: code(0)}, Succeeded, "reported success", 0, 0},
		{"moved spends nothing", Job{State: Running, Requeued: MaxRequeues, JobSpec: JobSpec{Retries: retry3}}, Outcome{Kind: Moved, Reason: "moved to on-demand by the deadline policy"}, Queued, "moved to on-demand by the deadline policy", 0, MaxRequeues},
	}
	for _, tt := range tests {
		a := &Attempt{ID: "att_1"}
		got := Next(&tt.job, a, tt.out, now)
		if got.State != tt.state || len(got.Reason) < len(tt.reason) || got.Reason[:len(tt.reason)] != tt.reason || got.Retried != tt.retried || got.Requeued != tt.requeued {
			t.Errorf("%s: Next() = %+v, want state %s, reason starting %q, retried %d, requeued %d", tt.name, got, tt.state, tt.reason, tt.retried, tt.requeued)
		}
		if got.State == Queued && (got.NotBefore == nil || !got.NotBefore.Equal(now)) {
			t.Errorf("%s: Next().NotBefore = %v, want now: the wait for capacity starts anew", tt.name, got.NotBefore)
		}
		if got.State == Scheduled && (got.NotBefore == nil || got.NotBefore.Before(now.Add(9*time.Second)) || got.NotBefore.After(now.Add(11*time.Second))) {
			t.Errorf("%s: Next().NotBefore = %v, want about 10s after now", tt.name, got.NotBefore)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	p := RetryPolicy{Attempts: 10, Backoff: Duration(time.Second), MaxBackoff: Duration(30 * time.Second)}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 5: 16 * time.Second, 6: 30 * time.Second, 10: 30 * time.Second} {
		lo, hi := p.Delay(n, 0), p.Delay(n, 0.999)
		if lo < want*9/10 || hi > want*11/10 || lo >= hi {
			t.Errorf("Delay(%d) spans [%v, %v], want within 10%% of %v", n, lo, hi, want)
		}
	}
}
