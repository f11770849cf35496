package scheduler

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func spotState() PoolState {
	spec := berth.PoolSpec{Name: "spot", Provider: berth.ProviderFake, Market: berth.Spot, Max: 10,
		StartBudget: berth.Duration(2 * time.Minute), Overflow: "fargate",
		InstanceTypes: []berth.InstanceType{
			{Name: "m5.large", CPU: 2, MemoryMB: 8192, Price: 0.096},
			{Name: "r5.4xlarge", CPU: 16, MemoryMB: 131072, Price: 1.008},
			{Name: "m5.4xlarge", CPU: 16, MemoryMB: 65536, Price: 0.768},
		}}.WithDefaults()
	return PoolState{Spec: spec, Open: true, Size: 1,
		Prices: map[string]float64{"m5.large": 0.035, "r5.4xlarge": 0.40, "m5.4xlarge": 0.32}}
}

func fargateState() PoolState {
	spec := berth.PoolSpec{Name: "fargate", Provider: berth.ProviderFakeServerless,
		Serverless: &berth.Serverless{VCPUSecond: berth.FargateVCPUSecond, GBSecond: berth.FargateGBSecond}}.WithDefaults()
	return PoolState{Spec: spec, Open: true}
}

func waitingJob(id string, cpu float64, mem int64, waited time.Duration, options ...string) berth.Job {
	j := job(id, cpu, mem)
	j.CreatedAt = now.Add(-waited)
	for i := 0; i+1 < len(options); i += 2 {
		switch v := options[i+1]; options[i] {
		case optPool:
			j.Pool = v
		case optStartBudget:
			d, err := time.ParseDuration(v)
			if err != nil {
				panic(err)
			}
			b := berth.Duration(d)
			j.StartBudget = &b
		}
	}
	return j
}

// The options waitingJob sets, as pairs of option and value.
const (
	optPool        = "pool"
	optStartBudget = "start_budget"
)

// requeuedJob is a job created age ago and queued again, after losing its
// capacity, waited ago (berth.Next sets NotBefore then).
func requeuedJob(id string, cpu float64, mem int64, age, waited time.Duration) berth.Job {
	j := waitingJob(id, cpu, mem, age)
	at := now.Add(-waited)
	j.NotBefore, j.Requeued = &at, 1
	return j
}

// outcome summarises a plan as job → what happened to it.
func outcome(p Plan) map[string]string {
	m := map[string]string{}
	for _, pl := range p.Placements {
		m[pl.JobID] = "node " + pl.NodeID
	}
	for _, h := range p.Hosts {
		m[h.JobID] = "host " + h.Pool + "/" + h.InstanceType
	}
	for _, o := range p.Overflow {
		m[o.JobID] = "overflow " + o.Pool
	}
	for _, id := range p.Waiting {
		if _, ok := m[id]; !ok {
			m[id] = "wait"
		}
	}
	return m
}

func TestPlacePools(t *testing.T) {
	full := node("n1", 4, 16384)
	full.UsedCPU, full.UsedMemoryMB = 4, 16384
	atMax := spotState()
	atMax.Size = atMax.Spec.Max
	closed := spotState()
	closed.Open = false
	booting := spotState()
	booting.Launching = []Launching{{InstanceType: "m5.large", CPU: 2, MemoryMB: 8192, ReadyAt: now.Add(40 * time.Second)}}
	forHuge := spotState()
	forHuge.Launching = []Launching{{InstanceType: "m5.4xlarge", CPU: 16, MemoryMB: 65536, ReadyAt: now.Add(time.Minute), JobID: "huge"}}
	noSpot := spotState()
	noSpot.Unavailable = map[string]bool{"m5.4xlarge": true}
	tests := []struct {
		name  string
		nodes []berth.Node
		pools []PoolState
		jobs  []berth.Job
		want  map[string]string
	}{
		{"a job larger than every host gets the cheapest type that fits it",
			[]berth.Node{node("n1", 4, 16384)}, []PoolState{spotState(), fargateState()},
			[]berth.Job{waitingJob("huge", 12, 32768, 0), waitingJob("small", 1, 1024, 0)},
			map[string]string{"huge": "host spot/m5.4xlarge", "small": "node n1"}},
		{"the cheapest type that fits memory too",
			[]berth.Node{node("n1", 4, 16384)}, []PoolState{spotState(), fargateState()},
			[]berth.Job{waitingJob("huge", 12, 100000, 0)},
			map[string]string{"huge": "host spot/r5.4xlarge"}},
		{"an unavailable type is skipped",
			[]berth.Node{node("n1", 4, 16384)}, []PoolState{noSpot, fargateState()},
			[]berth.Job{waitingJob("huge", 12, 32768, 0)},
			map[string]string{"huge": "host spot/r5.4xlarge"}},
		{"no second host while its own is launching",
			[]berth.Node{node("n1", 4, 16384)}, []PoolState{forHuge, fargateState()},
			[]berth.Job{waitingJob("huge", 12, 32768, 0)},
			map[string]string{"huge": "wait"}},
		{"from zero, the autoscaler sizes the fleet: no host request",
			nil, []PoolState{spotState(), fargateState()},
			[]berth.Job{waitingJob("huge", 12, 32768, 0)},
			map[string]string{"huge": "wait"}},
		{"within its budget a job waits for a boot",
			[]berth.Node{full}, []PoolState{spotState(), fargateState()},
			[]berth.Job{waitingJob("a", 1, 1024, 30*time.Second)},
			map[string]string{"a": "wait"}},
		{"a boot that would exceed the budget: overflow",
			[]berth.Node{full}, []PoolState{spotState(), fargateState()},
			[]berth.Job{waitingJob("a", 1, 1024, 100*time.Second)},
			map[string]string{"a": "overflow fargate"}},
		{"capacity on its way in time: wait",
			[]berth.Node{full}, []PoolState{booting, fargateState()},
			[]berth.Job{waitingJob("a", 1, 1024, 60*time.Second)},
			map[string]string{"a": "wait"}},
		{"a new boot would be too late: overflow",
			[]berth.Node{full}, []PoolState{spotState(), fargateState()},
			[]berth.Job{waitingJob("a", 1, 1024, 60*time.Second)},
			map[string]string{"a": "overflow fargate"}},
		{"the pool is at its max: overflow at once",
			[]berth.Node{full}, []PoolState{atMax, fargateState()},
			[]berth.Job{waitingJob("a", 1, 1024, 0)},
			map[string]string{"a": "overflow fargate"}},
		{"the window is closed: overflow at once",
			[]berth.Node{full}, []PoolState{closed, fargateState()},
			[]berth.Job{waitingJob("a", 1, 1024, 0)},
			map[string]string{"a": "overflow fargate"}},
		{"a job's own budget wins over its pool's",
			[]berth.Node{full}, []PoolState{spotState(), fargateState()},
			[]berth.Job{waitingJob("a", 1, 1024, 100*time.Second, optStartBudget, "10m"), waitingJob("b", 1, 1024, 0, optStartBudget, "10s")},
			map[string]string{"a": "wait", "b": "overflow fargate"}},
		{"a budget of 0 waits",
			[]berth.Node{full}, []PoolState{atMax, fargateState()},
			[]berth.Job{waitingJob("a", 1, 1024, time.Hour, optStartBudget, "0s")},
			map[string]string{"a": "wait"}},
		{"too large for the overflow runner: wait",
			[]berth.Node{full}, []PoolState{atMax, fargateState()},
			[]berth.Job{waitingJob("a", 32, 1024, time.Hour)},
			map[string]string{"a": "wait"}},
		{"re-queued after a loss, the budget counts from the re-queue, not the job's creation",
			[]berth.Node{full}, []PoolState{spotState(), fargateState()},
			[]berth.Job{requeuedJob("a", 1, 1024, time.Hour, 10*time.Second), requeuedJob("b", 1, 1024, time.Hour, 100*time.Second)},
			map[string]string{"a": "wait", "b": "overflow fargate"}},
		{"a job fits a free node: placed, whatever its budget",
			[]berth.Node{node("n1", 4, 16384)}, []PoolState{atMax, fargateState()},
			[]berth.Job{waitingJob("a", 1, 1024, time.Hour)},
			map[string]string{"a": "node n1"}},
	}
	for _, tt := range tests {
		p := Place(Snapshot{Nodes: tt.nodes, Queued: tt.jobs, Now: now, Pools: tt.pools})
		if diff := cmp.Diff(tt.want, outcome(p)); diff != "" {
			t.Errorf("%s: Place() (-want +got):\n%s", tt.name, diff)
		}
		for _, id := range p.Waiting {
			if !strings.HasPrefix(p.Reasons[id], "waiting for") {
				t.Errorf("%s: %s waits with reason %q", tt.name, id, p.Reasons[id])
			}
		}
		for _, o := range p.Overflow {
			if !strings.HasPrefix(p.Reasons[o.JobID], "overflow to fargate: start budget") {
				t.Errorf("%s: %s overflows with reason %q", tt.name, o.JobID, p.Reasons[o.JobID])
			}
		}
	}
}

// TestDedicatedHost: a host launched for a job takes that job and no other.
func TestDedicatedHost(t *testing.T) {
	own := node("own", 16, 65536)
	p := Place(Snapshot{
		Nodes:     []berth.Node{own},
		Queued:    []berth.Job{job("small", 1, 512), job("huge", 12, 32768), job("other", 1, 512)},
		Dedicated: map[string]string{"own": "huge"},
	})
	want := map[string]string{"huge": "node own", "small": "wait", "other": "wait"}
	if diff := cmp.Diff(want, outcome(p)); diff != "" {
		t.Errorf("Place() (-want +got):\n%s", diff)
	}
	booting := own
	booting.State = berth.NodeJoining
	p = Place(Snapshot{Nodes: []berth.Node{booting}, Queued: []berth.Job{job("huge", 12, 32768)}, Dedicated: map[string]string{"own": "huge"}})
	if got := p.Reasons["huge"]; got != "waiting for its own host own to be ready" {
		t.Errorf("reason while its host joins = %q", got)
	}
}

// TestPinnedToPool: a job pinned to a pool runs on that pool's nodes only;
// an unpinned one takes the best fit in any pool.
func TestPinnedToPool(t *testing.T) {
	warm := node("warm", 4, 16384)
	warm.Pool = "warm"
	batch := node("batch", 8, 32768)
	batch.Pool = "nightly"
	busy := batch
	busy.ID, busy.UsedCPU, busy.UsedMemoryMB = "busy", 8, 32768
	tests := []struct {
		name  string
		nodes []berth.Node
		jobs  []berth.Job
		want  map[string]string
	}{
		{"pinned jobs stay in their pool", []berth.Node{warm, batch},
			[]berth.Job{waitingJob("a", 1, 1024, 0, optPool, "nightly"), waitingJob("b", 1, 1024, 0, optPool, "warm")},
			map[string]string{"a": "node batch", "b": "node warm"}},
		{"unpinned: best fit across pools", []berth.Node{batch, warm}, []berth.Job{waitingJob("a", 3, 1024, 0)},
			map[string]string{"a": "node warm"}},
		{"a full pool makes its jobs wait, not spill", []berth.Node{warm, busy},
			[]berth.Job{waitingJob("a", 1, 1024, 0, optPool, "nightly")},
			map[string]string{"a": "wait"}},
		{"a pool with no nodes", []berth.Node{warm}, []berth.Job{waitingJob("a", 1, 1024, 0, optPool, "nightly")},
			map[string]string{"a": "wait"}},
	}
	for _, tt := range tests {
		p := Place(Snapshot{Nodes: tt.nodes, Queued: tt.jobs, Now: now})
		if diff := cmp.Diff(tt.want, outcome(p)); diff != "" {
			t.Errorf("%s: Place() (-want +got):\n%s", tt.name, diff)
		}
	}
	p := Place(Snapshot{Nodes: []berth.Node{warm, busy}, Queued: []berth.Job{waitingJob("a", 1, 1024, 0, optPool, "nightly")}})
	if got, want := p.Reasons["a"], "waiting for capacity: largest free slot in pool nightly 0 vCPU/0 MiB, job needs 1 vCPU/1 GiB"; got != want {
		t.Errorf("reason = %q, want %q", got, want)
	}
}

// TestReasonsWhileCapacityComes: a job waiting for a pool to grow says so,
// and names the host booting for it once there is one; one that no pool
// can grow for says why.
func TestReasonsWhileCapacityComes(t *testing.T) {
	spot := spotState()
	spot.Size = 0
	booting := spotState()
	booting.Launching = []Launching{{InstanceType: "m5.large", CPU: 2, MemoryMB: 8192, ReadyAt: now.Add(45 * time.Second)}}
	closed := spotState()
	closed.Size, closed.Open = 0, false
	full := spotState()
	full.Size = full.Spec.Max
	dry := spotState()
	dry.Size, dry.Unavailable = 0, map[string]bool{"m5.large": true, "r5.4xlarge": true, "m5.4xlarge": true}
	tests := []struct {
		name string
		pool PoolState
		want string
	}{
		{"the pool can launch", spot, "waiting for capacity: job needs 1 vCPU/1 GiB; pool spot is to launch a host for it"},
		{"a host is booting", booting, "waiting for capacity: job needs 1 vCPU/1 GiB; a m5.large is booting in pool spot, ready at 12:00:45"},
		{"the pool is closed", closed, "waiting for capacity: no node has joined; pool spot is outside its window"},
		{"the pool is at its max", full, "waiting for capacity: no node has joined; pool spot is at its max of 10 hosts"},
		{"no type can be had", dry, "waiting for capacity: no node has joined; pool spot has no instance type that fits it available now"},
		{"no type fits", func() PoolState {
			p := spotState()
			p.Size, p.Spec.InstanceTypes = 0, []berth.InstanceType{{Name: "t4g.nano", CPU: 2, MemoryMB: 512, Price: 0.0042}}
			return p
		}(),
			"waiting for capacity: no node has joined; pool spot has no instance type that fits it"},
	}
	for _, tt := range tests {
		p := Place(Snapshot{Queued: []berth.Job{waitingJob("a", 1, 1024, 0)}, Now: now, Pools: []PoolState{tt.pool}})
		if got := p.Reasons["a"]; got != tt.want {
			t.Errorf("%s: reason %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestPinnedToServerless: a job pinned to a serverless pool goes there at
// once, without a start budget, even with room on a node; one larger than
// the pool's largest task waits.
func TestPinnedToServerless(t *testing.T) {
	nodes := []berth.Node{node("n1", 4, 16384)}
	jobs := []berth.Job{waitingJob("a", 1, 1024, 0, optPool, "fargate"), waitingJob("big", 32, 1024, 0, optPool, "fargate")}
	p := Place(Snapshot{Nodes: nodes, Queued: jobs, Now: now, Pools: []PoolState{spotState(), fargateState()}})
	want := map[string]string{"a": "overflow fargate", "big": "wait"}
	if diff := cmp.Diff(want, outcome(p)); diff != "" {
		t.Errorf("Place() (-want +got):\n%s", diff)
	}
	if r := p.Reasons["a"]; r != "sent to serverless pool fargate, the pool it names" {
		t.Errorf("reason of a = %q", r)
	}
}

// TestOverflowWhy: the reason a job overflowed becomes the clause its
// reason keeps while it starts and runs on the serverless pool.
func TestOverflowWhy(t *testing.T) {
	for in, want := range map[string]string{
		"overflow to fargate: start budget 2s would be exceeded (waited 0s, capacity in 1m30s)": "its start budget 2s would be exceeded (waited 0s, capacity in 1m30s)",
		"sent to serverless pool fargate, the pool it names":                                    "the job is pinned to that pool",
	} {
		if got := overflowWhy(in); got != want {
			t.Errorf("overflowWhy(%q) = %q, want %q", in, got, want)
		}
	}
}
