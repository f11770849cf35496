package control

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/agent"
	"github.com/berth-run/berth/internal/auth"
	"github.com/berth-run/berth/internal/logstore"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/fake"
	"github.com/berth-run/berth/internal/store"
)

// plane is the control plane and one agent on a fake engine, in a bubble.
type plane struct {
	store  *store.Store
	disp   *Dispatcher
	runner *fake.Runner
	cancel context.CancelFunc
	done   chan struct{}
}

func startPlane(t *testing.T, capacity provider.Capacity) *plane {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	logs, err := logstore.New(filepath.Join(t.TempDir(), "logs"), 0)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	keys, err := auth.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cp := NewPlane(PlaneConfig{}, st, keys, logs, log)
	runner := fake.New(capacity)
	if err := cp.Registry.Ensure(ctx, "node_a", "local", "a"); err != nil {
		t.Fatal(err)
	}
	ag := agent.New(agent.Config{NodeID: "node_a", StopGrace: 5 * time.Second}, cp.Local, runner, logs, log)
	p := &plane{store: st, disp: cp.Dispatcher, runner: runner, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		var loops sync.WaitGroup
		loops.Go(func() { cp.Run(ctx) })
		ag.Run(ctx)
		loops.Wait()
	}()
	t.Cleanup(func() {
		p.cancel()
		<-p.done
		st.Close()
	})
	return p
}

func (p *plane) submit(t *testing.T, spec berth.JobSpec) berth.Job {
	t.Helper()
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	j, _, err := p.store.CreateJob(context.Background(), spec.WithDefaults(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p.disp.Kick()
	return j
}

// TestStoryManyJobs: 200 jobs of mixed sizes and lengths, some failing
// once, on a 4-vCPU node. All finish within the hour of virtual time, the
// node is never over-committed, and each job has exactly the attempts its
// exit codes and retry policy call for.
func TestStoryManyJobs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := startPlane(t, provider.Capacity{CPU: 4, MemoryMB: 8192})
		r := rand.New(rand.NewPCG(1, 1))
		wants := map[string]want{}
		for i := range 200 {
			spec := berth.JobSpec{
				Image:    "busybox",
				CPU:      []float64{0.25, 0.5, 1, 2}[r.IntN(4)],
				MemoryMB: int64(128 * (1 + r.IntN(8))),
				Env:      map[string]string{"FAKE_RUN_FOR": fmt.Sprintf("%ds", 1+r.IntN(60))},
				Priority: r.IntN(3),
			}
			w := want{berth.Succeeded, 1}
			switch i % 10 {
			case 3: // fails, retried twice, fails for good
				spec.Env["FAKE_EXIT_CODE"] = "3"
				spec.Retries = berth.RetryPolicy{Attempts: 2, Backoff: berth.Duration(time.Second)}
				w = want{berth.Failed, 3}
			case 7: // fails with a code that is not retried
				spec.Env["FAKE_EXIT_CODE"] = "9"
				spec.Retries = berth.RetryPolicy{Attempts: 5, OnExitCodes: []int{3}}
				w = want{berth.Failed, 1}
			}
			wants[p.submit(t, spec).ID] = w
		}
		deadline := time.Now().Add(time.Hour)
		for time.Now().Before(deadline) {
			time.Sleep(time.Second)
			nodes, err := p.store.Nodes(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range nodes {
				if n.UsedCPU > n.CPU+1e-9 || n.UsedMemoryMB > n.MemoryMB {
					t.Fatalf("at %s node %s over-committed: %v/%v vCPU, %d/%d MB", time.Now(), n.ID, n.UsedCPU, n.CPU, n.UsedMemoryMB, n.MemoryMB)
				}
			}
			page, _, err := p.store.ListJobs(context.Background(), store.JobFilter{State: berth.Queued, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 && allTerminal(t, p.store, wants) {
				break
			}
		}
		for id, w := range wants {
			j, err := p.store.Job(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if j.State != w.state || len(j.Attempts) != w.attempts {
				t.Errorf("job %s (%s): %s with %d attempts (%q), want %s with %d", id, j.Env, j.State, len(j.Attempts), j.Reason, w.state, w.attempts)
			}
		}
	})
}

type want struct {
	state    berth.State
	attempts int
}

func allTerminal(t *testing.T, st *store.Store, jobs map[string]want) bool {
	t.Helper()
	for id := range jobs {
		j, err := st.Job(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if !j.State.Terminal() {
			return false
		}
	}
	return true
}

// TestStoryTimeoutAndCancel: a job past its timeout is stopped and fails
// with the reason; a cancelled running job is stopped and never retried.
func TestStoryTimeoutAndCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := startPlane(t, provider.Capacity{CPU: 2, MemoryMB: 2048})
		slow := p.submit(t, berth.JobSpec{Image: "busybox", Timeout: berth.Duration(10 * time.Minute),
			Env: map[string]string{"FAKE_RUN_FOR": "1h"}, Retries: berth.RetryPolicy{Attempts: 0}})
		stuck := p.submit(t, berth.JobSpec{Image: "busybox", Env: map[string]string{"FAKE_RUN_FOR": "1h", "FAKE_IGNORE_SIGTERM": "1"},
			Retries: berth.RetryPolicy{Attempts: 3}})
		time.Sleep(time.Minute)
		if _, err := p.store.CancelJob(context.Background(), stuck.ID, "cancelled by user", time.Now()); err != nil {
			t.Fatal(err)
		}
		p.disp.notifier.Notify("node_a")
		time.Sleep(11 * time.Minute)
		j, _ := p.store.Job(context.Background(), slow.ID)
		if j.State != berth.Failed || j.Reason != "timeout after 10m" {
			t.Errorf("slow job: %s %q, want failed, timeout after 10m", j.State, j.Reason)
		}
		j, _ = p.store.Job(context.Background(), stuck.ID)
		if j.State != berth.Cancelled || len(j.Attempts) != 1 || j.Attempts[0].Active() {
			t.Errorf("cancelled job: %s, %d attempts, active %v; want cancelled, one closed attempt", j.State, len(j.Attempts), j.Attempts[0].Active())
		}
	})
}

// TestScheduleCatchUp: a schedule that missed many runs while the server
// was down fires once when it returns, then waits for its next time.
func TestScheduleCatchUp(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	sch, err := st.CreateSchedule(ctx, berth.ScheduleSpec{Cron: "*/5 * * * *", TimeZone: "UTC", Concurrency: berth.Allow,
		Job: berth.JobSpec{Image: "busybox"}.WithDefaults()}, start.Add(5*time.Minute), start)
	if err != nil {
		t.Fatal(err)
	}
	kicks := 0
	c := NewSchedules(st, NewNotifier(), func() { kicks++ }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	back := start.Add(48 * time.Hour).Add(90 * time.Second) // 576 runs missed
	for range 3 {
		if err := c.Round(ctx, back); err != nil {
			t.Fatal(err)
		}
	}
	jobs, _, err := st.ListJobs(ctx, store.JobFilter{ScheduleID: sch.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || kicks != 1 {
		t.Fatalf("after 48h down: %d jobs, %d kicks; want one catch-up run", len(jobs), kicks)
	}
	got, err := st.Schedule(ctx, sch.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := start.Add(48*time.Hour + 5*time.Minute); !got.NextRunAt.Equal(want) {
		t.Errorf("next run at %s, want %s", got.NextRunAt, want)
	}
	if err := c.Round(ctx, got.NextRunAt); err != nil {
		t.Fatal(err)
	}
	jobs, _, _ = st.ListJobs(ctx, store.JobFilter{ScheduleID: sch.ID})
	if len(jobs) != 2 {
		t.Errorf("at the next run time: %d jobs, want 2", len(jobs))
	}
}
