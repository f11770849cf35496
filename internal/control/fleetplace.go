package control

import (
	"context"
	"slices"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/autoscale"
	"github.com/berth-run/berth/internal/fleetview"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/scheduler"
)

// placement is what the dispatcher's placement knows of the pools at now:
// their state, with the instances whose node has not joined yet as
// capacity on its way, and the nodes launched for one job. nodes are the
// nodes the round places on; a node that joined since the last autoscale
// round is matched to its instance here, so that a host launched for one
// job never takes another.
func (f *Fleet) placement(ctx context.Context, now time.Time, nodes []berth.Node) ([]scheduler.PoolState, map[string]string, error) {
	joined := map[string]string{} // instance → node
	for _, n := range nodes {
		if n.State != berth.NodeReady && n.State != berth.NodeDraining {
			continue
		}
		if p := f.pool(n.Pool); p == nil || p.Provider == nil {
			continue
		}
		f.mu.Lock()
		in, ok := f.instanceOf[n.ID]
		f.mu.Unlock()
		if !ok {
			info, err := f.store.NodeInfo(ctx, n.ID)
			if err != nil {
				return nil, nil, err
			}
			in = info.Facts.InstanceID
			if in != "" {
				f.mu.Lock()
				f.instanceOf[n.ID] = in
				f.mu.Unlock()
			}
		}
		if in != "" {
			joined[in] = n.ID
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]scheduler.PoolState, 0, len(f.pools))
	dedicated := map[string]string{}
	for i := range f.pools {
		p := &f.pools[i]
		ps := scheduler.PoolState{Spec: p.Spec, Open: p.open(now), Prices: map[string]float64{}, Unavailable: map[string]bool{}}
		for _, o := range f.offerings[p.Spec.Name] {
			ps.Prices[o.InstanceType] = o.Price
			if f.avoided(p.Spec.Name, o.InstanceType, now) {
				ps.Unavailable[o.InstanceType] = true
			}
		}
		for _, in := range f.lists[p.Spec.Name] {
			if in.State == provider.InstanceTerminated {
				continue
			}
			ps.Size++
			job := in.Tags[provider.TagJob]
			if node, ok := joined[in.ID]; ok {
				if job != "" {
					dedicated[node] = job
				}
				continue
			}
			ready := in.ReadyAt
			if ready.Before(now) {
				ready = now
			}
			ps.Launching = append(ps.Launching, scheduler.Launching{InstanceType: in.InstanceType, CPU: in.CPU, MemoryMB: in.MemoryMB,
				ReadyAt: ready, JobID: job})
		}
		out = append(out, ps)
	}
	return out, dedicated, nil
}

// demand takes the outcome of a placement round: the jobs left waiting for
// capacity, and the hosts asked for jobs larger than any. A round that
// changes what waits, or asks for a host, kicks the loop: new work may
// need capacity, and the published signal should follow the queue.
func (f *Fleet) demand(plan scheduler.Plan, queued []berth.Job) {
	byID := make(map[string]*berth.Job, len(queued))
	for i := range queued {
		byID[queued[i].ID] = &queued[i]
	}
	asked := make(map[string]bool, len(plan.Hosts))
	for _, h := range plan.Hosts {
		asked[h.JobID] = true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	own := map[string]bool{}
	for _, ins := range f.lists {
		for _, in := range ins {
			if job := in.Tags[provider.TagJob]; job != "" && in.State != provider.InstanceTerminated {
				own[job] = true
			}
		}
	}
	before := make(map[string]bool, len(f.waiting))
	for _, w := range f.waiting {
		before[w.JobID] = true
	}
	changed := len(plan.Hosts) > 0
	ws := make([]autoscale.Waiting, 0, len(plan.Waiting))
	for _, id := range plan.Waiting {
		j := byID[id]
		if j == nil || asked[id] || own[id] {
			continue
		}
		// j is the round's copy: its pool is the deadline policy's choice.
		ws = append(ws, fleetview.Waiting(j, j.Pool, scheduler.QueuedSince(j)))
		changed = changed || !before[id]
	}
	changed = changed || len(ws) != len(f.waiting)
	f.waiting = ws
	f.hosts = append(f.hosts, plan.Hosts...)
	if changed {
		f.wake.kick()
	}
}

// serverlessNode returns the node that runs the attempts of serverless
// pool name, and the pool's spec.
func (f *Fleet) serverlessNode(name string) (string, *berth.PoolSpec) {
	p := f.pool(name)
	if p == nil || !p.Spec.IsServerless() {
		return "", nil
	}
	return p.Node, &p.Spec
}

// serverless reports whether pool name runs containers without nodes.
func (f *Fleet) serverless(name string) bool {
	p := f.pool(name)
	return p != nil && p.Spec.IsServerless()
}

// Specs returns the configured pools' specs, in order.
func (f *Fleet) Specs() []berth.PoolSpec {
	out := make([]berth.PoolSpec, len(f.pools))
	for i := range f.pools {
		out[i] = f.pools[i].Spec
	}
	return out
}

// PoolStatus is a configured pool as it is now.
type PoolStatus struct {
	Spec berth.PoolSpec
	// Instances are those of the last list: live ones, and those that
	// ended within the provider's retention.
	Instances []provider.Instance
	// Nodes maps instance ids to the ids of the nodes running on them.
	Nodes map[string]string
	// Metric is the autoscaler's signal, for pools it scales.
	Metric *autoscale.Metric
	// Window, for a pool with one, says whether it is open and when that
	// changes.
	Window *berth.PoolWindowState
	// Offerings are those of the last round, with the types avoided now.
	Offerings []berth.PoolOffering
	// Problem is what keeps the pool from working now; "" when nothing.
	Problem string
}

// Pools returns the configured pools, in order, as of now.
func (f *Fleet) Pools(now time.Time) []PoolStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]PoolStatus, len(f.pools))
	for i, p := range f.pools {
		st := PoolStatus{Spec: p.Spec, Instances: slices.Clone(f.lists[p.Spec.Name]), Nodes: map[string]string{}}
		if p.Window != nil {
			open, next := p.Window.Open(now)
			st.Window = &berth.PoolWindowState{Open: open, Next: next}
		}
		for _, o := range f.offerings[p.Spec.Name] {
			st.Offerings = append(st.Offerings, berth.PoolOffering{InstanceType: o.InstanceType, Market: o.Market,
				PriceUSDHour: o.Price, Unavailable: f.avoided(p.Spec.Name, o.InstanceType, now)})
		}
		for _, in := range st.Instances {
			if n, ok := f.nodeOf[in.ID]; ok {
				st.Nodes[in.ID] = n.ID
			}
		}
		if m, ok := f.metrics[p.Spec.Name]; ok {
			st.Metric = &m.Metric
		}
		if pr, ok := f.problems[p.Spec.Name]; ok && (pr.until.IsZero() || !now.After(pr.until)) {
			st.Problem = pr.what
		}
		out[i] = st
	}
	return out
}
