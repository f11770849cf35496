package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/dockertest"
)

// These benchmarks measure berth as a whole, against the Docker engine
// alone, side by side in one run. Run them with
//
//	go test ./internal/e2e -run '^$' -bench . -benchtime 200x
//
// and record the figures in BENCHMARKS.md.

// BenchmarkDispatchOverhead measures, per job on an idle engine, the time
// from POST /v1/jobs answered to the container started (the attempt's
// started_at, recorded once the engine's start call returned), against the
// engine's own create+start of the same container. The two alternate, one
// at a time, each container finishing before the next begins.
func BenchmarkDispatchOverhead(b *testing.B) {
	s := startBenchServer(b)
	c := dockertest.Client(b)
	ctx := context.Background()
	var engine, viaBerth, fromSend []time.Duration
	for i := 0; b.Loop(); i++ {
		engine = append(engine, engineCreateStart(b, ctx, c, s.image, i))
		answered, sent := berthStart(b, s)
		viaBerth, fromSend = append(viaBerth, answered), append(fromSend, sent)
	}
	report(b, "engine", engine)
	report(b, "berth", viaBerth)
	report(b, "berth-from-send", fromSend)
	b.ReportMetric(ms(pct(viaBerth, 50)-pct(engine, 50)), "added-p50-ms")
	b.ReportMetric(float64(pct(viaBerth, 99))/float64(pct(engine, 99)), "p99-ratio")
}

func engineCreateStart(b *testing.B, ctx context.Context, c *client.Client, image string, i int) time.Duration {
	name := fmt.Sprintf("berth-bench-engine-%d-%d", time.Now().UnixNano(), i)
	t0 := time.Now()
	res, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:   name,
		Config: &container.Config{Image: image, Cmd: []string{"true"}, Labels: map[string]string{"berth.bench": "1"}},
		HostConfig: &container.HostConfig{Resources: container.Resources{
			NanoCPUs: 5e8, Memory: 256 << 20, MemorySwap: 256 << 20,
		}},
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		b.Fatal(err)
	}
	d := time.Since(t0)
	w := c.ContainerWait(ctx, res.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-w.Result:
	case err := <-w.Error:
		b.Fatal(err)
	}
	if _, err := c.ContainerRemove(ctx, res.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
		b.Fatal(err)
	}
	return d
}

// berthStart returns the time from POST answered, and from POST sent, to
// the container started.
func berthStart(b *testing.B, s *server) (time.Duration, time.Duration) {
	var j berth.Job
	sent := time.Now()
	if code := s.call("POST", "/v1/jobs", berth.JobSpec{Image: s.image, Command: []string{"true"}}, &j); code != http.StatusCreated {
		b.Fatalf("submit: %d", code)
	}
	answered := time.Now()
	j = s.waitTerminal(j.ID, 30*time.Second)
	if j.State != berth.Succeeded || len(j.Attempts) != 1 || j.Attempts[0].StartedAt == nil {
		b.Fatalf("job %s: %s %q", j.ID, j.State, j.Reason)
	}
	waitNoContainers(b, j.ID)
	return j.Attempts[0].StartedAt.Sub(answered), j.Attempts[0].StartedAt.Sub(sent)
}

// BenchmarkManySmallJobs runs 500 jobs of `true` through berth, all
// submitted at once, against `docker run --rm` of the same 500 with the
// same concurrency (the node's 2 vCPUs hold 8 jobs of 0.25 vCPU; 8 workers
// run docker).
func BenchmarkManySmallJobs(b *testing.B) {
	const jobs, workers = 500, 8
	s := startBenchServer(b, "--cpus", "2")
	var docker, viaBerth time.Duration
	for b.Loop() {
		docker += dockerRuns(b, s.image, jobs, workers)
		viaBerth += berthRuns(b, s, jobs)
	}
	n := float64(b.N)
	b.ReportMetric(docker.Seconds()/n, "docker-run-s")
	b.ReportMetric(viaBerth.Seconds()/n, "berth-s")
	b.ReportMetric(viaBerth.Seconds()/docker.Seconds(), "ratio")
}

func dockerRuns(b *testing.B, image string, jobs, workers int) time.Duration {
	work := make(chan int)
	var wg sync.WaitGroup
	t0 := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				out, err := exec.Command("docker", "run", "--rm", "--cpus", "0.25", "--memory", "256m", image, "true").CombinedOutput()
				if err != nil {
					b.Errorf("docker run: %v: %s", err, out)
				}
			}
		}()
	}
	for i := range jobs {
		work <- i
	}
	close(work)
	wg.Wait()
	return time.Since(t0)
}

func berthRuns(b *testing.B, s *server, jobs int) time.Duration {
	t0 := time.Now()
	ids := make([]string, jobs)
	var wg sync.WaitGroup
	for i := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var j berth.Job
			if code := s.call("POST", "/v1/jobs", berth.JobSpec{Image: s.image, Command: []string{"true"}, CPU: 0.25}, &j); code != http.StatusCreated {
				b.Errorf("submit: %d", code)
			}
			ids[i] = j.ID
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if j := s.waitTerminal(id, 10*time.Minute); j.State != berth.Succeeded {
			b.Fatalf("job %s: %s %q", id, j.State, j.Reason)
		}
	}
	return time.Since(t0)
}

// BenchmarkSubmitThroughput submits single jobs over HTTP from 64 clients
// to a server without an agent (jobs are queued, not run); every answer is
// a durable commit.
func BenchmarkSubmitThroughput(b *testing.B) {
	s := startBenchServer(b, "--local-agent=false")
	body := fmt.Sprintf(`{"image":%q,"command":["true"]}`, s.image)
	tr := &http.Transport{MaxIdleConnsPerHost: 128}
	hc := &http.Client{Transport: tr}
	b.SetParallelism(32) // × GOMAXPROCS clients
	t0 := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", "http://"+s.addr+"/v1/jobs", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+s.token)
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body) // read to the end, so the connection is reused
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				b.Errorf("submit: %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "jobs/s")
}

// startBenchServer is startServer for benchmarks.
func startBenchServer(b *testing.B, flags ...string) *server {
	b.Helper()
	image := dockertest.Image(b)
	s := &server{t: b, data: privateDir(b), addr: freeAddr(b), args: append([]string{"--log-level", "warn"}, flags...), image: image, scheme: "http", hc: http.DefaultClient}
	s.start()
	b.Cleanup(func() {
		s.stop(syscall.SIGTERM)
		removeContainers(b, s.data)
	})
	return s
}

func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func report(b *testing.B, name string, ds []time.Duration) {
	b.ReportMetric(ms(pct(ds, 50)), name+"-p50-ms")
	b.ReportMetric(ms(pct(ds, 99)), name+"-p99-ms")
}
