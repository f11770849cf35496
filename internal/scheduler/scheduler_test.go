package scheduler

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
)

func node(id string, cpu float64, mem int64) berth.Node {
	return berth.Node{ID: id, Name: id, State: berth.NodeReady, Healthy: true, CPU: cpu, MemoryMB: mem}
}

func job(id string, cpu float64, mem int64) berth.Job {
	return berth.Job{ID: id, JobSpec: berth.JobSpec{CPU: cpu, MemoryMB: mem}, State: berth.Queued, Version: 1}
}

func placed(p Plan) map[string]string {
	m := map[string]string{}
	for _, pl := range p.Placements {
		m[pl.JobID] = pl.NodeID
	}
	return m
}

func TestPlace(t *testing.T) {
	busy := node("busy", 4, 4096)
	busy.UsedCPU, busy.UsedMemoryMB = 3, 1024
	draining := node("drain", 8, 8192)
	draining.State = berth.NodeDraining
	sick := node("sick", 8, 8192)
	sick.Healthy, sick.Reason = false, "engine unavailable"
	tests := []struct {
		name  string
		nodes []berth.Node
		jobs  []berth.Job
		want  map[string]string
	}{
		{"best fit picks the tighter node", []berth.Node{node("big", 8, 8192), busy}, []berth.Job{job("a", 1, 512)}, map[string]string{"a": "busy"}},
		{"fills in order until full", []berth.Node{node("n", 2, 1024)}, []berth.Job{job("a", 1, 256), job("b", 1, 256), job("c", 1, 256)}, map[string]string{"a": "n", "b": "n"}},
		{"never on draining or unhealthy", []berth.Node{draining, sick}, []berth.Job{job("a", 1, 256)}, map[string]string{}},
		{"big job reserves its node; small ones wait", []berth.Node{busy}, []berth.Job{job("big", 4, 1024), job("small", 0.5, 128)}, map[string]string{}},
		{"job larger than any node does not block others", []berth.Node{node("n", 2, 1024)}, []berth.Job{job("huge", 64, 1024), job("small", 1, 128)}, map[string]string{"small": "n"}},
		{"memory dominant", []berth.Node{node("m", 16, 2048), node("c", 2, 16384)}, []berth.Job{job("a", 1, 2000)}, map[string]string{"a": "m"}},
	}
	for _, tt := range tests {
		got := placed(Place(Snapshot{Nodes: tt.nodes, Queued: tt.jobs}))
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: Place() placements (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestPlaceReasons(t *testing.T) {
	n := node("n", 2, 2048)
	n.UsedCPU, n.UsedMemoryMB = 1, 1024
	sick := node("local", 2, 2048)
	sick.Healthy, sick.Reason = false, "engine unavailable: connection refused"
	joiningSick := node("local", 2, 2048) // its engine was down from the start: never ready
	joiningSick.State, joiningSick.Healthy, joiningSick.Reason = berth.NodeJoining, false, "Docker engine unreachable at unix:///var/run/docker.sock"
	tests := []struct {
		nodes []berth.Node
		job   berth.Job
		want  string
	}{
		{[]berth.Node{n}, job("a", 2, 512), "waiting for capacity: largest free slot 1 vCPU/1 GiB, job needs 2 vCPU/512 MiB"},
		{[]berth.Node{n}, job("a", 4, 16384), "waiting for capacity: job needs 4 vCPU/16 GiB, larger than any node (largest 2 vCPU/2 GiB)"},
		{nil, job("a", 1, 256), "waiting for capacity: no node has joined"},
		{[]berth.Node{n}, job("a", 2, 512), "waiting for capacity: largest free slot 1 vCPU/1 GiB, job needs 2 vCPU/512 MiB; the nodes that could fit it are held for earlier jobs"},
		{[]berth.Node{sick}, job("a", 1, 256), "waiting for capacity: no node is ready (local: engine unavailable: connection refused)"},
		{[]berth.Node{joiningSick}, job("a", 1, 256), "waiting for capacity: no node is ready (local: Docker engine unreachable at unix:///var/run/docker.sock)"},
	}
	for i, tt := range tests {
		q := []berth.Job{tt.job}
		if i == 3 { // an earlier job holds the node
			q = []berth.Job{job("first", 2, 512), tt.job}
		}
		p := Place(Snapshot{Nodes: tt.nodes, Queued: q})
		if got := p.Reasons["a"]; got != tt.want {
			t.Errorf("Place(%v).Reasons[a] = %q, want %q", tt.job.JobSpec, got, tt.want)
		}
	}
}

// TestPlaceNeverOvercommits is a property test: over random clusters and
// queues, no node gets more than its capacity, nothing lands on a node that
// is not schedulable, and every job is either placed once or given a reason.
func TestPlaceNeverOvercommits(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 500 {
		var nodes []berth.Node
		for i := range 1 + r.IntN(8) {
			n := node(fmt.Sprintf("n%d", i), float64(1+r.IntN(16)), int64(512*(1+r.IntN(32))))
			n.UsedCPU = float64(r.IntN(int(n.CPU) + 1))
			switch r.IntN(6) {
			case 0:
				n.State = berth.NodeDraining
			case 1:
				n.Healthy = false
			}
			nodes = append(nodes, n)
		}
		var jobs []berth.Job
		for i := range r.IntN(60) {
			jobs = append(jobs, job(fmt.Sprintf("j%d", i), float64(r.IntN(40)+1)/4, int64(64*(1+r.IntN(64)))))
		}
		p := Place(Snapshot{Nodes: nodes, Queued: jobs})
		used := map[string][2]float64{}
		byID := map[string]berth.Node{}
		for _, n := range nodes {
			byID[n.ID] = n
			used[n.ID] = [2]float64{n.UsedCPU, float64(n.UsedMemoryMB)}
		}
		seen := map[string]bool{}
		for _, pl := range p.Placements {
			n := byID[pl.NodeID]
			if !n.Schedulable() {
				t.Fatalf("round %d: placed %s on unschedulable node %+v", round, pl.JobID, n)
			}
			var j berth.Job
			for _, c := range jobs {
				if c.ID == pl.JobID {
					j = c
				}
			}
			u := used[n.ID]
			u[0] += j.CPU
			u[1] += float64(j.MemoryMB)
			used[n.ID] = u
			if u[0] > n.CPU+1e-9 || u[1] > float64(n.MemoryMB) {
				t.Fatalf("round %d: node %s over-committed: %v of %v/%d", round, n.ID, u, n.CPU, n.MemoryMB)
			}
			if seen[pl.JobID] {
				t.Fatalf("round %d: %s placed twice", round, pl.JobID)
			}
			seen[pl.JobID] = true
		}
		for _, j := range jobs {
			if !seen[j.ID] && !strings.HasPrefix(p.Reasons[j.ID], "waiting for capacity") {
				t.Fatalf("round %d: %s neither placed nor given a reason (%q)", round, j.ID, p.Reasons[j.ID])
			}
		}
	}
}
