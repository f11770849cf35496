package sim

import (
	"math"
	"slices"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/autoscale"
	"github.com/berth-run/berth/internal/deadline"
)

// policy is how a fleet is run: berth's own, or a baseline's.
type policy struct {
	name string
	// pools turns the scenario's pools into the policy's.
	pools func(sc *Scenario, jobs []Job) []berth.PoolSpec
	// scale decides scaling; nil leaves the fleet as start made it.
	scale func(autoscale.Snapshot) autoscale.Plan
	// start runs when the simulation starts.
	start func(e *engine)
	// placementPools gives placement the pools: host requests for jobs
	// larger than every host, and overflow on start budgets.
	placementPools bool
	// rebalance drains hosts on a rebalance recommendation.
	rebalance bool
	// reclaimSpendsRetry makes a Spot reclaim cost the job a retry
	// (batchMaxRetries of them), as AWS Batch does.
	reclaimSpendsRetry bool
	// startDelay is the time from placement to the container running.
	startDelay time.Duration
	// bootTime overrides the scenario's boot time; negative means none.
	bootTime time.Duration
	// deadlines, when set, runs the jobs that have a deadline through
	// it, as the server does.
	deadlines deadline.Policy
	// dueJobs gives placement each job's deadline and, for a job that has
	// one, its run time as its expected duration, as the server's jobs
	// with a deadline carry them: placement puts jobs of like expected
	// lengths on one host. The baselines' schedulers know neither.
	dueJobs bool
}

func noStart(*engine) {}

// berthPolicy is berth: the real placement with host requests and
// overflow, and the real autoscaler.
func berthPolicy(deadlines deadline.Policy) *policy {
	return &policy{
		name:           "berth",
		pools:          func(sc *Scenario, _ []Job) []berth.PoolSpec { return sc.Pools },
		scale:          autoscale.Decide,
		start:          noStart,
		placementPools: true,
		rebalance:      true,
		deadlines:      deadlines,
		dueJobs:        true,
	}
}

// nodePools are the scenario's pools that have nodes.
func nodePools(sc *Scenario) []berth.PoolSpec {
	var out []berth.PoolSpec
	for _, p := range sc.Pools {
		if !p.IsServerless() {
			out = append(out, p)
		}
	}
	return out
}

// allTypes lists the instance types of the scenario's pools, once each.
func allTypes(sc *Scenario) []berth.InstanceType {
	var out []berth.InstanceType
	for _, p := range nodePools(sc) {
		for _, t := range p.InstanceTypes {
			if !slices.ContainsFunc(out, func(x berth.InstanceType) bool { return x.Name == t.Name }) {
				out = append(out, t)
			}
		}
	}
	return out
}

// largest is the largest job of a workload, by CPU then memory.
func largest(jobs []Job) (float64, int64) {
	var c float64
	var m int64
	for _, j := range jobs {
		c, m = max(c, j.CPU), max(m, j.MemoryMB)
	}
	return c, m
}

// fittingType returns, of types, the cheapest per vCPU-equivalent that
// fits cpu×mem, or the largest if none does.
func fittingType(types []berth.InstanceType, cpu float64, mem int64) berth.InstanceType {
	best := -1
	for i, t := range types {
		if t.CPU+1e-9 < cpu || t.MemoryMB < mem {
			continue
		}
		if best < 0 || t.Price/unitsOf(t) < types[best].Price/unitsOf(types[best]) ||
			(t.Price/unitsOf(t) == types[best].Price/unitsOf(types[best]) && t.CPU < types[best].CPU) {
			best = i
		}
	}
	if best >= 0 {
		return types[best]
	}
	return slices.MaxFunc(types, func(a, b berth.InstanceType) int { return cmpF(a.CPU, b.CPU) })
}

// unitsOf weighs a type in vCPU-equivalents, a vCPU being worth 4 GiB.
func unitsOf(t berth.InstanceType) float64 { return max(t.CPU, float64(t.MemoryMB)/4096) }

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// fixedPolicy is a fixed on-demand fleet sized for the peak: as many
// hosts of one type (the cheapest per unit that fits the largest job) as
// the peak of concurrent demand needs, when every job runs from its
// arrival, all up for the whole horizon.
func fixedPolicy() *policy {
	return &policy{
		name: "fixed-on-demand",
		pools: func(sc *Scenario, jobs []Job) []berth.PoolSpec {
			c, m := largest(jobs)
			t := fittingType(allTypes(sc), c, m)
			t.SpotPrice, t.SpotTrace = 0, ""
			pc, pm := peak(jobs)
			n := int(math.Ceil(max(pc/t.CPU, pm/float64(t.MemoryMB))))
			n = max(n, 1)
			return []berth.PoolSpec{berth.PoolSpec{Name: "fixed", Provider: berth.ProviderFake, Market: berth.OnDemand,
				InstanceTypes: []berth.InstanceType{t}, Min: n, Max: n}.WithDefaults()}
		},
		start: func(e *engine) {
			p := e.pools[0]
			for range p.spec.Min {
				e.launch(p, p.spec.InstanceTypes[0].Name, nil)
			}
		},
		bootTime: -1,
	}
}

// peak is the largest concurrent CPU and memory of jobs that each run from
// their arrival.
func peak(jobs []Job) (float64, float64) {
	type edge struct {
		t    time.Time
		c, m float64
	}
	var es []edge
	for _, j := range jobs {
		es = append(es, edge{j.Submit, j.CPU, float64(j.MemoryMB)}, edge{j.Submit.Add(j.Run), -j.CPU, -float64(j.MemoryMB)})
	}
	slices.SortFunc(es, func(a, b edge) int {
		if c := a.t.Compare(b.t); c != 0 {
			return c
		}
		return cmpF(a.c, b.c) // ends before starts at the same moment
	})
	var c, m, pc, pm float64
	for _, e := range es {
		c, m = c+e.c, m+e.m
		pc, pm = max(pc, c), max(pm, m)
	}
	return pc, pm
}
