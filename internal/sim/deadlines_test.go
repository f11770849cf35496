package sim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/deadline"
)

// spotTrace writes a trace of 5-minute ticks, up for the first up ticks
// of n, and returns its path.
func spotTrace(t *testing.T, up, n int) string {
	t.Helper()
	v := make([]string, n)
	for i := range v {
		v[i] = "0"
		if i < up {
			v[i] = "1"
		}
	}
	path := filepath.Join(t.TempDir(), fmt.Sprintf("up-%d.json", up))
	doc := fmt.Sprintf(`{"metadata": {"gap_seconds": 300}, "data": [%s]}`, strings.Join(v, ", "))
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestStoryDeadlinesSpotRunsDry: 40 jobs of 25–45 minutes that restart
// from zero, due within the hour, on a Spot pool whose two types run dry at
// +15 and +30 minutes, with an on-demand pool behind it. A job starts on
// Spot only when its run, and its restart on on-demand should Spot go,
// both fit the hour: 1h ≥ 2 × (changeover 1m30s + run), a run of at most
// 28m30s. The others start on on-demand: none is moved off Spot after
// paying for it. The jobs Spot takes back run again on on-demand, and
// every job meets its deadline.
func TestStoryDeadlinesSpotRunsDry(t *testing.T) {
	a, b := spotTrace(t, 3, 24), spotTrace(t, 6, 24)
	sc := parse(t, fmt.Sprintf(`
name: spot runs dry
horizon: 2h
boot_time: 60s
pools:
  - name: spot
    provider: fake
    market: spot
    instance_types:
      - {name: c5a.large, cpu: 2, memory_mb: 4096, price: 0.077, spot_trace: %q}
      - {name: c5.large,  cpu: 2, memory_mb: 4096, price: 0.085, spot_trace: %q}
    max: 40
    scale_in_delay: 1m
    boot_time: 60s
  - name: on-demand
    provider: fake
    market: on-demand
    instance_types:
      - {name: c5a.large, cpu: 2, memory_mb: 4096, price: 0.077}
    max: 40
    scale_in_delay: 1m
    boot_time: 60s
jobs:
  - name: configurations
    count: 40
    shapes: [{cpu: 2, memory_mb: 4096}]
    run: {min: 25m, max: 45m}
    deadline: 1h
`, a, b))
	rep, err := Run(context.Background(), sc, Options{Seed: 1, DeadlinePolicy: deadline.Adaptive{}})
	if err != nil {
		t.Fatalf("Run() = %v", err)
	}
	r := rep.Berth
	checkInvariants(t, r)
	if r.JobsSucceeded != 40 || r.DeadlineMisses != 0 {
		t.Errorf("%d of 40 jobs succeeded, %d missed their deadline; want all done in time", r.JobsSucceeded, r.DeadlineMisses)
	}
	const fits = 28*time.Minute + 30*time.Second
	run, first := map[string]time.Duration{}, map[string]AttemptRecord{}
	for _, at := range r.Attempts {
		if at.End == AttemptMoved {
			t.Errorf("job %s was moved off %s at +%s, want no Spot paid for a run it could not end", at.JobID, at.Pool, at.Ended.Sub(sc.Start))
		}
		if at.End == AttemptSucceeded {
			run[at.JobID] = at.Ended.Sub(at.Started)
		}
		if _, ok := first[at.JobID]; !ok {
			first[at.JobID] = at
		}
	}
	onSpot := 0
	for id, at := range first {
		switch {
		case at.Market == berth.Spot && run[id] > fits:
			t.Errorf("job %s of %s started on Spot, want on-demand: its run does not fit its slack", id, run[id])
		case at.Market == berth.Spot:
			onSpot++
		}
	}
	if onSpot == 0 {
		t.Errorf("no job started on Spot, want those whose run fits their slack there")
	}
}
