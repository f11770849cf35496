package store

import (
	"context"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/google/go-cmp/cmp"
)

// TestOnEnd: every change that closes an attempt or ends a job tells the
// hook, once committed, naming the job; a change that fails tells it
// nothing.
func TestOnEnd(t *testing.T) { forEachStore(t, testOnEnd) }

func testOnEnd(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	var told []string
	s.OnEnd(func(jobID string) { told = append(told, jobID) })
	expect := func(what string, want ...string) {
		t.Helper()
		if diff := cmp.Diff(want, told); diff != "" {
			t.Errorf("%s: jobs told to the hook (-want +got):\n%s", what, diff)
		}
		told = nil
	}
	spec := berth.JobSpec{Image: "x"}.WithDefaults()
	for _, n := range []string{"n1", "n2", "n3"} {
		joinReady(t, s, n, "baseline", 4, 8192, nodeapi.Facts{})
	}

	finished := mustCreate(t, s, spec, t0)
	att := mustPlace(t, s, finished.ID, "n1", t0)
	expect("a placement")
	if _, err := s.FinishAttempt(ctx, att, berth.Outcome{Kind: berth.Exited, ExitCode: new(0)}, t0); err != nil {
		t.Fatal(err)
	}
	expect("FinishAttempt", finished.ID)
	if _, err := s.FinishAttempt(ctx, att, berth.Outcome{Kind: berth.Exited, ExitCode: new(0)}, t0); err == nil {
		t.Fatal("FinishAttempt of a finished attempt = nil error, want stale")
	}
	expect("a FinishAttempt refused")

	cancelled := mustCreate(t, s, spec, t0)
	if _, err := s.CancelJob(ctx, cancelled.ID, "", t0); err != nil {
		t.Fatal(err)
	}
	expect("CancelJob", cancelled.ID)

	lost := mustCreate(t, s, spec, t0)
	mustPlace(t, s, lost.ID, "n2", t0)
	if _, err := s.LoseNode(ctx, "n2", "node lost", t0); err != nil {
		t.Fatal(err)
	}
	expect("LoseNode", lost.ID)

	retired := mustCreate(t, s, spec, t0)
	mustPlace(t, s, retired.ID, "n3", t0)
	if _, err := s.RetireNode(ctx, "n3", "instance terminated", t0); err != nil {
		t.Fatal(err)
	}
	expect("RetireNode", retired.ID)

	sch := mustSchedule(t, s, berth.Replace, t0)
	first, err := s.FireSchedule(ctx, sch.ID, t0, t0.Add(time.Hour), t0)
	if err != nil || first == nil {
		t.Fatalf("FireSchedule = %v, %v", first, err)
	}
	expect("a schedule's first run")
	if _, err := s.FireSchedule(ctx, sch.ID, t0.Add(time.Hour), t0.Add(2*time.Hour), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	expect("a run that replaces the one before", first.ID)
}
