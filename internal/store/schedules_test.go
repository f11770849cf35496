package store

import (
	"context"
	"errors"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/google/go-cmp/cmp"
)

func mustSchedule(t *testing.T, s *Store, c berth.Concurrency, next time.Time) berth.Schedule {
	t.Helper()
	spec := berth.ScheduleSpec{Name: "nightly", Cron: "0 2 * * *", TimeZone: "Europe/Paris", Concurrency: c,
		Job: berth.JobSpec{Image: "busybox", Command: []string{"echo", "hi"}, Labels: map[string]string{"kind": "nightly"}}}
	sch, err := s.CreateSchedule(context.Background(), spec, next, t0)
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

func TestCreateSchedule(t *testing.T) { forEachStore(t, testCreateSchedule) }

func testCreateSchedule(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	next := t0.Add(time.Hour)
	sch := mustSchedule(t, s, "", next)
	if sch.Concurrency != berth.Allow || sch.Job.CPU != berth.DefaultCPU || !sch.NextRunAt.Equal(next) ||
		sch.LastRunAt != nil || !sch.CreatedAt.Equal(t0) || sch.ID == "" {
		t.Errorf("CreateSchedule = %+v", sch)
	}
	got, err := s.Schedule(ctx, sch.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sch, got); diff != "" {
		t.Errorf("Schedule (-created +read):\n%s", diff)
	}
	if _, err := s.CreateSchedule(ctx, berth.ScheduleSpec{Cron: "", Job: berth.JobSpec{Image: "x"}}, next, t0); err == nil {
		t.Errorf("CreateSchedule without cron = nil error")
	}
	if _, err := s.Schedule(ctx, "sch_nope"); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("Schedule(unknown) = %v, want ErrNotFound", err)
	}
}

func TestSchedulesAndDue(t *testing.T) { forEachStore(t, testSchedulesAndDue) }

func testSchedulesAndDue(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	a := mustSchedule(t, s, berth.Allow, t0.Add(2*time.Hour))
	b := mustSchedule(t, s, berth.Forbid, t0.Add(time.Hour))
	c := mustSchedule(t, s, berth.Replace, t0.Add(3*time.Hour))
	all, err := s.Schedules(ctx)
	if err != nil || len(all) != 3 {
		t.Fatalf("Schedules = %v, %v", all, err)
	}
	due, err := s.DueSchedules(ctx, t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range due {
		ids = append(ids, d.ID)
	}
	if want := []string{b.ID, a.ID}; !cmp.Equal(ids, want) {
		t.Errorf("DueSchedules(+2h) = %v, want %v", ids, want)
	}
	if err := s.DeleteSchedule(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSchedule(ctx, c.ID); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("second DeleteSchedule = %v, want ErrNotFound", err)
	}
	if all, _ := s.Schedules(ctx); len(all) != 2 {
		t.Errorf("after delete, %d schedules", len(all))
	}
}

func TestFireSchedule(t *testing.T) { forEachStore(t, testFireSchedule) }

func testFireSchedule(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		policy      berth.Concurrency
		earlierOpen bool // the earlier run has not finished
		wantJob     bool
		wantCancel  bool // the earlier run is cancelled
	}{
		{berth.Allow, false, true, false},
		{berth.Allow, true, true, false},
		{berth.Forbid, false, true, false},
		{berth.Forbid, true, false, false},
		{berth.Replace, false, true, false},
		{berth.Replace, true, true, true},
	}
	for _, tt := range tests {
		name := string(tt.policy)
		if tt.earlierOpen {
			name += "/earlier run open"
		}
		t.Run(name, func(t *testing.T) {
			s, _ := openStore(t)
			due1, due2, due3 := t0.Add(time.Hour), t0.Add(2*time.Hour), t0.Add(3*time.Hour)
			sch := mustSchedule(t, s, tt.policy, due1)
			first, err := s.FireSchedule(ctx, sch.ID, due1, due2, due1)
			if err != nil || first == nil {
				t.Fatalf("first FireSchedule = %v, %v; want a job", first, err)
			}
			if first.State != berth.Queued || first.ScheduleID != sch.ID || first.Image != "busybox" ||
				!cmp.Equal(first.Command, []string{"echo", "hi"}) || first.Labels["kind"] != "nightly" {
				t.Errorf("first job = %+v, want a queued job of the template", first)
			}
			if stored := mustJob(t, s, first.ID); !cmp.Equal(stored, *first) {
				t.Errorf("FireSchedule returned %+v, Job reads %+v", *first, stored)
			}
			if !tt.earlierOpen {
				if _, err := s.CancelJob(ctx, first.ID, "", due1); err != nil {
					t.Fatal(err)
				}
			}
			// Another loop that read the old NextRunAt is refused.
			if _, err := s.FireSchedule(ctx, sch.ID, due1, due2, due1); !errors.Is(err, berth.ErrStale) {
				t.Errorf("FireSchedule with an old due = %v, want ErrStale", err)
			}
			second, err := s.FireSchedule(ctx, sch.ID, due2, due3, due2)
			if err != nil {
				t.Fatal(err)
			}
			if (second != nil) != tt.wantJob {
				t.Fatalf("second FireSchedule = %v, want a job %v", second, tt.wantJob)
			}
			got, err := s.Schedule(ctx, sch.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantLast := first.ID
			if second != nil {
				wantLast = second.ID
			}
			if !got.NextRunAt.Equal(due3) || got.LastRunAt == nil || !got.LastRunAt.Equal(due2) || got.LastJobID != wantLast {
				t.Errorf("schedule after firing: next %v last %v job %s; want %v, %v, %s", got.NextRunAt, got.LastRunAt, got.LastJobID, due3, due2, wantLast)
			}
			earlier := mustJob(t, s, first.ID)
			if cancelled := earlier.State == berth.Cancelled; tt.earlierOpen && cancelled != tt.wantCancel {
				t.Errorf("earlier run is %s (%q), want cancelled %v", earlier.State, earlier.Reason, tt.wantCancel)
			}
			if tt.wantCancel && earlier.Reason != "replaced by the next run of schedule "+sch.ID {
				t.Errorf("replaced run's reason = %q", earlier.Reason)
			}
			jobs, _, _ := s.ListJobs(ctx, JobFilter{ScheduleID: sch.ID})
			want := 1
			if tt.wantJob {
				want = 2
			}
			if len(jobs) != want {
				t.Errorf("schedule has %d jobs, want %d", len(jobs), want)
			}
		})
	}
}

func TestFireScheduleUnknown(t *testing.T) { forEachStore(t, testFireScheduleUnknown) }

func testFireScheduleUnknown(t *testing.T) {
	s, _ := openStore(t)
	if _, err := s.FireSchedule(context.Background(), "sch_nope", t0, t0, t0); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("FireSchedule(unknown) = %v, want ErrNotFound", err)
	}
}

func TestFireScheduleKeepsJobsOfDeletedSchedule(t *testing.T) {
	forEachStore(t, testFireScheduleKeepsJobsOfDeletedSchedule)
}

func testFireScheduleKeepsJobsOfDeletedSchedule(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	sch := mustSchedule(t, s, berth.Allow, t0)
	j, err := s.FireSchedule(ctx, sch.ID, t0, t0.Add(time.Hour), t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSchedule(ctx, sch.ID); err != nil {
		t.Fatal(err)
	}
	if got := mustJob(t, s, j.ID); got.ScheduleID != sch.ID {
		t.Errorf("job of a deleted schedule = %+v", got)
	}
}

// TestOpenJobsUsesItsIndex checks that the concurrency policy reads only a
// schedule's open jobs, not all of its history.
func TestOpenJobsUsesItsIndex(t *testing.T) {
	s, _ := openStore(t)
	tx, err := s.r.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := openJobs(context.Background(), tx, "sch_x"); err != nil {
		t.Errorf("openJobs = %v; its INDEXED BY must match the partial index", err)
	}
}
