package scheduler

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
)

var due0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// dueJob is a job of cpu vCPUs due at due0 + due that expects to run for
// run; a zero run leaves its expected duration unknown.
func dueJob(id string, cpu float64, due, run time.Duration) berth.Job {
	j := job(id, cpu, 1024)
	d := due0.Add(due)
	j.Deadline, j.ExpectedDuration = &d, berth.Duration(run)
	return j
}

func prio(j berth.Job, p int) berth.Job { j.Priority = p; return j }

func TestOrder(t *testing.T) {
	free := func(id string) berth.Job { return job(id, 1, 1024) }
	tests := []struct {
		name string
		jobs []berth.Job
		want []string
	}{
		{"no deadlines: the dispatch order", []berth.Job{free("a"), free("b"), free("c")}, []string{"a", "b", "c"}},
		{"a shared deadline: longest first",
			[]berth.Job{dueJob("10m", 1, time.Hour, 10*time.Minute), dueJob("50m", 1, time.Hour, 50*time.Minute), dueJob("30m", 1, time.Hour, 30*time.Minute)},
			[]string{"50m", "30m", "10m"}},
		{"least slack first, whatever the deadline",
			[]berth.Job{dueJob("loose", 1, 4*time.Hour, time.Hour), dueJob("tight", 1, 2*time.Hour, 90*time.Minute)},
			[]string{"tight", "loose"}},
		{"jobs without a deadline keep their places",
			[]berth.Job{free("a"), dueJob("loose", 1, 4*time.Hour, time.Hour), free("b"), dueJob("tight", 1, time.Hour, 30*time.Minute)},
			[]string{"a", "tight", "b", "loose"}},
		{"a deadline without an expected duration keeps its place",
			[]berth.Job{dueJob("unknown", 1, time.Hour, 0), dueJob("short", 1, time.Hour, time.Minute), dueJob("long", 1, time.Hour, 50*time.Minute)},
			[]string{"unknown", "long", "short"}},
		{"priority first",
			[]berth.Job{prio(dueJob("high", 1, 4*time.Hour, time.Minute), 5), dueJob("low", 1, time.Hour, 50*time.Minute)},
			[]string{"high", "low"}},
		{"equal slack: the dispatch order",
			[]berth.Job{dueJob("b", 1, time.Hour, 30*time.Minute), dueJob("a", 1, 2*time.Hour, 90*time.Minute)},
			[]string{"b", "a"}},
	}
	for _, tt := range tests {
		ord := Order(tt.jobs)
		var got []string
		for k := range tt.jobs {
			i := k
			if ord != nil {
				i = ord[k]
			}
			got = append(got, tt.jobs[i].ID)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: Order() (-want +got):\n%s", tt.name, diff)
		}
	}
}

// TestPlaceLikeLengthsTogether: jobs that share a deadline share hosts
// with jobs of like lengths, whatever order they came in, so that no host
// is held for a long job while its short ones' room sits idle.
func TestPlaceLikeLengthsTogether(t *testing.T) {
	nodes := []berth.Node{node("n1", 4, 8192), node("n2", 4, 8192)}
	jobs := []berth.Job{
		dueJob("10m", 2, time.Hour, 10*time.Minute), dueJob("50m", 2, time.Hour, 50*time.Minute),
		dueJob("12m", 2, time.Hour, 12*time.Minute), dueJob("48m", 2, time.Hour, 48*time.Minute),
	}
	got := placed(Place(Snapshot{Nodes: nodes, Queued: jobs}))
	if got["50m"] != got["48m"] || got["10m"] != got["12m"] || got["50m"] == got["10m"] {
		t.Errorf("Place() = %v, want the 48- and 50-minute jobs on one node, the 10- and 12-minute ones on the other", got)
	}
}
