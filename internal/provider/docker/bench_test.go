package docker

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/dockertest"
	"github.com/berth-run/berth/internal/provider"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// BenchmarkEngineCreateStart measures the engine alone: create and start of
// the test image running `true`, with the options a Runner sends, through
// the bare client. Waiting for the exit and removing the container are left
// out of the timing. berth's dispatch overhead is measured against this
// figure.
func BenchmarkEngineCreateStart(b *testing.B) {
	api := dockertest.Client(b)
	image := dockertest.Image(b)
	ctx := b.Context()
	job := berth.NewID("job", time.Now())
	took := make([]time.Duration, 0, b.N)

	b.ResetTimer()
	for range b.N {
		opts := createOptions(provider.Container{
			JobID: job, AttemptID: berth.NewID("att", time.Now()), Node: "node_bench",
			Image: image, Command: []string{"true"}, CPU: 1, MemoryMB: 64,
		})
		begin := time.Now()
		res, err := api.ContainerCreate(ctx, opts)
		if err != nil {
			b.Fatalf("ContainerCreate() = %v", err)
		}
		if _, err := api.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
			b.Fatalf("ContainerStart() = %v", err)
		}
		took = append(took, time.Since(begin))

		b.StopTimer()
		w := api.ContainerWait(ctx, res.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
		select {
		case <-w.Result:
		case err := <-w.Error:
			b.Fatalf("ContainerWait() = %v", err)
		}
		if _, err := api.ContainerRemove(ctx, res.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
			b.Fatalf("ContainerRemove() = %v", err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(ms(percentile(took, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(took, 0.99)), "p99-ms")
}

// percentile returns the q-quantile of ds (nearest rank).
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func TestPercentile(t *testing.T) {
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[i] = time.Duration(100-i) * time.Millisecond // reversed: 100ms..1ms
	}
	tests := []struct {
		ds   []time.Duration
		q    float64
		want time.Duration
	}{
		{ds, 0.50, 50 * time.Millisecond},
		{ds, 0.99, 99 * time.Millisecond},
		{ds, 1, 100 * time.Millisecond},
		{ds[:1], 0.99, 100 * time.Millisecond},
		{nil, 0.5, 0},
	}
	for _, tt := range tests {
		if got := percentile(tt.ds, tt.q); got != tt.want {
			t.Errorf("percentile(%d durations, %v) = %v, want %v", len(tt.ds), tt.q, got, tt.want)
		}
	}
}
