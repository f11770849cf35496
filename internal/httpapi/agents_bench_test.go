package httpapi

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/agent"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/fake"
)

// stampRunner is the fake engine, noting when each attempt's container
// create request arrived.
type stampRunner struct {
	*fake.Runner
	// mu guards at.
	mu sync.Mutex
	at map[string]time.Time
}

func (r *stampRunner) Create(ctx context.Context, c provider.Container) (string, error) {
	now := time.Now()
	r.mu.Lock()
	if _, ok := r.at[c.AttemptID]; !ok {
		r.at[c.AttemptID] = now
	}
	r.mu.Unlock()
	return r.Runner.Create(ctx, c)
}

func (r *stampRunner) created(attemptID string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.at[attemptID]
	return t, ok
}

// BenchmarkPlacementToStart measures the long-poll wake-up path of a remote
// agent: from a job's placement (its attempt's creation, stamped by the
// dispatcher before it commits) to the agent's container create request,
// through the API over loopback HTTP. Jobs go one at a time on an idle
// node. Run with -benchtime 200x or more.
func BenchmarkPlacementToStart(b *testing.B) {
	p := startPlaneB(b)
	id, token := p.join(b, "default")
	remote := agent.NewRemote(p.srv.URL, token, p.srv.Client())
	ctx, cancel := context.WithCancel(context.Background())
	runner := &stampRunner{Runner: fake.New(provider.Capacity{CPU: 4, MemoryMB: 4096}), at: map[string]time.Time{}}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := agent.New(agent.Config{NodeID: id, HealthInterval: time.Second}, remote, runner, agent.NewShipper(ctx, remote, quiet), quiet)
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for {
		if n, _ := p.store.NodeInfo(ctx, id); n.State == berth.NodeReady {
			break
		}
		time.Sleep(time.Millisecond)
	}
	var lat []time.Duration
	for b.Loop() {
		j, _, err := p.store.CreateJob(ctx, berth.JobSpec{Image: "busybox"}.WithDefaults(), time.Now())
		if err != nil {
			b.Fatal(err)
		}
		p.kick()
		var att berth.Attempt
		for {
			got, err := p.store.Job(ctx, j.ID)
			if err != nil {
				b.Fatal(err)
			}
			if len(got.Attempts) > 0 {
				att = got.Attempts[0]
				if at, ok := runner.created(att.ID); ok {
					lat = append(lat, at.Sub(att.CreatedAt))
					break
				}
			}
			time.Sleep(100 * time.Microsecond)
		}
		for { // one at a time: wait for the job to end
			got, _ := p.store.Job(ctx, j.ID)
			if got.State.Terminal() && !got.Attempts[0].Active() {
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	slices.Sort(lat)
	pct := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1])/1e6, "max-ms")
}
