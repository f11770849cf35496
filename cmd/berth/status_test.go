package main

import (
	"testing"
	"time"

	berth "github.com/berth-run/berth"
)

func TestDeadlineLine(t *testing.T) {
	due := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	early, late := due.Add(-40*time.Minute), due.Add(90*time.Second)
	spec := berth.JobSpec{Deadline: &due, ExpectedDuration: berth.Duration(2 * time.Hour), Checkpoint: "on-sigterm"}
	tests := []struct {
		job  berth.Job
		want string
	}{
		{berth.Job{}, ""},
		{berth.Job{JobSpec: spec, State: berth.Running}, "2026-05-01T08:00:00Z (expected 2h, checkpoint on-sigterm)"},
		{berth.Job{JobSpec: spec, State: berth.Succeeded, FinishedAt: &early}, "2026-05-01T08:00:00Z (expected 2h, checkpoint on-sigterm), met with 40m to spare"},
		{berth.Job{JobSpec: spec, State: berth.Succeeded, FinishedAt: &late}, "2026-05-01T08:00:00Z (expected 2h, checkpoint on-sigterm), missed by 1m30s"},
	}
	for _, tt := range tests {
		if got := deadlineLine(tt.job); got != tt.want {
			t.Errorf("deadlineLine(%+v) = %q, want %q", tt.job.JobSpec, got, tt.want)
		}
	}
}
