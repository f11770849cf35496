package deadline

import (
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/google/go-cmp/cmp"
)

func TestJobState(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	at := func(m int) *time.Time { x := t0.Add(time.Duration(m) * time.Minute); return &x }
	due := t0.Add(3 * time.Hour)
	job := func(ck string, attempts ...berth.Attempt) *berth.Job {
		return &berth.Job{JobSpec: berth.JobSpec{Deadline: &due, ExpectedDuration: berth.Duration(time.Hour), Checkpoint: ck},
			CreatedAt: t0, Attempts: attempts}
	}
	ran := berth.Attempt{CreatedAt: *at(1), StartedAt: at(2), FinishedAt: at(22)}
	const (
		changeover = 90 * time.Second
		restart    = 30 * time.Second
	)
	base := State{Total: time.Hour, Changeover: changeover, Step: time.Minute}
	with := func(elapsed, done int, ck Checkpoint, mode Mode, pending time.Duration) State {
		s := base
		s.Elapsed, s.Left = time.Duration(elapsed)*time.Minute, 3*time.Hour-time.Duration(elapsed)*time.Minute
		s.Done, s.Checkpoint, s.Mode, s.Pending = time.Duration(done)*time.Minute, ck, mode, pending
		return s
	}
	tests := []struct {
		name    string
		j       *berth.Job
		running int // index of the running attempt, -1 when queued
		m       berth.Market
		now     int // minutes after t0
		want    State
	}{
		{"queued, no checkpoint: earlier runs lost", job(berth.CheckpointNone, ran), -1, "", 30,
			with(30, 0, CheckpointNone, None, 0)},
		{"queued, on-sigterm: earlier runs kept", job(berth.CheckpointOnSigterm, ran), -1, "", 30,
			with(30, 20, CheckpointOnSigterm, None, 0)},
		{"placed on a ready host: only the restart is left to pay", job(berth.CheckpointNone, ran, berth.Attempt{CreatedAt: *at(30)}), 1, berth.Spot, 30,
			with(30, 0, CheckpointNone, Spot, restart)},
		{"placed 20s ago", job(berth.CheckpointNone, berth.Attempt{CreatedAt: t0.Add(-20 * time.Second)}), 0, berth.Spot, 0,
			with(0, 0, CheckpointNone, Spot, 10*time.Second)},
		{"started on on-demand", job(berth.CheckpointNone, ran, berth.Attempt{CreatedAt: *at(30), StartedAt: at(31)}), 1, berth.OnDemand, 41,
			with(41, 10, CheckpointNone, OnDemand, 0)},
		{"past its expected duration: a step left", job(berth.CheckpointOnSigterm, ran, berth.Attempt{CreatedAt: *at(30), StartedAt: at(31)}), 1, berth.Spot, 91,
			with(91, 59, CheckpointOnSigterm, Spot, 0)},
	}
	for _, tt := range tests {
		var cur *berth.Attempt
		if tt.running >= 0 {
			cur = &tt.j.Attempts[tt.running]
		}
		got := JobState(tt.j, cur, tt.m, changeover, restart, time.Minute, t0.Add(time.Duration(tt.now)*time.Minute))
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: JobState mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}
