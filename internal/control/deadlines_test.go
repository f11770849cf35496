package control

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/provider/fakecloud"
	"github.com/berth-run/berth/internal/store"
)

func onDemandPool() berth.PoolSpec {
	return berth.PoolSpec{Name: "od", Provider: berth.ProviderFake, Market: berth.OnDemand, Max: 4,
		InstanceTypes: []berth.InstanceType{{Name: "m5.large", CPU: 2, MemoryMB: 8192, Price: 0.096}},
		ScaleInDelay:  berth.Duration(5 * time.Minute), BootTime: berth.Duration(time.Minute)}
}

// held returns what each attempt of job id held, in order.
func (c *cloudPlane) held(t *testing.T, id string) []store.AttemptCost {
	t.Helper()
	costs, err := c.store.AttemptCosts(context.Background(), []string{id})
	if err != nil {
		t.Fatal(err)
	}
	return costs[id]
}

func deadlineJob(run, expected, within time.Duration, checkpoint string) berth.JobSpec {
	due := time.Now().Add(within)
	return berth.JobSpec{Image: "busybox", CPU: 1, MemoryMB: 2048, Env: map[string]string{"FAKE_RUN_FOR": run.String()},
		Deadline: &due, ExpectedDuration: berth.Duration(expected), Checkpoint: checkpoint}
}

// TestStoryDeadlineRestartFromZero: two jobs without checkpoints, of 1
// and 2 hours, are due in 3 hours, with Spot and on-demand pools behind
// them; Spot is never reclaimed. A move to on-demand restarts a job from
// zero, so Spot is worth paying for only when the job can end there
// before the safety net would move it: 3h ≥ 2 × (changeover 1m30s + run).
// The 1-hour job runs on Spot; the 2-hour one would be moved at about
// +58m and run again whole, so it runs on on-demand from the start. Each
// is done in one attempt before its deadline, spending nothing.
func TestStoryDeadlineRestartFromZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := startCloudPlane(t, spotPool(), onDemandPool())
		start := time.Now()
		short := c.submit(t, deadlineJob(time.Hour, time.Hour, 3*time.Hour, berth.CheckpointNone))
		long := c.submit(t, deadlineJob(2*time.Hour, 2*time.Hour, 3*time.Hour, berth.CheckpointNone))
		waitFor(t, 3*time.Hour, "the jobs end", func() bool {
			return c.job(t, short.ID).State.Terminal() && c.job(t, long.ID).State.Terminal()
		})
		for _, tt := range []struct {
			name   string
			id     string
			market berth.Market
		}{{"1-hour job", short.ID, berth.Spot}, {"2-hour job", long.ID, berth.OnDemand}} {
			got := c.job(t, tt.id)
			if got.State != berth.Succeeded || got.FinishedAt.After(*got.Deadline) || got.Retried != 0 || got.Requeued != 0 {
				t.Errorf("%s: %s (%q) at +%s, %d retries and %d re-queues spent; want it succeeded by its deadline +3h, nothing spent",
					tt.name, got.State, got.Reason, got.FinishedAt.Sub(start), got.Retried, got.Requeued)
			}
			if h := c.held(t, tt.id); len(h) != 1 || h[0].Market != tt.market {
				t.Errorf("%s: attempts held %+v, want one on %s", tt.name, h, tt.market)
			}
		}
	})
}

// TestStoryDeadlineSpotRunsDry: a 2-hour job that checkpoints on SIGTERM
// is due in 4 hours. It starts on Spot; at +20m Spot reclaims its host and
// the market runs dry. The job is not rushed to on-demand: it waits for
// Spot while it is ahead of uniform progress, then runs on on-demand, and
// is done before its deadline. It stays on on-demand to the end, since no
// Spot capacity comes back.
func TestStoryDeadlineSpotRunsDry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := startCloudPlane(t, spotPool(), onDemandPool())
		start := time.Now()
		j := c.submit(t, deadlineJob(2*time.Hour, 2*time.Hour, 4*time.Hour, berth.CheckpointOnSigterm))
		waitFor(t, 5*time.Minute, "the job runs", func() bool { return c.job(t, j.ID).State == berth.Running })
		time.Sleep(20*time.Minute - time.Since(start))
		for _, typ := range []string{"m5.large", "m5.xlarge"} {
			c.cloud.SetCapacity(typ, berth.Spot, 0)
		}
		var ids []string
		for _, in := range c.live(t, "spot") {
			ids = append(ids, in.ID)
		}
		c.cloud.Reclaim(ids...)
		waitFor(t, 5*time.Minute, "the job is queued again", func() bool { return c.job(t, j.ID).State == berth.Queued })
		time.Sleep(2 * time.Minute)
		if got := c.job(t, j.ID); got.State != berth.Queued || !strings.Contains(got.Reason, "waiting for Spot capacity") {
			t.Errorf("at +%s the job is %s (%q), want waiting for Spot while ahead of its deadline", time.Since(start).Round(time.Second), got.State, got.Reason)
		}
		waitFor(t, 4*time.Hour, "the job ends", func() bool { return c.job(t, j.ID).State.Terminal() })
		got := c.job(t, j.ID)
		if got.State != berth.Succeeded || got.FinishedAt.After(*got.Deadline) || got.Retried != 0 {
			t.Fatalf("job: %s (%q) at +%s, %d retries; want it succeeded by its deadline +4h, no retry spent",
				got.State, got.Reason, got.FinishedAt.Sub(start), got.Retried)
		}
		h := c.held(t, j.ID)
		if len(h) != 2 || h[0].Market != berth.Spot || h[1].Market != berth.OnDemand {
			t.Fatalf("attempts held %+v, want Spot then on-demand", h)
		}
		// Uniform progress: 20 minutes done of 2 hours due in 4 wants
		// on-demand from about +40m.
		if od := h[1].Start.Sub(start); od < 30*time.Minute || od > time.Hour {
			t.Errorf("on-demand from +%s, want between +30m and +1h", od)
		}
		// While it waited, berth kept asking Spot for capacity (and was
		// refused: no Spot host was had after the reclaim).
		var tried int
		for _, call := range c.cloud.Calls() {
			if call.Method == fakecloud.Launch && call.Pool == "spot" && call.At.After(start.Add(20*time.Minute)) && call.At.Before(h[1].Start) {
				tried++
			}
		}
		if tried == 0 {
			t.Errorf("no Spot launch was tried while the job waited")
		}
	})
}

// TestDeadlineJobsWithoutSpot: without a Spot pool, a job with a deadline
// runs like any other.
func TestDeadlineJobsWithoutSpot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := startCloudPlane(t, onDemandPool())
		j := c.submit(t, deadlineJob(10*time.Minute, 10*time.Minute, time.Hour, ""))
		waitFor(t, 15*time.Minute, "the job succeeds", func() bool { return c.job(t, j.ID).State == berth.Succeeded })
		if c.current().Dispatcher.deadlines != nil {
			t.Errorf("the dispatcher weighs deadlines without a Spot pool")
		}
	})
}

// TestStoryDeadlineBackToSpot: a job that checkpoints on SIGTERM finds no
// Spot capacity and runs on on-demand. Once the Spot pool has held a host
// for other work for ten minutes, the job is moved back to Spot, where it
// finishes before its deadline.
func TestStoryDeadlineBackToSpot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := startCloudPlane(t, spotPool(), onDemandPool())
		for _, typ := range []string{"m5.large", "m5.xlarge"} {
			c.cloud.SetCapacity(typ, berth.Spot, 0)
		}
		start := time.Now()
		j := c.submit(t, deadlineJob(2*time.Hour, 2*time.Hour, 6*time.Hour, berth.CheckpointOnSigterm))
		waitFor(t, 30*time.Minute, "the job runs on on-demand", func() bool {
			h := c.held(t, j.ID)
			return c.job(t, j.ID).State == berth.Running && len(h) > 0 && h[len(h)-1].Market == berth.OnDemand
		})
		for _, typ := range []string{"m5.large", "m5.xlarge"} {
			c.cloud.SetCapacity(typ, berth.Spot, -1)
		}
		back := time.Now()
		c.submit(t, berth.JobSpec{Image: "busybox", CPU: 1, MemoryMB: 1024, Env: map[string]string{"FAKE_RUN_FOR": "3h"},
			Pool: "spot"})
		waitFor(t, 6*time.Hour, "the job ends", func() bool { return c.job(t, j.ID).State.Terminal() })
		got := c.job(t, j.ID)
		if got.State != berth.Succeeded || got.FinishedAt.After(*got.Deadline) || got.Retried != 0 || got.Requeued != 0 {
			t.Fatalf("job: %s (%q) at +%s; want it succeeded by its deadline, nothing spent", got.State, got.Reason, got.FinishedAt.Sub(start))
		}
		h := c.held(t, j.ID)
		if len(h) != 2 || h[0].Market != berth.OnDemand || h[1].Market != berth.Spot {
			t.Fatalf("attempts held %+v, want on-demand then Spot", h)
		}
		if r := got.Attempts[0].Reason; !strings.HasPrefix(r, "moved to spot by the deadline policy") {
			t.Errorf("the on-demand attempt ended %q, want moved to spot", r)
		}
		// The Spot host boots in a minute; ten more prove it steady.
		if moved := got.Attempts[0].FinishedAt.Sub(back); moved < 10*time.Minute || moved > 20*time.Minute {
			t.Errorf("moved %s after Spot came back, want 10-20 minutes", moved)
		}
	})
}

// TestStorySpotRetreat: a job Spot takes back twice is run on on-demand
// capacity the third time, though Spot types that were not reclaimed are
// still to be had.
func TestStorySpotRetreat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		spot := spotPool()
		spot.InstanceTypes = append(spot.InstanceTypes,
			berth.InstanceType{Name: "m5a.large", CPU: 2, MemoryMB: 8192, Price: 0.086, SpotPrice: 0.04},
			berth.InstanceType{Name: "m5a.xlarge", CPU: 4, MemoryMB: 16384, Price: 0.172, SpotPrice: 0.08})
		c := startCloudPlane(t, spot, onDemandPool())
		j := c.submit(t, berth.JobSpec{Image: "busybox", CPU: 1, MemoryMB: 2048, Env: map[string]string{"FAKE_RUN_FOR": "30m"}})
		for round := range 2 {
			waitFor(t, 10*time.Minute, "the job runs on Spot", func() bool {
				h := c.held(t, j.ID)
				return c.job(t, j.ID).State == berth.Running && len(h) == round+1 && h[round].Market == berth.Spot
			})
			var ids []string
			for _, in := range c.live(t, "spot") {
				ids = append(ids, in.ID)
			}
			c.cloud.Reclaim(ids...)
			waitFor(t, 5*time.Minute, "the job is queued again", func() bool { return c.job(t, j.ID).Requeued == round+1 })
		}
		waitFor(t, time.Hour, "the job succeeds", func() bool { return c.job(t, j.ID).State == berth.Succeeded })
		h := c.held(t, j.ID)
		if len(h) != 3 || h[2].Market != berth.OnDemand {
			t.Errorf("attempts held %+v, want Spot twice, then on-demand", h)
		}
	})
}
