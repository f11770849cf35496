package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/client"
)

func timep(t time.Time) *time.Time { return &t }

// sampleJobs is a listing with one job in each interesting shape.
func sampleJobs() []berth.Job {
	return []berth.Job{{
		ID: "job_01hzy3k0000000000000000003", JobSpec: berth.JobSpec{Name: "report", Image: "busybox:1.36", Labels: map[string]string{"team": "data"}},
		State: berth.Queued, CreatedAt: now.Add(-40 * time.Second),
		Reason: "waiting for capacity: largest free slot 1 vCPU/2 GiB, job needs 4 vCPU/16 GiB; spot pool window opens 02:00 UTC",
	}, {
		ID: "job_01hzy3k0000000000000000002", JobSpec: berth.JobSpec{Image: "registry.local:5000/etl:v2"},
		State: berth.Failed, Reason: "exit code 3;\nno retries left (2 used)", ExitCode: intp(3), CreatedAt: now.Add(-3 * time.Hour),
	}, {
		ID: "job_01hzy3k0000000000000000001", JobSpec: berth.JobSpec{Name: "nightly", Image: "busybox", Labels: map[string]string{"team": "data"}},
		State: berth.Succeeded, Reason: "exited 0", ExitCode: intp(0), CreatedAt: now.Add(-50 * time.Hour),
	}}
}

func TestJobsTable(t *testing.T) {
	tests := []struct {
		golden string
		width  int
	}{
		{"jobs.golden", 0},
		{"jobs-130.golden", 130},
		{"jobs-40.golden", 40}, // narrower than the other columns: the reason keeps 20 characters
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			f := newFakeAPI(t)
			for _, j := range sampleJobs() {
				f.addJob(j)
			}
			in := f.against()
			in.width = tt.width
			r := in.run(t.Context(), "jobs").mustSucceed(t)
			golden(t, tt.golden, r.stdout)
			if r.stderr != "" {
				t.Errorf("stderr = %q, want none", r.stderr)
			}
		})
	}
}

func TestJobsFiltersAndPages(t *testing.T) {
	f := newFakeAPI(t)
	f.pageSize = 2
	for i := range 5 {
		f.addJob(berth.Job{ID: fmt.Sprintf("job_%d", i), JobSpec: berth.JobSpec{Image: "busybox", Labels: map[string]string{"team": "data"}},
			State: berth.Queued, CreatedAt: t0})
	}
	r := f.cli(t, "jobs", "--state", "queued", "--label", "team=data", "--schedule", "sch_1", "--limit", "2").mustSucceed(t)
	if got := strings.Count(r.stdout, "job_"); got != 2 {
		t.Errorf("first page lists %d jobs, want 2:\n%s", got, r.stdout)
	}
	if !strings.Contains(r.stderr, "more jobs: add --all, or --cursor 2") {
		t.Errorf("stderr = %q, want a hint about the next page", r.stderr)
	}
	r = f.cli(t, "jobs", "--all", "-o", "json").mustSucceed(t)
	var page client.JobPage
	if err := json.Unmarshal([]byte(r.stdout), &page); err != nil {
		t.Fatalf("stdout is not a job page: %v\n%s", err, r.stdout)
	}
	var ids []string
	for _, j := range page.Jobs {
		ids = append(ids, j.ID)
	}
	if want := []string{"job_0", "job_1", "job_2", "job_3", "job_4"}; !slices.Equal(ids, want) || page.NextCursor != "" {
		t.Errorf("--all listed %q (next %q), want %q", ids, page.NextCursor, want)
	}
	want := []string{
		"GET /v1/jobs?label=team%3Ddata&limit=2&schedule=sch_1&state=queued",
		"GET /v1/jobs", "GET /v1/jobs?cursor=2", "GET /v1/jobs?cursor=4",
	}
	if diff := cmp.Diff(want, f.callLog()); diff != "" {
		t.Errorf("calls mismatch (-want +got):\n%s", diff)
	}
}

func TestJobsEmptyJSON(t *testing.T) {
	f := newFakeAPI(t)
	r := f.cli(t, "jobs", "--output", "json").mustSucceed(t)
	if want := "{\n  \"jobs\": [],\n  \"next_cursor\": \"\"\n}\n"; r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}
}

func TestJobsUsage(t *testing.T) {
	f := newFakeAPI(t)
	tests := []struct {
		args   []string
		stderr string
	}{
		{[]string{"jobs", "--state", "done"}, `--state "done" is not a job state`},
		{[]string{"jobs", "-o", "yaml"}, `"yaml" is not an output format`},
		{[]string{"jobs", "extra"}, `unexpected argument "extra"`},
		{[]string{"jobs", "--label", "team"}, `"team" is not KEY=VALUE`},
	}
	for _, tt := range tests {
		if r := f.cli(t, tt.args...); r.code != 2 || !strings.Contains(r.stderr, tt.stderr) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and %q", tt.args, r.code, r.stderr, tt.stderr)
		}
	}
	if calls := f.callLog(); len(calls) != 0 {
		t.Errorf("calls = %q, want none", calls)
	}
}

// detailedJob has every field the detail view shows.
func detailedJob() berth.Job {
	return berth.Job{
		ID: "job_01hzy3k0000000000000000002",
		JobSpec: berth.JobSpec{
			Name: "etl", Image: "registry.local:5000/etl:v2", Command: []string{"sh", "-c", "echo 'hi there'; exit 3"},
			Env: map[string]string{"TOKEN": "secret", "MODE": "fast"}, CPU: 2, MemoryMB: 1536,
			Timeout:  berth.Duration(10 * time.Minute),
			Retries:  berth.RetryPolicy{Attempts: 2, Backoff: berth.Duration(10 * time.Second), MaxBackoff: berth.Duration(10 * time.Minute), OnExitCodes: []int{3, 4}},
			Priority: 5, Labels: map[string]string{"team": "data", "app": "etl"},
			CallbackURL: "https://example.com/done", IdempotencyKey: "etl-2026-03-01",
		},
		State: berth.Failed, Reason: "exit code 3; no retries left (2 used)", ExitCode: intp(3),
		Result: json.RawMessage(`{"rows":0}`), ScheduleID: "sch_1", Retried: 2, Requeued: 1,
		Attempts: []berth.Attempt{
			{ID: "att_1", Node: "i-0abc", CreatedAt: t0, StartedAt: timep(t0.Add(time.Second)), FinishedAt: timep(t0.Add(20 * time.Second)), Reason: "spot reclaimed on i-0abc, re-queued"},
			{ID: "att_2", Node: "local", CreatedAt: t0.Add(time.Minute), StartedAt: timep(t0.Add(61 * time.Second)), FinishedAt: timep(t0.Add(91 * time.Second)), ExitCode: intp(3), Reason: "exit code 3"},
			{ID: "att_3", Node: "local", CreatedAt: t0.Add(2 * time.Minute), StartedAt: timep(t0.Add(2 * time.Minute))},
		},
		CreatedAt: t0, UpdatedAt: t0.Add(5 * time.Minute), FinishedAt: timep(t0.Add(5 * time.Minute)), Version: 9, CallbackSent: true,
	}
}

func TestStatus(t *testing.T) {
	f := newFakeAPI(t)
	f.addJob(detailedJob())
	f.addJob(berth.Job{ID: "job_2", JobSpec: berth.JobSpec{Image: "busybox", CPU: 0.5, MemoryMB: 256, RunAt: timep(now.Add(2 * time.Hour))},
		State: berth.Scheduled, Reason: "runs at 2026-03-01T15:30:00Z", NotBefore: timep(now.Add(2 * time.Hour)), Attempts: []berth.Attempt{}, CreatedAt: t0})
	in := f.against()
	in.width = 100
	golden(t, "status.golden", in.run(t.Context(), "status", "job_01hzy3k0000000000000000002").mustSucceed(t).stdout)
	golden(t, "status-scheduled.golden", in.run(t.Context(), "status", "job_2").mustSucceed(t).stdout)

	r := f.cli(t, "status", "-o", "json", "job_01hzy3k0000000000000000002").mustSucceed(t)
	var got berth.Job
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stdout is not a job: %v", err)
	}
	compact := cmp.Transformer("compact", func(r json.RawMessage) string {
		var b bytes.Buffer
		json.Compact(&b, r)
		return b.String()
	})
	if diff := cmp.Diff(detailedJob(), got, compact); diff != "" {
		t.Errorf("-o json mismatch (-want +got):\n%s", diff)
	}
}

func TestStatusUnknownJob(t *testing.T) {
	f := newFakeAPI(t)
	r := f.cli(t, "status", "job_nope")
	if r.code != 1 || r.stderr != "berth status: job job_nope not found\n" {
		t.Errorf("exit %d, stderr %q; want exit 1 and the server's message", r.code, r.stderr)
	}
}

func TestLogs(t *testing.T) {
	f := newFakeAPI(t)
	f.next = ending{logs: "one\ntwo\n", state: berth.Succeeded, exitCode: intp(0)}
	f.cli(t, "run", "-d", "busybox").mustSucceed(t)
	for _, args := range [][]string{{"logs", "job_1"}, {"logs", "-f", "job_1"}} {
		if r := f.cli(t, args...).mustSucceed(t); r.stdout != "one\ntwo\n" {
			t.Errorf("%q: stdout = %q, want the logs", args, r.stdout)
		}
	}
	// The job lists no attempt yet: the one its output names is looked
	// up again.
	want := []string{"POST /v1/jobs", "GET /v1/jobs/job_1", "GET /v1/jobs/job_1/logs?format=json", "GET /v1/jobs/job_1",
		"GET /v1/jobs/job_1", "GET /v1/jobs/job_1/logs?follow=1&format=json", "GET /v1/jobs/job_1"}
	if diff := cmp.Diff(want, f.callLog()); diff != "" {
		t.Errorf("calls mismatch (-want +got):\n%s", diff)
	}
	if r := f.cli(t, "logs", "job_9"); r.code != 1 || !strings.Contains(r.stderr, "job job_9 not found") {
		t.Errorf("unknown job: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestCancel(t *testing.T) {
	f := newFakeAPI(t)
	f.addJob(berth.Job{ID: "job_1", State: berth.Running})
	f.addJob(berth.Job{ID: "job_2", State: berth.Succeeded})
	r := f.cli(t, "cancel", "job_1", "job_2", "job_3")
	if r.code != 1 || r.stdout != "job_1\n" {
		t.Errorf("exit %d, stdout %q; want 1 and the cancelled job", r.code, r.stdout)
	}
	wantErr := "berth cancel: job job_2 already succeeded\nberth cancel: job job_3 not found\n"
	if r.stderr != wantErr {
		t.Errorf("stderr = %q, want %q", r.stderr, wantErr)
	}
	if r := f.cli(t, "cancel"); r.code != 2 {
		t.Errorf("no id: exit %d, want 2", r.code)
	}
}
