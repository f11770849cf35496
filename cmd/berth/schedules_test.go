package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
)

func TestSchedulesTable(t *testing.T) {
	f := newFakeAPI(t)
	f.schedules = []berth.Schedule{{
		ID: "sch_01hzy3k0000000000000000001", ScheduleSpec: berth.ScheduleSpec{Name: "nightly", Cron: "0 2 * * *", TimeZone: "Europe/Paris",
			Concurrency: berth.Forbid, Job: berth.JobSpec{Image: "busybox"}},
		NextRunAt: now.Add(11 * time.Hour), LastRunAt: timep(now.Add(-13 * time.Hour)), LastJobID: "job_01hzy3k0000000000000000007", CreatedAt: t0,
	}, {
		ID: "sch_01hzy3k0000000000000000002", ScheduleSpec: berth.ScheduleSpec{Cron: "@hourly", Job: berth.JobSpec{Image: "busybox"}},
		NextRunAt: now.Add(30 * time.Minute), CreatedAt: t0,
	}}
	for _, args := range [][]string{{"schedules"}, {"schedules", "list"}} {
		golden(t, "schedules.golden", f.cli(t, args...).mustSucceed(t).stdout)
	}
	r := f.cli(t, "schedules", "-o", "json").mustSucceed(t)
	var got struct{ Schedules []berth.Schedule }
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stdout is not a schedule list: %v", err)
	}
	if diff := cmp.Diff(f.schedules, got.Schedules); diff != "" {
		t.Errorf("-o json mismatch (-want +got):\n%s", diff)
	}
}

func TestSchedulesCreateFromFlags(t *testing.T) {
	f := newFakeAPI(t)
	r := f.cli(t, "schedules", "create", "--cron", "*/15 * * * *", "--time-zone", "Europe/Paris", "--concurrency", "replace",
		"--name", "sync", "--cpu", "1", "--memory", "64", "-e", "A=1", "--label", "team=ops", "--timeout", "5m",
		"--retries", "1", "--priority", "-3", "--callback-url", "http://hooks.local/x", "busybox", "--", "sync", "--all").mustSucceed(t)
	if r.stdout != "sch_1\n" {
		t.Errorf("stdout = %q, want the schedule id", r.stdout)
	}
	want := berth.ScheduleSpec{
		Name: "sync", Cron: "*/15 * * * *", TimeZone: "Europe/Paris", Concurrency: berth.Replace,
		Job: berth.JobSpec{Name: "sync", Image: "busybox", Command: []string{"sync", "--all"}, Env: map[string]string{"A": "1"},
			CPU: 1, MemoryMB: 64, Timeout: berth.Duration(5 * time.Minute), Retries: berth.RetryPolicy{Attempts: 1},
			Priority: -3, Labels: map[string]string{"team": "ops"}, CallbackURL: "http://hooks.local/x"},
	}
	if diff := cmp.Diff(want, f.schedules[0].ScheduleSpec); diff != "" {
		t.Errorf("schedule spec mismatch (-want +got):\n%s", diff)
	}
}

func TestSchedulesCreateFromFile(t *testing.T) {
	f := newFakeAPI(t)
	in := f.against()
	in.stdin = "cron: '@daily'\nconcurrency: forbid\njob:\n  image: busybox\n  command: [date]\n"
	r := in.run(t.Context(), "schedules", "create", "-f", "-", "-o", "json").mustSucceed(t)
	var s berth.Schedule
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("stdout is not a schedule: %v\n%s", err, r.stdout)
	}
	want := berth.ScheduleSpec{Cron: "@daily", Concurrency: berth.Forbid, Job: berth.JobSpec{Image: "busybox", Command: []string{"date"}}}
	if s.ID != "sch_1" || !cmp.Equal(want, s.ScheduleSpec) {
		t.Errorf("schedule = %+v, want sch_1 with %+v", s, want)
	}
}

func TestSchedulesCreateRejects(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
		err   string
	}{
		{"nothing", []string{"schedules", "create"}, "", 2, "want -f FILE, or --cron EXPR and an IMAGE"},
		{"no image", []string{"schedules", "create", "--cron", "@daily"}, "", 2, "an IMAGE is required"},
		{"file and flags", []string{"schedules", "create", "-f", "-", "--cron", "@daily"}, "", 2, "-f takes the whole schedule from the file"},
		{"run-at is not a schedule flag", []string{"schedules", "create", "--cron", "@daily", "--run-at", "2026-05-01T02:00:00Z", "busybox"}, "", 2, "unknown flag --run-at"},
		{"unknown field in the job", []string{"schedules", "create", "-f", "-"}, "cron: '@daily'\njob:\n  image: busybox\n  memory: 64\n", 1, "job.memory: unknown field"},
		{"invalid spec names the field", []string{"schedules", "create", "--cron", "@daily", "--concurrency", "sometimes", "busybox"}, "", 1, `concurrency: "sometimes" is not one of allow, forbid, replace`},
		{"unknown subcommand", []string{"schedules", "pause", "sch_1"}, "", 2, `unknown subcommand "pause"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t)
			in := f.against()
			in.stdin = tt.stdin
			r := in.run(t.Context(), tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.err) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, tt.code, tt.err)
			}
		})
	}
}

func TestSchedulesDelete(t *testing.T) {
	f := newFakeAPI(t)
	f.schedules = []berth.Schedule{{ID: "sch_1"}, {ID: "sch_2"}}
	r := f.cli(t, "schedules", "delete", "sch_1", "sch_9")
	if r.code != 1 || r.stdout != "sch_1\n" || r.stderr != "berth schedules delete: schedule sch_9 not found\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if !slices.Contains(f.callLog(), "DELETE /v1/schedules/sch_1") || len(f.schedules) != 1 {
		t.Errorf("calls = %q, schedules left = %d; want sch_1 deleted", f.callLog(), len(f.schedules))
	}
}
