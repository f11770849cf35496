package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/google/go-cmp/cmp"
)

// seedListJobs creates 60 jobs, one per second: labels team=a|b|c by i%3
// and env=prod on even i; every fifth is cancelled; i%4==0 comes from
// schedule sch_1. It returns their ids, oldest first.
func seedListJobs(t *testing.T, s *Store) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for i := range 60 {
		labels := map[string]string{"team": string(rune('a' + i%3))}
		if i%2 == 0 {
			labels["env"] = "prod"
		}
		now := t0.Add(time.Duration(i) * time.Second)
		var j berth.Job
		if i%4 == 0 {
			// Scheduled jobs are created by FireSchedule; insert through the
			// same path.
			var err error
			j, err = insertForSchedule(s, "sch_1", berth.JobSpec{Image: "busybox", Labels: labels}, now)
			if err != nil {
				t.Fatal(err)
			}
		} else {
			j = mustCreate(t, s, berth.JobSpec{Image: "busybox", Labels: labels}, now)
		}
		if i%5 == 0 {
			if _, err := s.CancelJob(ctx, j.ID, "", now); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, j.ID)
	}
	return ids
}

// insertForSchedule inserts a queued job of a schedule.
func insertForSchedule(s *Store, scheduleID string, spec berth.JobSpec, now time.Time) (berth.Job, error) {
	ctx := context.Background()
	j, b, err := newJob(spec, scheduleID, now)
	if err != nil {
		return berth.Job{}, err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return berth.Job{}, err
	}
	defer tx.Rollback()
	if err := s.insertStmtsOf(ctx, tx).insert(ctx, &j, b, nil); err != nil {
		return berth.Job{}, err
	}
	return j, tx.Commit()
}

func TestListJobsFiltersAndPages(t *testing.T) { forEachStore(t, testListJobsFiltersAndPages) }

func testListJobsFiltersAndPages(t *testing.T) {
	s, _ := openStore(t)
	ids := seedListJobs(t, s)
	// want lists the indexes of ids that match, newest first.
	want := func(match func(i int) bool) []string {
		var out []string
		for i := len(ids) - 1; i >= 0; i-- {
			if match(i) {
				out = append(out, ids[i])
			}
		}
		return out
	}
	tests := []struct {
		name   string
		filter JobFilter
		want   []string
	}{
		{"all", JobFilter{}, want(func(int) bool { return true })},
		{"state", JobFilter{State: berth.Cancelled}, want(func(i int) bool { return i%5 == 0 })},
		{"queued", JobFilter{State: berth.Queued}, want(func(i int) bool { return i%5 != 0 })},
		{"label", JobFilter{Labels: map[string]string{"team": "b"}}, want(func(i int) bool { return i%3 == 1 })},
		{"two labels", JobFilter{Labels: map[string]string{"team": "a", "env": "prod"}},
			want(func(i int) bool { return i%3 == 0 && i%2 == 0 })},
		{"labels and state", JobFilter{Labels: map[string]string{"team": "a", "env": "prod"}, State: berth.Queued},
			want(func(i int) bool { return i%3 == 0 && i%2 == 0 && i%5 != 0 })},
		{"schedule", JobFilter{ScheduleID: "sch_1"}, want(func(i int) bool { return i%4 == 0 })},
		{"schedule and state", JobFilter{ScheduleID: "sch_1", State: berth.Cancelled},
			want(func(i int) bool { return i%4 == 0 && i%5 == 0 })},
		{"schedule and label", JobFilter{ScheduleID: "sch_1", Labels: map[string]string{"team": "c"}},
			want(func(i int) bool { return i%4 == 0 && i%3 == 2 })},
		{"label without jobs", JobFilter{Labels: map[string]string{"team": "zz"}}, nil},
		{"other schedule", JobFilter{ScheduleID: "sch_2"}, nil},
	}
	for _, tt := range tests {
		for _, limit := range []int{1, 3, 7, 50, 1000} {
			t.Run(fmt.Sprintf("%s/limit %d", tt.name, limit), func(t *testing.T) {
				f := tt.filter
				f.Limit = limit
				var got []string
				pages := 0
				for {
					jobs, next, err := s.ListJobs(context.Background(), f)
					if err != nil {
						t.Fatal(err)
					}
					pages++
					if len(jobs) > limit {
						t.Fatalf("page of %d jobs, limit %d", len(jobs), limit)
					}
					for _, j := range jobs {
						got = append(got, j.ID)
					}
					if next == "" {
						break
					}
					if len(jobs) != limit {
						t.Fatalf("a page of %d jobs with a next cursor, limit %d", len(jobs), limit)
					}
					if pages > len(ids)+1 {
						t.Fatalf("pages never end")
					}
					f.Cursor = next
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("ListJobs(%+v) (-want +got):\n%s", tt.filter, diff)
				}
				if wantPages := max(1, (len(tt.want)+limit-1)/limit); len(tt.want)%limit == 0 && len(tt.want) > 0 {
					// A full last page is followed by an empty one at most.
					if pages != wantPages && pages != wantPages+1 {
						t.Errorf("%d pages, want %d", pages, wantPages)
					}
				} else if pages != wantPages {
					t.Errorf("%d pages, want %d", pages, wantPages)
				}
			})
		}
	}
}

func TestListJobsLimits(t *testing.T) { forEachStore(t, testListJobsLimits) }

func testListJobsLimits(t *testing.T) {
	s, _ := openStore(t)
	ids := seedListJobs(t, s)
	for _, c := range []struct{ limit, want int }{{0, 50}, {-3, 50}, {2000, 60}} {
		jobs, _, err := s.ListJobs(context.Background(), JobFilter{Limit: c.limit})
		if err != nil || len(jobs) != c.want {
			t.Errorf("ListJobs(Limit: %d) = %d jobs, %v; want %d", c.limit, len(jobs), err, c.want)
		}
	}
	if _, _, err := s.ListJobs(context.Background(), JobFilter{State: "sleeping"}); err == nil {
		t.Errorf("ListJobs with an unknown state = nil error")
	}
	// The last page ends with "".
	jobs, next, err := s.ListJobs(context.Background(), JobFilter{Cursor: ids[1]})
	if err != nil || next != "" || len(jobs) != 1 || jobs[0].ID != ids[0] {
		t.Errorf("last page = %d jobs, next %q, %v; want [%s], \"\"", len(jobs), next, err, ids[0])
	}
}

func TestListJobsLoadsAttempts(t *testing.T) { forEachStore(t, testListJobsLoadsAttempts) }

func testListJobsLoadsAttempts(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	mustNode(t, s, "n1", 8, 8192)
	a := mustCreate(t, s, berth.JobSpec{Image: "busybox"}, t0)
	b := mustCreate(t, s, berth.JobSpec{Image: "busybox"}, t0.Add(time.Second))
	mustCreate(t, s, berth.JobSpec{Image: "busybox"}, t0.Add(2*time.Second))
	// a runs twice (lost, then again), b once.
	att1 := mustPlace(t, s, a.ID, "n1", t0.Add(3*time.Second))
	if _, err := s.FinishAttempt(ctx, att1, berth.Outcome{Kind: berth.Lost}, t0.Add(4*time.Second)); err != nil {
		t.Fatal(err)
	}
	att2 := mustPlace(t, s, a.ID, "n1", t0.Add(5*time.Second))
	att3 := mustPlace(t, s, b.ID, "n1", t0.Add(5*time.Second))
	jobs, _, err := s.ListJobs(ctx, JobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, j := range jobs {
		if j.Attempts == nil {
			t.Errorf("job %s has nil attempts, want a list", j.ID)
		}
		for _, at := range j.Attempts {
			got[j.ID] = append(got[j.ID], at.ID)
		}
		if full := mustJob(t, s, j.ID); !cmp.Equal(full, j) {
			t.Errorf("ListJobs gave %+v, Job gives %+v", j, full)
		}
	}
	want := map[string][]string{a.ID: {att1, att2}, b.ID: {att3}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("attempts by job (-want +got):\n%s", diff)
	}
}
