package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
)

func intp(n int) *int { return &n }

func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		name     string
		end      ending
		code     int
		stdout   string
		stderrIn string // a part of stderr; "" for none at all
	}{{
		name:   "success",
		end:    ending{logs: "hello\n", state: berth.Succeeded, exitCode: intp(0), reason: "exited 0"},
		code:   0,
		stdout: "hello\n",
	}, {
		name:     "exit code passed through",
		end:      ending{logs: "oops\n", state: berth.Failed, exitCode: intp(3), reason: "exit code 3"},
		code:     3,
		stdout:   "oops\n",
		stderrIn: "job job_1 failed: exit code 3",
	}, {
		name:     "no exit code: image not found",
		end:      ending{state: berth.Failed, reason: "image busybox:nope not found"},
		code:     125,
		stderrIn: "job job_1 failed: image busybox:nope not found",
	}, {
		name:     "failed with exit code 0 is not success",
		end:      ending{state: berth.Cancelled, exitCode: intp(0), reason: "cancelled"},
		code:     125,
		stderrIn: "job job_1 cancelled: cancelled",
	}, {
		name:     "exit code out of range",
		end:      ending{state: berth.Failed, exitCode: intp(256), reason: "exit code 256"},
		code:     125,
		stderrIn: "exit code 256",
	}, {
		name:   "stream dropped: reconnects without repeating output",
		end:    ending{logs: "line 1\nline 2\nline 3\n", state: berth.Succeeded, exitCode: intp(0), drops: 1},
		code:   0,
		stdout: "line 1\nline 2\nline 3\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t)
			f.next = tt.end
			r := f.cli(t, "run", "busybox", "--", "sh", "-c", "echo hi")
			if r.code != tt.code {
				t.Errorf("exit code = %d, want %d; stderr:\n%s", r.code, tt.code, r.stderr)
			}
			if r.stdout != tt.stdout {
				t.Errorf("stdout = %q, want %q", r.stdout, tt.stdout)
			}
			if tt.stderrIn == "" && r.stderr != "" || !strings.Contains(r.stderr, tt.stderrIn) {
				t.Errorf("stderr = %q, want it to hold %q", r.stderr, tt.stderrIn)
			}
		})
	}
}

func TestRunFlagsMakeTheSpec(t *testing.T) {
	f := newFakeAPI(t)
	f.next = ending{state: berth.Succeeded, exitCode: intp(0)}
	in := f.against()
	in.vars["HOST_VAR"] = "from-here"
	r := in.run(t.Context(), "run", "--name", "nightly", "--cpu", "1.5", "--memory", "512", "--pids-limit", "64",
		"-e", "A=1", "--env", "B=x=y", "-e", "HOST_VAR", "--label", "team=data", "--label", "app=etl",
		"--timeout", "10m", "--retries", "2", "--retry-backoff", "30s", "--retry-on-exit-codes", "1,3",
		"--priority", "5", "--run-at", "2026-05-01T02:00:00Z", "--callback-url", "https://example.com/done",
		"--idempotency-key", "k1", "--deadline", "2026-05-01T08:00:00Z", "--expected-duration", "5m", "--checkpoint", "on-sigterm",
		"-d", "registry.local:5000/etl:v2", "python", "-m", "etl", "--", "--date", "today").mustSucceed(t)
	if r.stdout != "job_1\n" {
		t.Errorf("stdout = %q, want the job id", r.stdout)
	}
	runAt, due := time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC), time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	want := []berth.JobSpec{{
		Name: "nightly", Image: "registry.local:5000/etl:v2",
		Command:  []string{"python", "-m", "etl", "--", "--date", "today"},
		Env:      map[string]string{"A": "1", "B": "x=y", "HOST_VAR": "from-here"},
		CPU:      1.5,
		MemoryMB: 512,
		PIDs:     64,
		Timeout:  berth.Duration(10 * time.Minute),
		Retries:  berth.RetryPolicy{Attempts: 2, Backoff: berth.Duration(30 * time.Second), OnExitCodes: []int{1, 3}},
		RunAt:    &runAt, Priority: 5,
		Labels:         map[string]string{"team": "data", "app": "etl"},
		CallbackURL:    "https://example.com/done",
		IdempotencyKey: "k1",
		Deadline:       &due, ExpectedDuration: berth.Duration(5 * time.Minute), Checkpoint: "on-sigterm",
	}}
	if diff := cmp.Diff(want, f.submitted()); diff != "" {
		t.Errorf("submitted spec mismatch (-want +got):\n%s", diff)
	}
	if calls := f.callLog(); !slices.Equal(calls, []string{"POST /v1/jobs"}) {
		t.Errorf("calls = %q, want only the submission with -d", calls)
	}
}

// TestRunRelativeDeadline: --deadline 6h means six hours from now.
func TestRunRelativeDeadline(t *testing.T) {
	f := newFakeAPI(t)
	before := time.Now().Truncate(time.Second)
	f.against().run(t.Context(), "run", "--deadline", "6h", "--expected-duration", "1h", "-d", "busybox").mustSucceed(t)
	after := time.Now()
	got := f.submitted()
	if len(got) != 1 || got[0].Deadline == nil || got[0].Deadline.Before(before.Add(6*time.Hour)) || got[0].Deadline.After(after.Add(6*time.Hour)) {
		t.Errorf("submitted %+v, want a deadline six hours from now", got)
	}
}

func TestRunCommandForms(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"busybox"}, nil},
		{[]string{"busybox", "--"}, nil},
		{[]string{"busybox", "echo", "hi"}, []string{"echo", "hi"}},
		{[]string{"busybox", "--", "echo", "-n", "hi"}, []string{"echo", "-n", "hi"}},
		{[]string{"--", "busybox", "--", "--"}, []string{"--"}},
	}
	for _, tt := range tests {
		f := newFakeAPI(t)
		f.cli(t, append([]string{"run", "-d"}, tt.args...)...).mustSucceed(t)
		if got := f.submitted()[0].Command; !slices.Equal(got, tt.want) {
			t.Errorf("run %q: command = %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestRunIdempotencyKeyMatched(t *testing.T) {
	f := newFakeAPI(t)
	f.cli(t, "run", "-d", "--idempotency-key", "once", "busybox").mustSucceed(t)
	r := f.cli(t, "run", "-d", "--idempotency-key", "once", "busybox").mustSucceed(t)
	if r.stdout != "job_1\n" {
		t.Errorf("stdout = %q, want the first job's id", r.stdout)
	}
	if !strings.Contains(r.stderr, `job job_1 already exists with idempotency key "once"`) {
		t.Errorf("stderr = %q, want a note that the job existed", r.stderr)
	}
}

// TestRunInterrupted checks that Ctrl-C cancels the job and exits 130,
// whether it comes while following or while submitting.
func TestRunInterrupted(t *testing.T) {
	for _, at := range []string{"GET /v1/jobs/job_1/logs?follow=1&format=json", "POST /v1/jobs"} {
		t.Run(at, func(t *testing.T) {
			f := newFakeAPI(t)
			f.next = ending{logs: "working\n", hang: true}
			ctx, interrupt := context.WithCancel(t.Context())
			f.onCall = func(call string) {
				if call == at {
					interrupt()
				}
			}
			r := f.against().run(ctx, "run", "busybox", "sleep", "3600")
			if r.code != 130 {
				t.Errorf("exit code = %d, want 130; stderr:\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, "interrupted; cancelled job job_1") {
				t.Errorf("stderr = %q, want the cancellation reported", r.stderr)
			}
			if calls := f.callLog(); calls[len(calls)-1] != "POST /v1/jobs/job_1/cancel" {
				t.Errorf("calls = %q, want the job cancelled last", calls)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no image", []string{"run"}, 2, "an IMAGE is required"},
		{"bad run-at", []string{"run", "--run-at", "tomorrow", "busybox"}, 2, `--run-at "tomorrow" is not an RFC 3339 time`},
		{"bad env", []string{"run", "-e", "=x", "busybox"}, 2, `"=x" is not KEY=VALUE`},
		{"bad deadline", []string{"run", "--deadline", "soon", "busybox"}, 2, `--deadline "soon" is neither an RFC 3339 time`},
		{"env not set here", []string{"run", "-e", "NOPE", "busybox"}, 2, "NOPE is not set here"},
		{"bad exit codes", []string{"run", "--retry-on-exit-codes", "1,x", "busybox"}, 2, `"1,x" is not a list of numbers`},
		{"invalid spec names the field", []string{"run", "--cpu", "-1", "busybox"}, 1, "berth run: submit: cpu: must be positive"},
		{"help", []string{"run", "-h"}, 0, "usage: berth run [flags] IMAGE [-- CMD ARGS...]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t)
			r := f.cli(t, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, tt.code, tt.stderr)
			}
		})
	}
}
