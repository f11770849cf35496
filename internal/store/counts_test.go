package store

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
)

func TestCountJobs(t *testing.T) { forEachStore(t, testCountJobs) }

func testCountJobs(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, newLocator(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	later := now.Add(time.Hour)
	var ids []string
	for i := range 5 {
		spec := berth.JobSpec{Image: "busybox"}.WithDefaults()
		if i == 4 {
			spec.RunAt = &later
		}
		j, _, err := s.CreateJob(ctx, spec, now)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	if _, err := s.CancelJob(ctx, ids[0], "", now); err != nil {
		t.Fatal(err)
	}
	got, err := s.CountJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[berth.State]int{berth.Queued: 3, berth.Cancelled: 1, berth.Scheduled: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CountJobs() (-want +got):\n%s", diff)
	}
}
