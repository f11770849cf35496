package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
)

// TestMoveAttempt: a running attempt asked to move is shown to its node as
// one to stop, while its job stays running; a second move is refused. When
// the node reports it stopped, the job is queued again with neither a
// retry nor a re-queue spent, and a later attempt is placed afresh.
func TestMoveAttempt(t *testing.T) { forEachStore(t, testMoveAttempt) }

func testMoveAttempt(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	mustNode(t, s, "n1", 4, 4096)
	due := t0.Add(3 * time.Hour)
	j := mustCreate(t, s, berth.JobSpec{Image: "busybox", CPU: 1, MemoryMB: 256, Deadline: &due,
		ExpectedDuration: berth.Duration(2 * time.Hour), Retries: berth.RetryPolicy{Attempts: 2}}.WithDefaults(), t0)
	att := mustPlace(t, s, j.ID, "n1", t0)
	if _, err := s.AttemptStarted(ctx, att, "c1", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	runs, err := s.DeadlineRuns(ctx)
	if err != nil || len(runs) != 1 || runs[0].Job.ID != j.ID || runs[0].MoveTo != "" || len(runs[0].Job.Attempts) != 1 {
		t.Fatalf("DeadlineRuns() = %+v, %v; want the one running job, not moving", runs, err)
	}

	got, err := s.MoveAttempt(ctx, att, berth.OnDemand, "moving to on-demand", t0.Add(time.Hour))
	if err != nil || got.State != berth.Running || got.Reason != "moving to on-demand" {
		t.Fatalf("MoveAttempt() = %s %q, %v; want running, saying it moves", got.State, got.Reason, err)
	}
	if _, err := s.MoveAttempt(ctx, att, berth.OnDemand, "again", t0.Add(time.Hour)); !errors.Is(err, berth.ErrConflict) {
		t.Errorf("second MoveAttempt() = %v, want ErrConflict", err)
	}
	as, err := s.Assignments(ctx, "n1")
	if err != nil || len(as) != 1 || !as[0].Stop {
		t.Fatalf("Assignments(n1) = %+v, %v; want the attempt, to stop", as, err)
	}
	if runs, _ := s.DeadlineRuns(ctx); len(runs) != 1 || runs[0].MoveTo != berth.OnDemand {
		t.Errorf("DeadlineRuns() after the move = %+v, want it moving to on-demand", runs)
	}

	// The container stopped on SIGTERM: exit code 143.
	got, err = s.FinishAttempt(ctx, att, berth.Outcome{Kind: berth.Exited, ExitCode: new(143)}, t0.Add(time.Hour+time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got.State != berth.Queued || got.Retried != 0 || got.Requeued != 0 || got.Reason != "moved to on-demand by the deadline policy, queued" {
		t.Errorf("after the moved attempt ended: %s %q, retried %d, requeued %d; want queued, nothing spent", got.State, got.Reason, got.Retried, got.Requeued)
	}
	if a := got.Attempts[0]; a.Reason != "moved to on-demand by the deadline policy, queued" || a.FinishedAt == nil {
		t.Errorf("moved attempt = %+v, want it finished, saying it moved", a)
	}
	if _, err := s.MoveAttempt(ctx, att, berth.Spot, "x", t0.Add(2*time.Hour)); !errors.Is(err, berth.ErrStale) {
		t.Errorf("MoveAttempt() of a finished attempt = %v, want ErrStale", err)
	}
	if runs, _ := s.DeadlineRuns(ctx); len(runs) != 0 {
		t.Errorf("DeadlineRuns() with the job queued = %+v, want none", runs)
	}
}

// TestMoveAttemptFinishedMeanwhile: a job that exits 0 while being moved
// has succeeded.
func TestMoveAttemptFinishedMeanwhile(t *testing.T) {
	forEachStore(t, testMoveAttemptFinishedMeanwhile)
}

func testMoveAttemptFinishedMeanwhile(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	mustNode(t, s, "n1", 4, 4096)
	due := t0.Add(3 * time.Hour)
	j := mustCreate(t, s, berth.JobSpec{Image: "busybox", Deadline: &due, ExpectedDuration: berth.Duration(time.Hour)}.WithDefaults(), t0)
	att := mustPlace(t, s, j.ID, "n1", t0)
	if _, err := s.MoveAttempt(ctx, att, berth.Spot, "moving to Spot", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := s.FinishAttempt(ctx, att, berth.Outcome{Kind: berth.Exited, ExitCode: new(0)}, t0.Add(2*time.Minute))
	if err != nil || got.State != berth.Succeeded {
		t.Errorf("FinishAttempt(exit 0) of a moving attempt = %s %q, %v; want succeeded", got.State, got.Reason, err)
	}
}

// TestRunTimes: run times come from the last attempt of succeeded jobs
// with exactly the labels asked for, newest first, at most n.
func TestRunTimes(t *testing.T) { forEachStore(t, testRunTimes) }

func testRunTimes(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	mustNode(t, s, "n1", 64, 65536)
	run := func(labels map[string]string, d time.Duration, code int, at time.Time) {
		j := mustCreate(t, s, berth.JobSpec{Image: "busybox", Labels: labels}.WithDefaults(), at)
		att := mustPlace(t, s, j.ID, "n1", at)
		if _, err := s.AttemptStarted(ctx, att, "c", at); err != nil {
			t.Fatal(err)
		}
		if _, err := s.FinishAttempt(ctx, att, berth.Outcome{Kind: berth.Exited, ExitCode: new(code)}, at.Add(d)); err != nil {
			t.Fatal(err)
		}
	}
	etl := map[string]string{"team": "data", "step": "etl"}
	run(etl, 10*time.Minute, 0, t0)
	run(etl, 20*time.Minute, 0, t0.Add(time.Hour))
	run(etl, 99*time.Minute, 1, t0.Add(2*time.Hour))                              // failed
	run(map[string]string{"team": "data"}, 5*time.Minute, 0, t0.Add(3*time.Hour)) // fewer labels
	run(map[string]string{"team": "data", "step": "etl", "x": "y"}, 7*time.Minute, 0, t0.Add(4*time.Hour))
	run(etl, 30*time.Minute, 0, t0.Add(5*time.Hour))

	got, err := s.RunTimes(ctx, etl, 2)
	if want := []time.Duration{30 * time.Minute, 20 * time.Minute}; err != nil || !slices.Equal(got, want) {
		t.Errorf("RunTimes(etl, 2) = %v, %v; want %v", got, err, want)
	}
	got, _ = s.RunTimes(ctx, etl, 10)
	if want := []time.Duration{30 * time.Minute, 20 * time.Minute, 10 * time.Minute}; !slices.Equal(got, want) {
		t.Errorf("RunTimes(etl, 10) = %v, want %v", got, want)
	}
	if got, _ := s.RunTimes(ctx, map[string]string{"team": "web"}, 5); len(got) != 0 {
		t.Errorf("RunTimes(team=web) = %v, want none", got)
	}
	if got, _ := s.RunTimes(ctx, nil, 5); len(got) != 0 {
		t.Errorf("RunTimes(no labels) = %v, want none", got)
	}
}
