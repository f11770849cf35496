package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/google/go-cmp/cmp"
)

func TestPlaceChecksEachPlacement(t *testing.T) { forEachStore(t, testPlaceChecksEachPlacement) }

func testPlaceChecksEachPlacement(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(t *testing.T, s *Store, p *Placement)
		want  bool
	}{
		{"fits", func(*testing.T, *Store, *Placement) {}, true},
		{"stale version", func(_ *testing.T, _ *Store, p *Placement) { p.JobVersion-- }, false},
		{"unknown job", func(_ *testing.T, _ *Store, p *Placement) { p.JobID = "job_nope" }, false},
		{"unknown node", func(_ *testing.T, _ *Store, p *Placement) { p.NodeID = "nope" }, false},
		{"job not queued", func(t *testing.T, s *Store, p *Placement) {
			if _, err := s.CancelJob(ctx, p.JobID, "", t0); err != nil {
				t.Fatal(err)
			}
			p.JobVersion++
		}, false},
		{"node draining", func(t *testing.T, s *Store, p *Placement) {
			if _, err := s.UpsertNode(ctx, berth.Node{ID: p.NodeID, State: berth.NodeDraining, Healthy: true, CPU: 2, MemoryMB: 1024}, t0); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"node unhealthy", func(t *testing.T, s *Store, p *Placement) {
			if _, err := s.UpsertNode(ctx, berth.Node{ID: p.NodeID, Healthy: false, CPU: 2, MemoryMB: 1024}, t0); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"cpu taken", func(t *testing.T, s *Store, p *Placement) {
			other := mustCreate(t, s, berth.JobSpec{Image: "busybox", CPU: 1.5, MemoryMB: 64}, t0)
			mustPlace(t, s, other.ID, p.NodeID, t0)
		}, false},
		{"memory taken", func(t *testing.T, s *Store, p *Placement) {
			other := mustCreate(t, s, berth.JobSpec{Image: "busybox", CPU: 0.1, MemoryMB: 600}, t0)
			mustPlace(t, s, other.ID, p.NodeID, t0)
		}, false},
		{"capacity freed by a finished attempt", func(t *testing.T, s *Store, p *Placement) {
			other := mustCreate(t, s, berth.JobSpec{Image: "busybox", CPU: 2, MemoryMB: 1024}, t0)
			att := mustPlace(t, s, other.ID, p.NodeID, t0)
			if _, err := s.FinishAttempt(ctx, att, berth.Outcome{Kind: berth.Exited, ExitCode: new(0)}, t0); err != nil {
				t.Fatal(err)
			}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openStore(t)
			mustNode(t, s, "n1", 2, 1024)
			j := mustCreate(t, s, berth.JobSpec{Image: "busybox", CPU: 1, MemoryMB: 512}, t0)
			p := Placement{JobID: j.ID, JobVersion: j.Version, NodeID: "n1", AttemptID: berth.NewID("att", t0)}
			tt.setup(t, s, &p)
			now := t0.Add(time.Minute)
			done, err := s.Place(ctx, []Placement{p}, now)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(done) == 1; got != tt.want {
				t.Fatalf("Place committed %v, want placed %v", done, tt.want)
			}
			got := mustJob(t, s, j.ID)
			if !tt.want {
				return
			}
			if done[0] != p {
				t.Errorf("Place returned %+v, want %+v", done[0], p)
			}
			a := got.CurrentAttempt()
			if got.State != berth.Starting || got.Version != p.JobVersion+1 || a == nil || a.ID != p.AttemptID ||
				a.Node != "n1" || !a.CreatedAt.Equal(now) || !a.Active() || got.Reason != "starting on n1-name" {
				t.Errorf("placed job = %+v, want starting on n1 with attempt %s", got, p.AttemptID)
			}
			nodes, _ := s.Nodes(ctx)
			if len(nodes) != 1 || nodes[0].UsedCPU != 1 || nodes[0].UsedMemoryMB != 512 {
				t.Errorf("Nodes = %+v, want n1 using 1 vCPU, 512 MB", nodes)
			}
		})
	}
}

func TestPlaceCountsEarlierPlacementsOfTheSameCall(t *testing.T) {
	forEachStore(t, testPlaceCountsEarlierPlacementsOfTheSameCall)
}

func testPlaceCountsEarlierPlacementsOfTheSameCall(t *testing.T) {
	s, _ := openStore(t)
	mustNode(t, s, "n1", 2, 4096)
	var ps []Placement
	for range 3 {
		j := mustCreate(t, s, berth.JobSpec{Image: "busybox", CPU: 1}, t0)
		ps = append(ps, Placement{JobID: j.ID, JobVersion: j.Version, NodeID: "n1"})
	}
	done, err := s.Place(context.Background(), ps, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 2 || done[0].JobID != ps[0].JobID || done[1].JobID != ps[1].JobID {
		t.Fatalf("Place = %+v, want the first two", done)
	}
	for _, p := range done {
		if p.AttemptID == "" {
			t.Errorf("placement %+v committed without an attempt id", p)
		}
	}
	if j := mustJob(t, s, ps[2].JobID); j.State != berth.Queued || len(j.Attempts) != 0 {
		t.Errorf("third job = %s with %d attempts, want queued with none", j.State, len(j.Attempts))
	}
}

// TestPlaceConcurrentNeverOvercommits has many callers place the same
// queued jobs on two small nodes at once: every job is placed at most once
// and no node holds more than its capacity.
func TestPlaceConcurrentNeverOvercommits(t *testing.T) {
	forEachStore(t, testPlaceConcurrentNeverOvercommits)
}

func testPlaceConcurrentNeverOvercommits(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	mustNode(t, s, "n1", 3, 100000)
	mustNode(t, s, "n2", 2, 1000)
	var jobs []berth.Job
	for i := range 40 {
		jobs = append(jobs, mustCreate(t, s, berth.JobSpec{Image: "busybox", CPU: 0.5 + float64(i%3)*0.25, MemoryMB: 300}, t0))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	placed := map[string]int{}
	for w := range 8 {
		wg.Go(func() {
			for i := range jobs {
				j := jobs[(i+w*5)%len(jobs)]
				node := []string{"n1", "n2"}[(i+w)%2]
				done, err := s.Place(ctx, []Placement{{JobID: j.ID, JobVersion: j.Version, NodeID: node}}, t0)
				if err != nil {
					t.Errorf("Place = %v", err)
					return
				}
				mu.Lock()
				for _, p := range done {
					placed[p.JobID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for id, n := range placed {
		if n != 1 {
			t.Errorf("job %s placed %d times", id, n)
		}
	}
	nodes, err := s.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var used float64
	for _, n := range nodes {
		if n.UsedCPU > n.CPU+1e-9 || n.UsedMemoryMB > n.MemoryMB {
			t.Errorf("node %s uses %g/%d of %g/%d", n.ID, n.UsedCPU, n.UsedMemoryMB, n.CPU, n.MemoryMB)
		}
		used += n.UsedCPU
	}
	if len(placed) == 0 || used < 4 {
		t.Errorf("%d jobs placed using %g vCPU; want the nodes nearly full", len(placed), used)
	}
	var attempts int
	s.r.QueryRow(`SELECT COUNT(*) FROM attempts`).Scan(&attempts)
	if attempts != len(placed) {
		t.Errorf("%d attempts for %d placed jobs", attempts, len(placed))
	}
}

func TestAttemptStarted(t *testing.T) { forEachStore(t, testAttemptStarted) }

func testAttemptStarted(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	mustNode(t, s, "n1", 4, 4096)
	j := mustCreate(t, s, berth.JobSpec{Image: "busybox"}, t0)
	att := mustPlace(t, s, j.ID, "n1", t0)
	now := t0.Add(time.Second)
	got, err := s.AttemptStarted(ctx, att, "c0ffee", now)
	if err != nil {
		t.Fatal(err)
	}
	a := got.CurrentAttempt()
	if got.State != berth.Running || got.Reason != "running on n1-name" || got.Version != 3 ||
		a.ContainerID != "c0ffee" || a.StartedAt == nil || !a.StartedAt.Equal(now) {
		t.Errorf("AttemptStarted = %+v, attempt %+v; want running at version 3 with the container", got, a)
	}
	again, err := s.AttemptStarted(ctx, att, "c0ffee", now.Add(time.Second))
	if err != nil {
		t.Fatalf("second AttemptStarted = %v", err)
	}
	if diff := cmp.Diff(got, again); diff != "" {
		t.Errorf("second AttemptStarted changed the job:\n%s", diff)
	}
	if _, err := s.AttemptStarted(ctx, "att_nope", "c", now); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("AttemptStarted(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := s.FinishAttempt(ctx, att, berth.Outcome{Kind: berth.Lost}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AttemptStarted(ctx, att, "c0ffee", now); !errors.Is(err, berth.ErrStale) {
		t.Errorf("AttemptStarted(finished) = %v, want ErrStale", err)
	}
}

func TestAttemptStartedOnCancelledJob(t *testing.T) {
	forEachStore(t, testAttemptStartedOnCancelledJob)
}

func testAttemptStartedOnCancelledJob(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	mustNode(t, s, "n1", 4, 4096)
	j := mustCreate(t, s, berth.JobSpec{Image: "busybox"}, t0)
	att := mustPlace(t, s, j.ID, "n1", t0)
	if _, err := s.CancelJob(ctx, j.ID, "", t0); err != nil {
		t.Fatal(err)
	}
	got, err := s.AttemptStarted(ctx, att, "c1", t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got.State != berth.Cancelled || got.CurrentAttempt().ContainerID != "c1" {
		t.Errorf("AttemptStarted on a cancelled job = %s, attempt %+v; want cancelled with the container recorded", got.State, got.CurrentAttempt())
	}
}

func TestFinishAttemptTransitions(t *testing.T) { forEachStore(t, testFinishAttemptTransitions) }

func testFinishAttemptTransitions(t *testing.T) {
	ctx := context.Background()
	retry := berth.RetryPolicy{Attempts: 2, Backoff: berth.Duration(10 * time.Second)}
	tests := []struct {
		name      string
		spec      berth.JobSpec
		out       berth.Outcome
		wantState berth.State
		callback  bool
	}{
		{"success", berth.JobSpec{Image: "busybox", CallbackURL: "http://cb/x"}, berth.Outcome{Kind: berth.Exited, ExitCode: new(0)}, berth.Succeeded, true},
		{"failure without retries", berth.JobSpec{Image: "busybox", CallbackURL: "http://cb/x"}, berth.Outcome{Kind: berth.Exited, ExitCode: new(3)}, berth.Failed, true},
		{"failure with retries", berth.JobSpec{Image: "busybox", Retries: retry, CallbackURL: "http://cb/x"}, berth.Outcome{Kind: berth.Exited, ExitCode: new(3)}, berth.Scheduled, false},
		{"timeout with retries", berth.JobSpec{Image: "busybox", Retries: retry, Timeout: berth.Duration(time.Minute)}, berth.Outcome{Kind: berth.TimedOut}, berth.Scheduled, false},
		{"start error", berth.JobSpec{Image: "busybox", Retries: retry}, berth.Outcome{Kind: berth.StartError, Reason: "image not found"}, berth.Failed, false},
		{"lost", berth.JobSpec{Image: "busybox", Retries: retry, CallbackURL: "http://cb/x"}, berth.Outcome{Kind: berth.Lost, Reason: "node lost"}, berth.Queued, false},
		{"stopped", berth.JobSpec{Image: "busybox"}, berth.Outcome{Kind: berth.Stopped}, berth.Cancelled, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openStore(t)
			mustNode(t, s, "n1", 4, 4096)
			j := mustCreate(t, s, tt.spec, t0)
			att := mustPlace(t, s, j.ID, "n1", t0)
			before, err := s.AttemptStarted(ctx, att, "c1", t0.Add(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			now := t0.Add(time.Minute)
			a := *before.CurrentAttempt()
			want := berth.Next(&before, &a, tt.out, now)
			got, err := s.FinishAttempt(ctx, att, tt.out, now)
			if err != nil {
				t.Fatal(err)
			}
			if want.State != tt.wantState {
				t.Fatalf("berth.Next says %s; the test expects %s", want.State, tt.wantState)
			}
			if got.State != want.State || got.Reason != want.Reason || !cmp.Equal(got.ExitCode, want.ExitCode) ||
				got.Retried != want.Retried || got.Requeued != want.Requeued || got.Version != before.Version+1 {
				t.Errorf("FinishAttempt = %s %q exit %v retried %d requeued %d v%d; want %+v at v%d",
					got.State, got.Reason, got.ExitCode, got.Retried, got.Requeued, got.Version, want, before.Version+1)
			}
			if want.NotBefore != nil && (got.NotBefore == nil || !got.NotBefore.Equal(*want.NotBefore)) {
				t.Errorf("NotBefore = %v, want %v", got.NotBefore, want.NotBefore)
			}
			if ga := got.CurrentAttempt(); ga.Active() || !ga.FinishedAt.Equal(now) || !cmp.Equal(ga.ExitCode, tt.out.ExitCode) {
				t.Errorf("attempt after FinishAttempt = %+v, want finished at %v", ga, now)
			}
			if terminal := got.State.Terminal(); terminal != (got.FinishedAt != nil) {
				t.Errorf("terminal %v but FinishedAt %v", terminal, got.FinishedAt)
			}
			cbs, err := s.DueCallbacks(ctx, now, 10)
			if err != nil {
				t.Fatal(err)
			}
			if (len(cbs) == 1) != tt.callback {
				t.Fatalf("DueCallbacks = %+v, want a callback %v", cbs, tt.callback)
			}
			if tt.callback {
				var snap berth.Job
				if err := json.Unmarshal(cbs[0].Snapshot, &snap); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(got, snap); diff != "" {
					t.Errorf("callback snapshot (-job +snapshot):\n%s", diff)
				}
			}
			nodes, _ := s.Nodes(ctx)
			if nodes[0].UsedCPU != 0 {
				t.Errorf("node still uses %g vCPU after the attempt finished", nodes[0].UsedCPU)
			}
			if _, err := s.FinishAttempt(ctx, att, tt.out, now); !errors.Is(err, berth.ErrStale) {
				t.Errorf("second FinishAttempt = %v, want ErrStale", err)
			}
		})
	}
}

// TestRetryLandsAfterBackoff follows a failing job through a retry: it
// waits until its not_before, is released, placed again, and the first
// attempt's reports are refused.
func TestRetryLandsAfterBackoff(t *testing.T) { forEachStore(t, testRetryLandsAfterBackoff) }

func testRetryLandsAfterBackoff(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	mustNode(t, s, "n1", 4, 4096)
	j := mustCreate(t, s, berth.JobSpec{Image: "busybox", Retries: berth.RetryPolicy{Attempts: 1, Backoff: berth.Duration(time.Minute)}}, t0)
	att1 := mustPlace(t, s, j.ID, "n1", t0)
	failed, err := s.FinishAttempt(ctx, att1, berth.Outcome{Kind: berth.Exited, ExitCode: new(1)}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if failed.State != berth.Scheduled || failed.NotBefore == nil || failed.Retried != 1 {
		t.Fatalf("after a failure: %+v, want scheduled for a retry", failed)
	}
	nb := *failed.NotBefore
	if d := nb.Sub(t0); d < 54*time.Second || d > 66*time.Second {
		t.Errorf("retry at +%v, want about +1m", d)
	}
	if next, ok, _ := s.NextDue(ctx); !ok || !next.Equal(nb) {
		t.Errorf("NextDue = %v, want %v", next, nb)
	}
	if n, _ := s.ReleaseDue(ctx, nb.Add(-time.Millisecond)); n != 0 {
		t.Errorf("released %d jobs before their backoff ended", n)
	}
	if n, _ := s.ReleaseDue(ctx, nb); n != 1 {
		t.Errorf("released %d jobs at the end of the backoff, want 1", n)
	}
	att2 := mustPlace(t, s, j.ID, "n1", nb)
	if _, err := s.AttemptStarted(ctx, att1, "c", nb); !errors.Is(err, berth.ErrStale) {
		t.Errorf("AttemptStarted(old attempt) = %v, want ErrStale", err)
	}
	if _, err := s.ReportResult(ctx, att1, berth.Outcome{Kind: berth.Reported, ExitCode: new(0)}, nb); !errors.Is(err, berth.ErrStale) {
		t.Errorf("ReportResult(old attempt) = %v, want ErrStale", err)
	}
	done, err := s.FinishAttempt(ctx, att2, berth.Outcome{Kind: berth.Exited, ExitCode: new(1)}, nb.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if done.State != berth.Failed || len(done.Attempts) != 2 {
		t.Errorf("after the retry failed: %s with %d attempts, want failed with 2", done.State, len(done.Attempts))
	}
}

func TestFinishAttemptOfAJobThatMovedOn(t *testing.T) {
	forEachStore(t, testFinishAttemptOfAJobThatMovedOn)
}

func testFinishAttemptOfAJobThatMovedOn(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	mustNode(t, s, "n1", 4, 4096)
	j := mustCreate(t, s, berth.JobSpec{Image: "busybox", CallbackURL: "http://cb/x"}, t0)
	att := mustPlace(t, s, j.ID, "n1", t0)
	cancelled, err := s.CancelJob(ctx, j.ID, "by user", t0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.FinishAttempt(ctx, att, berth.Outcome{Kind: berth.Stopped}, t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got.State != berth.Cancelled || got.Reason != "by user" || got.Version != cancelled.Version+1 || got.CurrentAttempt().Active() {
		t.Errorf("FinishAttempt on a cancelled job = %+v; want it cancelled as it was, the attempt closed", got)
	}
	if !cmp.Equal(got.FinishedAt, cancelled.FinishedAt) {
		t.Errorf("FinishedAt moved from %v to %v", cancelled.FinishedAt, got.FinishedAt)
	}
	if cbs, _ := s.DueCallbacks(ctx, t0.Add(time.Hour), 10); len(cbs) != 1 {
		t.Errorf("%d callbacks queued, want only the one of the cancel", len(cbs))
	}
}

func TestReportResult(t *testing.T) { forEachStore(t, testReportResult) }

func testReportResult(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	mustNode(t, s, "n1", 4, 4096)
	j := mustCreate(t, s, berth.JobSpec{Image: "busybox", CallbackURL: "http://cb/x"}, t0)
	att := mustPlace(t, s, j.ID, "n1", t0)
	if _, err := s.AttemptStarted(ctx, att, "c1", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReportResult(ctx, att, berth.Outcome{Kind: berth.Exited, ExitCode: new(0)}, t0); err == nil {
		t.Errorf("ReportResult with kind exited = nil error")
	}
	out := berth.Outcome{Kind: berth.Reported, ExitCode: new(0), Result: json.RawMessage(`{"rows":12}`)}
	got, err := s.ReportResult(ctx, att, out, t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got.State != berth.Succeeded || string(got.Result) != `{"rows":12}` || !got.CurrentAttempt().Active() {
		t.Errorf("ReportResult = %+v; want succeeded with the result, the attempt still active", got)
	}
	if cbs, _ := s.DueCallbacks(ctx, t0.Add(time.Second), 10); len(cbs) != 1 {
		t.Errorf("no callback queued for the reported result")
	}
	as, err := s.Assignments(ctx, "n1")
	if err != nil || len(as) != 1 || !as[0].Stop {
		t.Errorf("Assignments after the result = %+v, %v; want the attempt with Stop", as, err)
	}
	if _, err := s.ReportResult(ctx, att, out, t0.Add(time.Second)); !errors.Is(err, berth.ErrConflict) {
		t.Errorf("second ReportResult = %v, want ErrConflict", err)
	}
	if _, err := s.ReportResult(ctx, "att_nope", out, t0); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("ReportResult(unknown) = %v, want ErrNotFound", err)
	}
	// The executor then reports the container finished: only the attempt closes.
	fin, err := s.FinishAttempt(ctx, att, berth.Outcome{Kind: berth.Exited, ExitCode: new(0)}, t0.Add(2*time.Second))
	if err != nil || fin.State != berth.Succeeded || fin.CurrentAttempt().Active() {
		t.Errorf("FinishAttempt after the result = %+v, %v", fin, err)
	}
}

func TestReportedFailureRetries(t *testing.T) { forEachStore(t, testReportedFailureRetries) }

func testReportedFailureRetries(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	mustNode(t, s, "n1", 4, 4096)
	j := mustCreate(t, s, berth.JobSpec{Image: "busybox", Retries: berth.RetryPolicy{Attempts: 1}}, t0)
	att := mustPlace(t, s, j.ID, "n1", t0)
	got, err := s.ReportResult(ctx, att, berth.Outcome{Kind: berth.Reported, ExitCode: new(1)}, t0)
	if err != nil || got.State != berth.Scheduled {
		t.Fatalf("ReportResult(failure) = %s, %v; want scheduled for a retry", got.State, err)
	}
	if _, err := s.ReportResult(ctx, att, berth.Outcome{Kind: berth.Reported, ExitCode: new(0)}, t0); !errors.Is(err, berth.ErrStale) {
		t.Errorf("ReportResult after the job moved on = %v, want ErrStale", err)
	}
	// Finishing the attempt does not move the job again.
	fin, err := s.FinishAttempt(ctx, att, berth.Outcome{Kind: berth.Stopped}, t0.Add(time.Second))
	if err != nil || fin.State != berth.Scheduled || fin.Retried != 1 {
		t.Errorf("FinishAttempt after the job moved on = %s retried %d, %v; want scheduled, 1", fin.State, fin.Retried, err)
	}
}

func TestAssignments(t *testing.T) { forEachStore(t, testAssignments) }

func testAssignments(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	mustNode(t, s, "n1", 8, 8192)
	mustNode(t, s, "n2", 8, 8192)
	var atts []string
	var jobs []berth.Job
	for i := range 4 {
		j := mustCreate(t, s, berth.JobSpec{Image: fmt.Sprintf("img%d", i)}, t0)
		jobs = append(jobs, j)
		atts = append(atts, mustPlace(t, s, j.ID, "n1", t0.Add(time.Duration(i)*time.Second)))
	}
	other := mustCreate(t, s, berth.JobSpec{Image: "busybox"}, t0)
	mustPlace(t, s, other.ID, "n2", t0)
	// 0 runs; 1 is cancelled; 2 finished; 3 starting.
	if _, err := s.AttemptStarted(ctx, atts[0], "c0", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CancelJob(ctx, jobs[1].ID, "", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishAttempt(ctx, atts[2], berth.Outcome{Kind: berth.Exited, ExitCode: new(0)}, t0); err != nil {
		t.Fatal(err)
	}
	got, err := s.Assignments(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Attempt, Job, Image string
		Stop                bool
	}
	var rows []row
	for _, a := range got {
		if a.Job.Attempts != nil {
			t.Errorf("assignment job %s carries attempts", a.Job.ID)
		}
		rows = append(rows, row{a.Attempt.ID, a.Job.ID, a.Job.Image, a.Stop})
	}
	want := []row{
		{atts[0], jobs[0].ID, "img0", false},
		{atts[1], jobs[1].ID, "img1", true},
		{atts[3], jobs[3].ID, "img3", false},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("Assignments(n1) (-want +got):\n%s", diff)
	}
	if got, err := s.Assignments(ctx, "nope"); err != nil || len(got) != 0 {
		t.Errorf("Assignments(unknown node) = %v, %v; want none", got, err)
	}
}
