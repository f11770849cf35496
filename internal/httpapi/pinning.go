package httpapi

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/scheduler"
)

// checkPool checks the pool a job's spec pins it to, naming the field
// under prefix ("" or "job."). A job pinned to a pool must name one that
// exists: a configured pool, the default
// pool of agents, or one that a node has joined. An agent may join a pool
// of any name with its join token (GET /v1/pools/{name}), so a new agent
// pool can take pinned jobs once its first node has joined. A configured
// pool that launches its own capacity must have an instance type (or a
// serverless task size, or an overflow runner) that holds the job: it
// would otherwise wait for ever.
func (s *Server) checkPool(ctx context.Context, spec berth.JobSpec, prefix string) error {
	name := spec.Pool
	if name == "" {
		return nil
	}
	pools, err := s.pools(ctx)
	if err != nil {
		return err
	}
	names := make([]string, len(pools))
	for i, p := range pools {
		if p.Name == name {
			return holds(p.Spec, pools, spec.WithDefaults(), prefix)
		}
		names[i] = p.Name
	}
	return &berth.FieldError{Field: prefix + "pool",
		Problem: fmt.Sprintf("no pool named %s; pools: %s (an agent's pool exists once its first node joins)", name, strings.Join(names, ", "))}
}

// holds says why pool, which a job is pinned to, can never run it, or
// returns nil. Pools whose capacity is their nodes' (local, agents) are
// not judged: a larger node may join.
func holds(pool *berth.PoolSpec, all []*poolView, j berth.JobSpec, prefix string) error {
	if pool == nil || pool.Provider == berth.ProviderLocal || pool.Fits(j.CPU, j.MemoryMB) {
		return nil
	}
	if pool.Overflow != "" && overflows(pool, j) {
		for _, o := range all {
			if o.Name == pool.Overflow && o.Spec != nil && o.Spec.Fits(j.CPU, j.MemoryMB) {
				return nil
			}
		}
	}
	return &berth.FieldError{Field: prefix + "pool",
		Problem: fmt.Sprintf("pool %s cannot hold a job of %s: %s; the job would never run", pool.Name, scheduler.Shape(j.CPU, j.MemoryMB), largest(pool))}
}

// overflows reports whether a job of pool that no instance type holds
// goes to the pool's overflow: only with a start budget above 0 (its own,
// else the pool's). With none, it would wait for ever.
func overflows(pool *berth.PoolSpec, j berth.JobSpec) bool {
	if j.StartBudget != nil {
		return *j.StartBudget > 0
	}
	return pool.StartBudget > 0
}

// largest describes the largest capacity pool offers.
func largest(pool *berth.PoolSpec) string {
	if s := pool.Serverless; s != nil {
		return "its largest task is " + scheduler.Shape(s.MaxCPU, s.MaxMemoryMB)
	}
	var byCPU, byMem berth.InstanceType
	for _, t := range pool.InstanceTypes {
		if t.CPU > byCPU.CPU {
			byCPU = t
		}
		if t.MemoryMB > byMem.MemoryMB {
			byMem = t
		}
	}
	s := fmt.Sprintf("its largest instance type is %s (%s)", byCPU.Name, scheduler.Shape(byCPU.CPU, byCPU.MemoryMB))
	if byMem.Name != byCPU.Name {
		s += fmt.Sprintf(", by memory %s (%s)", byMem.Name, scheduler.Shape(byMem.CPU, byMem.MemoryMB))
	}
	return s
}

// checkHolds refuses a job pinned to no pool that nothing on offer could
// ever hold: it is larger than every node (live or not: a lost one may
// come back), than every instance type of the configured pools that
// launch hosts, and than every serverless overflow it would go to. A
// server with nothing on offer yet (no node, no such pool) judges nothing:
// the job waits for a node to join, and so does a job pinned to an agent
// pool (see checkPool), which is the way to wait for a larger node.
func (s *Server) checkHolds(ctx context.Context, spec berth.JobSpec, prefix string) error {
	if spec.Pool != "" {
		return nil
	}
	j := spec.WithDefaults()
	var specs []berth.PoolSpec
	if s.d.Fleet != nil {
		specs = s.d.Fleet.Specs()
	}
	views := make([]*poolView, len(specs))
	for i := range specs {
		views[i] = &poolView{Name: specs[i].Name, Spec: &specs[i]}
	}
	for i := range specs {
		if p := &specs[i]; p.Provider != berth.ProviderLocal && !p.IsServerless() && holds(p, views, j, prefix) == nil {
			return nil
		}
	}
	ok, err := s.d.Store.NodeHolds(ctx, j.CPU, j.MemoryMB)
	if err != nil || ok {
		return err
	}
	nodes, err := s.d.Store.NodeInfos(ctx)
	if err != nil {
		return err
	}
	type offer struct {
		what     string
		cpu      float64
		memoryMB int64
	}
	var offers []offer
	for _, n := range nodes {
		offers = append(offers, offer{"node " + n.Name, n.CPU, n.MemoryMB})
	}
	for i := range specs {
		p := &specs[i]
		if p.Provider == berth.ProviderLocal || p.IsServerless() {
			continue
		}
		for _, t := range p.InstanceTypes {
			offers = append(offers, offer{fmt.Sprintf("%s in pool %s", t.Name, p.Name), t.CPU, t.MemoryMB})
		}
		if p.Overflow != "" && overflows(p, j) {
			for k := range specs {
				if o := specs[k].Serverless; specs[k].Name == p.Overflow && o != nil {
					offers = append(offers, offer{"a task of pool " + p.Overflow, o.MaxCPU, o.MaxMemoryMB})
				}
			}
		}
	}
	if len(offers) == 0 {
		return nil
	}
	field, maxCPU := prefix+"memory_mb", 0.0
	for _, o := range offers {
		maxCPU = max(maxCPU, o.cpu)
	}
	if j.CPU > maxCPU+1e-9 {
		field = prefix + "cpu"
	}
	slices.SortStableFunc(offers, func(a, b offer) int {
		return cmp.Or(cmp.Compare(b.cpu, a.cpu), cmp.Compare(b.memoryMB, a.memoryMB))
	})
	var largest []string
	for _, o := range offers[:min(len(offers), 3)] {
		largest = append(largest, fmt.Sprintf("%s (%s)", o.what, scheduler.Shape(o.cpu, o.memoryMB)))
	}
	return &berth.FieldError{Field: field, Problem: fmt.Sprintf(
		"nothing on offer can hold a job of %s, so it would never run; the largest: %s. To wait for a larger node to join, pin the job to an agent pool (pool)",
		scheduler.Shape(j.CPU, j.MemoryMB), strings.Join(largest, ", "))}
}
