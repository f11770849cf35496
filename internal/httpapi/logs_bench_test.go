package httpapi

import (
	"bufio"
	"context"
	"net/http"
	"slices"
	"syscall"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/store"
)

// The benchmarks of followed logs (GET /v1/jobs/{id}/logs?follow=1) run the
// whole route over loopback HTTP with the SQLite store, as `berth logs -f`
// meets it. They use nothing newer than the route, so that they also run
// against the code from before followers were woken (when each polled the
// store and its log every 50 ms), for BENCHMARKS.md.

// runningJobs places n jobs on one node that holds them all and returns
// their ids and their attempts'. The plane's dispatcher may place some of
// them first: each job's attempt is whichever placed it.
func runningJobs(b *testing.B, p *plane, n int) (jobs, attempts []string) {
	ctx := context.Background()
	node, _ := p.join(b, "default")
	st := nodeapi.Status{CPU: float64(n), MemoryMB: int64(n) << 10, Healthy: true, Ready: true}
	if _, _, err := p.store.HeartbeatNode(ctx, node, st, time.Now()); err != nil {
		b.Fatal(err)
	}
	for range n {
		j, _, err := p.store.CreateJob(ctx, berth.JobSpec{Image: "busybox", CPU: 0.5, MemoryMB: 256}.WithDefaults(), time.Now())
		if err != nil {
			b.Fatal(err)
		}
		jobs = append(jobs, j.ID)
	}
	attempts = make([]string, n)
	for try := 0; ; try++ {
		var ps []store.Placement
		for i, id := range jobs {
			j, err := p.store.Job(ctx, id)
			if err != nil {
				b.Fatal(err)
			}
			if a := j.CurrentAttempt(); a != nil && a.Active() {
				attempts[i] = a.ID
				continue
			}
			ps = append(ps, store.Placement{JobID: j.ID, JobVersion: j.Version, NodeID: node})
		}
		if len(ps) == 0 {
			return jobs, attempts
		}
		if try == 10 {
			b.Fatalf("%d of %d jobs still not placed", len(ps), n)
		}
		if _, err := p.store.Place(ctx, ps, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

// openFollower opens GET /v1/jobs/{job}/logs?follow=1 until ctx ends.
func openFollower(ctx context.Context, b *testing.B, p *plane, hc *http.Client, job string) *bufio.Reader {
	req, _ := http.NewRequestWithContext(ctx, "GET", p.srv.URL+"/v1/jobs/"+job+"/logs?follow=1", nil)
	req.Header.Set("Authorization", "Bearer "+p.admin)
	resp, err := hc.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("GET logs?follow=1: %s", resp.Status)
	}
	b.Cleanup(func() { resp.Body.Close() })
	return bufio.NewReader(resp.Body)
}

// BenchmarkFollowedLogLatency measures the time from a chunk of output
// appended to the attempt's log (as a node agent ships it) to its line
// read by a client following the job's log; ns/op is the mean.
func BenchmarkFollowedLogLatency(b *testing.B) {
	p := startPlaneB(b)
	jobs, attempts := runningJobs(b, p, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := openFollower(ctx, b, p, p.srv.Client(), jobs[0])
	line := []byte("a line of output\n")
	var offset int64
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		if _, _, err := p.api.d.Logs.WriteAt(jobs[0], attempts[0], offset, line); err != nil {
			b.Fatal(err)
		}
		offset += int64(len(line))
		if got, err := r.ReadString('\n'); err != nil || got != string(line) {
			b.Fatalf("followed log read %q, %v", got, err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds()), "p99-µs")
}

// BenchmarkIdleFollowedLogs measures the server's CPU while 1,000 clients
// follow the logs of 1,000 running jobs that write nothing: CPU
// milliseconds per second (cpu-ms/s) of the whole process (the clients,
// blocked on their reads, take none) over idle windows of 1 s.
func BenchmarkIdleFollowedLogs(b *testing.B) {
	const followers = 1000
	p := startPlaneB(b)
	jobs, _ := runningJobs(b, p, followers)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: followers}}
	defer hc.CloseIdleConnections()
	for _, job := range jobs {
		openFollower(ctx, b, p, hc, job)
	}
	time.Sleep(500 * time.Millisecond) // every follower has read its job's log and waits
	var ru0, ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	wall0 := time.Now()
	for b.Loop() {
		time.Sleep(time.Second)
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(cpu.Milliseconds())/time.Since(wall0).Seconds(), "cpu-ms/s")

}
