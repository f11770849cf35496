package e2e

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/awsfake"
)

// runTaskTimes returns when the fake accepted the RunTask of each
// attempt, by attempt id.
func runTaskTimes(e *awsfake.ECS) map[string]time.Time {
	at := map[string]time.Time{}
	for _, c := range e.Calls() {
		if c.Operation != "RunTask" || c.Code != "" {
			continue
		}
		tags, _ := c.Input["tags"].([]any)
		for _, raw := range tags {
			if tag, ok := raw.(map[string]any); ok && tag["key"] == "berth.attempt" {
				at[tag["value"].(string)] = c.At
			}
		}
	}
	return at
}

// BenchmarkFargateOverflowToRunTask is the time from the decision to
// send a job to Fargate (its attempt's placement on the fargate pool)
// to the RunTask that launches its task, one job at a time, with the
// fleet's one host busy. It reports the p50 and p99.
func BenchmarkFargateOverflowToRunTask(b *testing.B) {
	cloud := startFargateCloud(b, awsfake.NewMemoryEngine(), awsfake.ECSConfig{})
	s := startConfigServerAt(b, freeAddr(b), fargateConfig("on-demand"), nil, cloud.env(), "--log-level", "warn")
	fillFleet(b, s)
	var ids []string
	for b.Loop() {
		j := s.submit(berth.JobSpec{Image: "berth-test/busybox:latest", CPU: 0.5, MemoryMB: 512, Env: map[string]string{"FAKE_RUN_FOR": "2m"}})
		s.waitState(j.ID, time.Minute, berth.Running)
		ids = append(ids, j.ID)
	}
	b.StopTimer()
	at := runTaskTimes(cloud.ecs)
	var lat []time.Duration
	for _, id := range ids {
		a := s.job(id).Attempts[0]
		sent, ok := at[a.ID]
		if !ok {
			b.Fatalf("no RunTask for attempt %s of job %s (on %s: %q); RunTask of %v", a.ID, id, a.Node, s.job(id).Reason, slices.Collect(maps.Keys(at)))
		}
		lat = append(lat, sent.Sub(a.CreatedAt))
	}
	slices.Sort(lat)
	b.ReportMetric(msAt(lat, 50), "overflow-to-runtask-p50-ms")
	b.ReportMetric(msAt(lat, 99), "overflow-to-runtask-p99-ms")
}

// BenchmarkFargateBurst sends 500 jobs to Fargate at once and measures
// how long until ECS had accepted every RunTask, beside the floor the
// launch rate sets (the first 100 at once, then 20 a second: 20 s).
func BenchmarkFargateBurst(b *testing.B) {
	const n = 500
	for b.Loop() {
		cloud := startFargateCloud(b, awsfake.NewMemoryEngine(), awsfake.ECSConfig{})
		s := startConfigServerAt(b, freeAddr(b), fargateConfig("on-demand"), nil, cloud.env(), "--log-level", "warn")
		submitted := submitMany(b, s, n, "1s")
		for _, id := range submitted {
			if j := s.waitTerminal(id, 5*time.Minute); j.State != berth.Succeeded || len(j.Attempts) != 1 {
				b.Fatalf("job %s: %s (%q), %d attempts; want succeeded at once", id, j.State, j.Reason, len(j.Attempts))
			}
		}
		times := slices.SortedFunc(maps.Values(runTaskTimes(cloud.ecs)), time.Time.Compare)
		if len(times) != n {
			b.Fatalf("%d RunTask accepted for %d jobs", len(times), n)
		}
		var first time.Time
		for _, c := range cloud.ecs.Calls() {
			if c.Operation == "RunTask" {
				first = c.At
				break
			}
		}
		took := times[n-1].Sub(first)
		floor := time.Duration(float64(n-100) / 20 * float64(time.Second))
		b.ReportMetric(took.Seconds(), "all-accepted-s")
		b.ReportMetric(took.Seconds()/floor.Seconds(), "x-floor")
		b.ReportMetric(float64(cloud.ecs.CountCode("RunTask", "ThrottlingException")), "throttled")
	}
}

// submitMany submits n jobs pinned to the fargate pool at once, each
// running for d on the fake's memory engine.
func submitMany(tb testing.TB, s *server, n int, d string) []string {
	ids := make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ids[i] = s.submit(berth.JobSpec{Image: "berth-test/busybox:latest", CPU: 0.25, MemoryMB: 512, Pool: "fargate",
				Env: map[string]string{"FAKE_RUN_FOR": d}}).ID
		})
	}
	wg.Wait()
	return ids
}

// BenchmarkFargateSteadyCalls holds 1,000 running Fargate tasks and
// counts the AWS calls berth makes in a minute of steady state, by call.
func BenchmarkFargateSteadyCalls(b *testing.B) {
	const n = 1000
	for b.Loop() {
		cloud := startFargateCloud(b, awsfake.NewMemoryEngine(), awsfake.ECSConfig{})
		s := startConfigServerAt(b, freeAddr(b), fargateConfig("on-demand"), nil, cloud.env(), "--log-level", "warn")
		ids := submitMany(b, s, n, "1h")
		deadline := time.Now().Add(5 * time.Minute)
		for cloud.ecs.RunningTasks() < n {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d tasks running after 5 minutes", cloud.ecs.RunningTasks(), n)
			}
			time.Sleep(time.Second)
		}
		s.waitState(ids[n-1], time.Minute, berth.Running)
		time.Sleep(30 * time.Second) // the starts' log reads and listings settle
		from := time.Now()
		time.Sleep(time.Minute)
		to := time.Now()
		counts := map[string]int{}
		for _, c := range append(cloud.ecs.Calls(), cloud.logs.Calls()...) {
			if !c.At.Before(from) && c.At.Before(to) {
				counts[c.Operation]++
			}
		}
		total := 0
		for _, op := range slices.Sorted(maps.Keys(counts)) {
			b.ReportMetric(float64(counts[op]), op+"/min")
			total += counts[op]
		}
		b.ReportMetric(float64(total), "calls/min")
		b.Logf("AWS calls in a minute with %d running tasks: %v", n, fmt.Sprint(counts))
	}
}
