package scheduler

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
)

// timed is a job of cpu vCPUs/1 GiB that expects to run for run; a zero
// run leaves its expected duration unknown.
func timed(id string, cpu float64, run time.Duration) berth.Job {
	j := job(id, cpu, 1024)
	j.ExpectedDuration = berth.Duration(run)
	return j
}

// TestPlaceLikeLengthsTogether: the jobs a round places share hosts with
// jobs of like lengths, whatever order they came in, so that no host is
// held for a long job while its short ones' room sits idle; the round
// places the jobs it would have, and only those with an expected duration
// move.
func TestPlaceLikeLengthsTogether(t *testing.T) {
	two := []berth.Node{node("n1", 4, 8192), node("n2", 4, 8192)}
	tests := []struct {
		name  string
		nodes []berth.Node
		jobs  []berth.Job
		// together lists groups of jobs that must share a node, apart
		// from the other groups.
		together [][]string
		waiting  []string
	}{
		{"long with long, short with short", two,
			[]berth.Job{timed("10m", 2, 10*time.Minute), timed("50m", 2, 50*time.Minute), timed("12m", 2, 12*time.Minute), timed("48m", 2, 48*time.Minute)},
			[][]string{{"50m", "48m"}, {"12m", "10m"}}, nil},
		{"the round places the jobs it would have: the last still waits", two,
			[]berth.Job{timed("10m", 2, 10*time.Minute), timed("50m", 2, 50*time.Minute), timed("12m", 2, 12*time.Minute),
				timed("48m", 2, 48*time.Minute), timed("60m", 8, 60*time.Minute)},
			[][]string{{"50m", "48m"}, {"12m", "10m"}}, []string{"60m"}},
	}
	for _, tt := range tests {
		p := Place(Snapshot{Nodes: tt.nodes, Queued: tt.jobs})
		got := placed(p)
		for i, g := range tt.together {
			for _, id := range g {
				if got[id] == "" || got[id] != got[g[0]] {
					t.Errorf("%s: Place() = %v, want %v together", tt.name, got, g)
				}
				for _, h := range tt.together[i+1:] {
					if got[id] == got[h[0]] {
						t.Errorf("%s: Place() = %v, want %v apart from %v", tt.name, got, g, h)
					}
				}
			}
		}
		if diff := cmp.Diff(tt.waiting, p.Waiting); diff != "" {
			t.Errorf("%s: Place() waiting (-want +got):\n%s", tt.name, diff)
		}
	}
}

// untimed is jobs without their expected durations.
func untimed(jobs []berth.Job) []berth.Job {
	out := make([]berth.Job, len(jobs))
	for i, j := range jobs {
		j.ExpectedDuration = 0
		out[i] = j
	}
	return out
}

// TestPlaceRegroupKeepsUntimed: a job without an expected duration stays
// on the node the round gave it.
func TestPlaceRegroupKeepsUntimed(t *testing.T) {
	nodes := []berth.Node{node("n1", 4, 8192), node("n2", 4, 8192)}
	jobs := []berth.Job{timed("10m", 2, 10*time.Minute), timed("unknown", 2, 0), timed("50m", 2, 50*time.Minute), timed("48m", 2, 48*time.Minute)}
	want := placed(Place(Snapshot{Nodes: nodes, Queued: untimed(jobs)}))["unknown"]
	if got := placed(Place(Snapshot{Nodes: nodes, Queued: jobs})); got["unknown"] != want || len(got) != 4 {
		t.Errorf("Place() = %v, want all four placed and unknown on %s, as without expected durations", got, want)
	}
}

// TestPlaceRegroupFallsBack: when best fit, longest first, would not hold
// every job the round placed, the round's own placements stand.
func TestPlaceRegroupFallsBack(t *testing.T) {
	nodes := []berth.Node{node("n1", 3, 8192), node("n2", 3, 8192)}
	jobs := []berth.Job{timed("a", 2, 10*time.Minute), timed("b", 2, 10*time.Minute), timed("c", 1, 50*time.Minute), timed("d", 1, 50*time.Minute)}
	want := placed(Place(Snapshot{Nodes: nodes, Queued: untimed(jobs)}))
	if got := placed(Place(Snapshot{Nodes: nodes, Queued: jobs})); !cmp.Equal(got, want) || len(got) != 4 {
		t.Errorf("Place() = %v, want the round's own placements %v", got, want)
	}
}
