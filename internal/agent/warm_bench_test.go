package agent

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/dockertest"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/docker"
	"github.com/moby/moby/client"
)

// stampImage is the benchmark's image: FROM scratch, a static Go binary
// (testdata/stamp) as its entrypoint that prints the time its main starts.
const stampImage = "berth-test/stamp:latest"

// buildStamp builds testdata/stamp statically and imports it as
// stampImage.
func buildStamp(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "stamp")
	cmd := exec.Command("go", "build", "-o", bin, "./testdata/stamp")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build stamp: %v\n%s", err, out)
	}
	prog, err := os.ReadFile(bin)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "stamp", Mode: 0o755, Size: int64(len(prog))})
	_, _ = tw.Write(prog)
	_ = tw.Close()
	c := dockertest.Client(b)
	res, err := c.ImageImport(b.Context(), client.ImageImportSource{Source: &buf, SourceName: "-"}, stampImage,
		client.ImageImportOptions{Changes: []string{`ENTRYPOINT ["/stamp"]`}})
	if err != nil {
		b.Fatalf("import %s: %v", stampImage, err)
	}
	_, _ = io.Copy(io.Discard, res)
	res.Close()
	return stampImage
}

// stampOf reads the start time the stamp printed.
func stampOf(out string) (time.Time, bool) {
	ns, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}

// BenchmarkWarmStart measures, per job, the time from its assignment
// reaching the node's long-poll to the first instruction of its process
// (a static binary that prints its start time), on a node with a warm
// container of its image and shape; interleaved with the engine's own
// create+start of the same image (from before the create to the same
// first instruction), and with a cold start through the same agent (a job
// with a label, which a warm container cannot carry). Run with
// -benchtime=200x for 200 jobs of each.
func BenchmarkWarmStart(b *testing.B) {
	image := buildStamp(b)
	api := dockertest.Client(b)
	runner, err := docker.NewWarm(api, dockertest.Shim(b), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	srv := newFakeServer(berth.NodeReady)
	logs := &memSink{}
	ctx, cancel := context.WithCancel(context.Background())
	a := New(Config{NodeID: "node_warmbench", HealthInterval: time.Second,
		Warm: WarmConfig{Runner: runner, Max: 4, TTL: time.Hour, Interval: 100 * time.Millisecond}},
		srv, runner, logs, quiet())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
		removeNode(runner, "node_warmbench")
	}()
	spec := berth.JobSpec{Image: image, CPU: 0.5, MemoryMB: 64}
	// run assigns a job and returns the time to its first instruction.
	run := func(i int, kind string, labels map[string]string) time.Duration {
		att := fmt.Sprintf("att_%s_%d", kind, i)
		s := spec
		s.Labels = labels
		begin := time.Now()
		srv.mu.Lock()
		srv.list = append(srv.list, berth.Assignment{Attempt: berth.Attempt{ID: att, Node: "node_warmbench"},
			Job: berth.Job{ID: "job_" + att, State: berth.Starting, JobSpec: s}})
		srv.bumpLocked()
		srv.mu.Unlock()
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
			srv.mu.Lock()
			finished := len(srv.finished[att]) > 0
			srv.mu.Unlock()
			if at, ok := stampOf(logs.output(att)); ok && finished {
				return at.Sub(begin)
			}
		}
		b.Fatalf("job %s printed no start time within a minute: %q", att, logs.output(att))
		return 0
	}
	engine := func(i int) time.Duration {
		begin := time.Now()
		id, err := runner.Create(ctx, provider.Container{JobID: "job_engine", AttemptID: fmt.Sprintf("att_engine_%d", i),
			Node: "node_bench", Image: image, CPU: spec.CPU, MemoryMB: spec.MemoryMB})
		if err != nil {
			b.Fatal(err)
		}
		if err := runner.Start(ctx, id); err != nil {
			b.Fatal(err)
		}
		if _, err := runner.Wait(ctx, id); err != nil {
			b.Fatal(err)
		}
		var out bytes.Buffer
		if err := runner.Logs(ctx, id, &out); err != nil {
			b.Fatal(err)
		}
		_ = runner.Remove(ctx, id)
		at, ok := stampOf(out.String())
		if !ok {
			b.Fatalf("engine container printed %q", out.String())
		}
		return at.Sub(begin)
	}
	waitWarm := func() {
		for deadline := time.Now().Add(time.Minute); a.WarmStats().Idle[image] == 0; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatal("no warm container within a minute")
			}
		}
	}
	run(-1, "first", nil) // the node learns the image
	var warm, cold, eng []time.Duration
	b.ResetTimer()
	for i := range b.N {
		waitWarm()
		warm = append(warm, run(i, "warm", nil))
		eng = append(eng, engine(i))
		cold = append(cold, run(i, "cold", map[string]string{"bench": "cold"}))
	}
	b.StopTimer()
	st := a.WarmStats()
	b.ReportMetric(ms(quantile(warm, 0.50)), "warm-p50-ms")
	b.ReportMetric(ms(quantile(warm, 0.99)), "warm-p99-ms")
	b.ReportMetric(ms(quantile(eng, 0.50)), "engine-p50-ms")
	b.ReportMetric(ms(quantile(eng, 0.99)), "engine-p99-ms")
	b.ReportMetric(ms(quantile(cold, 0.50)), "cold-p50-ms")
	b.ReportMetric(ms(quantile(cold, 0.99)), "cold-p99-ms")
	b.ReportMetric(float64(quantile(eng, 0.5))/float64(quantile(warm, 0.5)), "engine/warm-p50")
	b.ReportMetric(float64(st.Hits), "warm-hits")
}

// quantile returns the q-quantile of ds (nearest rank).
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
