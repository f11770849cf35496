package logstore_test

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-run/berth/internal/logstore"
)

// The benchmarks of following a log use only the Store's exported API, so
// that they run as well against the code from before followers were woken
// (when they polled every 50 ms), for BENCHMARKS.md.

// BenchmarkFollowLatency measures the time from a line's append (a Writer,
// as the local agent writes) to its receipt by a follower waiting for it;
// ns/op is the mean, p50 and p99 are reported beside it.
func BenchmarkFollowLatency(b *testing.B) {
	s, err := logstore.New(b.TempDir(), 0)
	if err != nil {
		b.Fatal(err)
	}
	w, err := s.Writer("job_1", "att_1")
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	src := func(context.Context) ([]string, bool, error) { return []string{"att_1"}, false, nil }
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Read(ctx, "job_1", src, logstore.ReadOptions{Follow: true}, func(logstore.Entry) error {
			got <- struct{}{}
			return nil
		})
	}()
	defer func() { cancel(); <-done }()
	lat := make([]time.Duration, 0, b.N)
	line := []byte("a line of output\n")
	for b.Loop() {
		start := time.Now()
		if _, err := w.Write(line); err != nil {
			b.Fatal(err)
		}
		<-got
		lat = append(lat, time.Since(start))
	}
	reportPercentiles(b, lat)
}

// BenchmarkIdleFollowers measures the CPU that 1,000 followers of 1,000
// running jobs that write nothing cost the process: CPU milliseconds per
// second (cpu-ms/s) over idle windows of 1 s (one window an op).
func BenchmarkIdleFollowers(b *testing.B) {
	const followers = 1000
	s, err := logstore.New(b.TempDir(), 0)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range followers {
		job := fmt.Sprintf("job_%d", i)
		w, err := s.Writer(job, "att_1")
		if err != nil {
			b.Fatal(err)
		}
		io.WriteString(w, "started\n")
		w.Close()
		src := func(context.Context) ([]string, bool, error) { return []string{"att_1"}, false, nil }
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Read(ctx, job, src, logstore.ReadOptions{Follow: true}, func(logstore.Entry) error { return nil })
		}()
	}
	defer func() { cancel(); wg.Wait() }()
	time.Sleep(200 * time.Millisecond) // every follower has read its log and waits
	idleCPU(b, time.Second)
}

// idleCPU sleeps window each op and reports the process's CPU time per
// second of it.
func idleCPU(b *testing.B, window time.Duration) {
	b.Helper()
	cpu0, wall0 := cpuTime(b), time.Now()
	for b.Loop() {
		time.Sleep(window)
	}
	cpu, wall := cpuTime(b)-cpu0, time.Since(wall0)
	b.ReportMetric(float64(cpu.Milliseconds())/wall.Seconds(), "cpu-ms/s")
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportPercentiles reports the 50th and 99th percentiles of lat in µs.
func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds())
	}
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}
