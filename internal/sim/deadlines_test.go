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

// TestStoryDeadlinesSpotRunsDry: 40 jobs of 25–45 minutes, due within the
// hour, on a Spot pool whose two types run dry at +15 and +30 minutes, with
// an on-demand pool behind it. Every job meets its deadline: the deadline
// policy moves the jobs Spot could no longer be trusted with to on-demand,
// and none of them goes back to Spot within the hour.
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
	movedAt := map[string]time.Time{}
	for _, at := range r.Attempts {
		if m, ok := movedAt[at.JobID]; ok && at.Market == berth.Spot && at.Started.Before(m.Add(time.Hour)) {
			t.Errorf("job %s, moved to on-demand at +%s, went back to Spot at +%s", at.JobID, m.Sub(sc.Start), at.Started.Sub(sc.Start))
		}
		if at.End == AttemptMoved {
			if at.Market != berth.Spot {
				t.Errorf("job %s was moved off %s, want moves off Spot only", at.JobID, at.Pool)
			}
			if _, ok := movedAt[at.JobID]; !ok {
				movedAt[at.JobID] = at.Ended
			}
		}
	}
	if len(movedAt) == 0 {
		t.Errorf("no job was moved to on-demand")
	}
}
