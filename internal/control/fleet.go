package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/autoscale"
	"github.com/berth-run/berth/internal/config"
	"github.com/berth-run/berth/internal/deadline"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/scheduler"
	"github.com/berth-run/berth/internal/store"
)

// FleetPool is one configured pool, as the fleet runs it.
type FleetPool struct {
	Spec berth.PoolSpec // with defaults
	// Provider creates and destroys the pool's hosts; nil for the local
	// pool and serverless pools.
	Provider provider.Pool
	// Window, when set, is when the pool exists.
	Window *config.Window
	// Node runs a serverless pool's attempts: the one node of the pool,
	// whose executor is the serverless runner.
	Node string
}

func (p *FleetPool) open(now time.Time) bool {
	if p.Window == nil {
		return true
	}
	open, _ := p.Window.Open(now)
	return open
}

// FleetConfig tunes the autoscale loop; zero fields mean the default.
type FleetConfig struct {
	// Interval is the longest between two rounds.
	Interval time.Duration // default 10s
	// MinGap is the shortest between two rounds that ask the providers
	// for their instances and offerings, however often kicked.
	MinGap time.Duration // default 250ms
	// Fresh is how old the instances listed last may be for a round that
	// new work kicked: such a round decides on them (and on the hosts it
	// launched since) without asking the providers again, so that a job
	// that needs a host gets its launch in milliseconds. A round on the
	// timer always lists.
	Fresh time.Duration // default 5s
	// AvoidFor is how long an instance type is avoided after it ran out
	// of capacity or its Spot capacity began to be reclaimed.
	AvoidFor time.Duration // default 5m
}

// Fleet is the autoscale loop. Each round it lists every pool's instances
// and offerings, reads the nodes and their use from the store, calls
// autoscale.Decide and applies its actions through the pools' providers.
// A host is terminated only when the store, read again after its drain,
// shows that it runs nothing. Nodes whose instance has ended are retired
// (gone), and Spot notices seen in the lists reach their nodes if their
// agents have not reported them. It runs a round when kicked (the
// dispatcher kicks it when work waits that capacity does not meet, or a
// job asks for a host of its own) and at least every Interval.
//
// It keeps no truth of its own: instances are re-read with List every
// round and matched to nodes by the instance id their agents report, so a
// restarted server converges. What it keeps between rounds (the last
// lists, the types to avoid, the work the dispatcher left waiting) is a
// cache for placement, the API and the metrics.
type Fleet struct {
	cfg   FleetConfig
	pools []FleetPool
	store *store.Store
	reg   *Registry
	log   *slog.Logger
	wake  wakeup
	// priced is the last price recorded of each pool's type; only Round
	// touches it.
	priced map[[2]string]float64

	// mu guards the fields below.
	mu         sync.Mutex
	lists      map[string][]provider.Instance // by pool, as last listed
	offerings  map[string][]provider.Offering // by pool
	nodeOf     map[string]store.NodeInfo      // by instance id, as last read
	instanceOf map[string]string              // instance ids by node id
	avoid      autoscale.Avoidance            // types out of capacity or being reclaimed
	noticed    map[string]time.Time           // instances whose Spot notice was seen → their reclaim
	// notices are when Spot notices were first seen, by pool and type,
	// and lives when instances lived, by instance id: the interruption
	// rates of the last fleetview.RateWindow.
	notices map[[2]string][]time.Time
	lives   map[string]instanceLife
	// problems are what keeps each pool from working, by pool.
	problems map[string]poolProblem
	waiting  []autoscale.Waiting
	hosts    []scheduler.HostRequest
	metrics  map[string]PoolMetrics         // by pool, as of the round that computed them
	spot     map[string]*deadline.SpotWatch // by Spot pool
}

// NewFleet returns the autoscale loop of pools, over the nodes of reg.
func NewFleet(cfg FleetConfig, pools []FleetPool, s *store.Store, reg *Registry, log *slog.Logger) *Fleet {
	if cfg.Interval == 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.MinGap == 0 {
		cfg.MinGap = 250 * time.Millisecond
	}
	if cfg.Fresh == 0 {
		cfg.Fresh = 5 * time.Second
	}
	if cfg.AvoidFor == 0 {
		cfg.AvoidFor = 5 * time.Minute
	}
	return &Fleet{cfg: cfg, pools: pools, store: s, reg: reg, log: log, wake: newWakeup(),
		lists: map[string][]provider.Instance{}, offerings: map[string][]provider.Offering{},
		nodeOf: map[string]store.NodeInfo{}, instanceOf: map[string]string{}, noticed: map[string]time.Time{},
		notices: map[[2]string][]time.Time{}, lives: map[string]instanceLife{}, problems: map[string]poolProblem{},
		metrics: map[string]PoolMetrics{}, spot: map[string]*deadline.SpotWatch{}, priced: map[[2]string]float64{}}
}

// Kick asks for a round soon. It never blocks.
func (f *Fleet) Kick() {
	f.wake.kick()
}

// Run runs rounds until ctx ends: on the timer, rounds that list the
// providers' instances; when kicked, rounds on the instances listed within
// Fresh (a kick with older ones lists).
func (f *Fleet) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	var listedAt time.Time
	for {
		kicked := false
		select {
		case <-ctx.Done():
			return nil
		case <-f.wake:
			kicked = true
		case <-t.C:
		}
		now := time.Now()
		list := !kicked || now.Sub(listedAt) >= f.cfg.Fresh
		if list {
			listedAt = now
		}
		if err := f.round(ctx, now, list); err != nil && ctx.Err() == nil {
			f.log.Error("autoscale round", "err", err)
		}
		if list {
			t.Reset(f.cfg.Interval)
		}
		gap := f.cfg.MinGap
		if !list {
			gap /= 10 // no provider was asked: only the store was read
		}
		g := time.NewTimer(gap)
		select {
		case <-ctx.Done():
			g.Stop()
			return nil
		case <-g.C:
		}
	}
}

// Round lists the providers' instances and offerings, decides and acts
// once.
func (f *Fleet) Round(ctx context.Context, now time.Time) error {
	return f.round(ctx, now, true)
}

// round decides and acts once. With list, it first asks the providers for
// their instances and offerings, and acts on what they show (instances
// that ended, Spot notices, instances that did not join in time); without,
// it decides on the instances of the last list and those launched since.
func (f *Fleet) round(ctx context.Context, now time.Time, list bool) error {
	var errs []error
	lists := map[string][]provider.Instance{}
	for _, p := range f.pools {
		if p.Provider == nil {
			continue
		}
		if !list {
			f.mu.Lock()
			ins, ok := f.lists[p.Spec.Name]
			f.mu.Unlock()
			if ok {
				lists[p.Spec.Name] = slices.Clone(ins)
			}
			continue
		}
		ins, err := p.Provider.List(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("list pool %s: %w", p.Spec.Name, err))
			f.problem(p.Spec.Name, "listing its instances: "+err.Error(), time.Time{})
			continue
		}
		lists[p.Spec.Name] = ins
		if of, err := p.Provider.Offerings(ctx); err != nil {
			errs = append(errs, fmt.Errorf("offerings of pool %s: %w", p.Spec.Name, err))
			f.problem(p.Spec.Name, "reading its offerings: "+err.Error(), time.Time{})
		} else {
			f.solved(p.Spec.Name)
			f.mu.Lock()
			f.offerings[p.Spec.Name] = of
			f.mu.Unlock()
			if err := f.recordPrices(ctx, p.Spec.Name, of, now); err != nil {
				errs = append(errs, err)
			}
		}
	}
	nodes, err := f.reg.Nodes(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	f.observe(lists, nodes, now)
	f.heardNotices(lists, nodes, now)
	if list {
		errs = append(errs, f.retire(ctx, lists, nodes, now)...)
		errs = append(errs, f.joinTimeouts(ctx, lists, now)...)
	}
	v, err := f.view(ctx, now, lists, true)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	plan := autoscale.Decide(v.Snapshot())
	views := map[string]int{}
	for i, vp := range v.Pools {
		views[vp.Spec.Name] = i
	}
	f.mu.Lock()
	for _, m := range plan.Metrics {
		f.metrics[m.Pool] = poolMetrics(now, m, v.Pools[views[m.Pool]], lists[m.Pool])
	}
	f.mu.Unlock()
	for _, a := range plan.Actions {
		if err := f.apply(ctx, a, now); err != nil {
			errs = append(errs, fmt.Errorf("%s in pool %s: %w", a.Kind, a.Pool, err))
		}
	}
	errs = append(errs, f.launchHosts(ctx, now)...)
	if list {
		f.watchSpot(&v)
	}
	return errors.Join(errs...)
}

// recordPrices stores the prices of pool's offerings that changed since
// the last round (all of them in the first), so that its hosts and their
// attempts are priced at the price of each moment.
func (f *Fleet) recordPrices(ctx context.Context, pool string, of []provider.Offering, now time.Time) error {
	var pts []store.PricePoint
	for _, o := range of {
		if !(o.Price >= 0) {
			continue // not a price: the type's cost stays at its last
		}
		key := [2]string{pool, o.InstanceType}
		if last, ok := f.priced[key]; !ok || last != o.Price {
			pts = append(pts, store.PricePoint{Pool: pool, InstanceType: o.InstanceType, At: now, Price: o.Price})
		}
	}
	if err := f.store.RecordPrices(ctx, pts); err != nil {
		return err
	}
	for _, p := range pts {
		f.priced[[2]string{p.Pool, p.InstanceType}] = p.Price
	}
	return nil
}

// observe caches the lists and which node runs on each instance: the one
// whose agent reports the instance's id, a live one before a lost one.
func (f *Fleet) observe(lists map[string][]provider.Instance, nodes []store.NodeInfo, now time.Time) {
	nodeOf := nodesByInstance(nodes, func(n store.NodeInfo) bool {
		_, ok := lists[n.Pool]
		return ok
	})
	instanceOf := map[string]string{}
	for _, n := range nodes {
		if _, ok := lists[n.Pool]; ok && n.Facts.InstanceID != "" {
			instanceOf[n.ID] = n.Facts.InstanceID
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for pool, ins := range lists {
		f.lists[pool] = ins
	}
	f.nodeOf, f.instanceOf = nodeOf, instanceOf
	f.see(lists, now)
}

// nodesByInstance returns the nodes that keep takes by the instance their
// agents report: for each instance, a live node before a lost one.
func nodesByInstance(nodes []store.NodeInfo, keep func(store.NodeInfo) bool) map[string]store.NodeInfo {
	out := map[string]store.NodeInfo{}
	for _, n := range nodes {
		id := n.Facts.InstanceID
		if id == "" || !keep(n) {
			continue
		}
		if cur, ok := out[id]; !ok || cur.State == berth.NodeLost {
			out[id] = n
		}
	}
	return out
}

// retire marks gone the nodes whose instance has ended, passes on Spot
// notices their agents have not reported, and avoids the types whose Spot
// capacity is being reclaimed.
func (f *Fleet) retire(ctx context.Context, lists map[string][]provider.Instance, nodes []store.NodeInfo, now time.Time) []error {
	var errs []error
	listed := map[string]bool{}
	for pool, ins := range lists {
		for _, in := range ins {
			listed[in.ID] = true
			n, ok := f.node(in.ID)
			switch {
			case in.State == provider.InstanceTerminated:
				if ok {
					why := "instance " + in.ID + " terminated"
					if in.Reclaimed {
						why = "spot reclaimed " + in.ID
					}
					at := now // the host ended then, at the latest: it costs no more
					if !in.TerminatedAt.IsZero() && in.TerminatedAt.Before(now) {
						at = in.TerminatedAt
					}
					errs = append(errs, f.reg.RetireAt(ctx, n.ID, why, at))
				}
			case in.Interrupted():
				f.mu.Lock()
				first := f.interrupted(pool, in.InstanceType, in.ID, in.InterruptAt, now)
				f.mu.Unlock()
				if first && ok && n.Notice != nodeapi.SpotInterruption && n.State != berth.NodeLost {
					at := in.InterruptAt
					_, err := f.reg.Notice(ctx, n.ID, nodeapi.Notice{Kind: nodeapi.SpotInterruption, Action: "terminate", Time: &at})
					errs = append(errs, err)
				}
			}
		}
	}
	for _, n := range nodes {
		if _, ok := lists[n.Pool]; ok && n.State == berth.NodeLost && n.Facts.InstanceID != "" && !listed[n.Facts.InstanceID] {
			errs = append(errs, f.reg.Retire(ctx, n.ID, "instance "+n.Facts.InstanceID+" no longer exists"))
		}
	}
	f.mu.Lock()
	f.avoid.Expire(now)
	for id, at := range f.noticed {
		if now.Sub(at) > time.Hour {
			delete(f.noticed, id)
		}
	}
	f.mu.Unlock()
	return errs
}

func (f *Fleet) node(instanceID string) (store.NodeInfo, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.nodeOf[instanceID]
	return n, ok && n.State != berth.NodeGone
}

// avoided reports whether type typ of pool is avoided at now. f.mu is held.
func (f *Fleet) avoided(pool, typ string, now time.Time) bool {
	return f.avoid.Avoided(pool, typ, now)
}

// avoidType avoids type typ of pool for a while: it ran out of capacity,
// or its Spot capacity began to be reclaimed. f.mu is held.
func (f *Fleet) avoidType(pool, typ string, now time.Time) {
	p := f.pool(pool)
	f.avoid.Avoid(pool, typ, p != nil && p.Spec.Market == berth.Spot, now, now.Add(f.cfg.AvoidFor))
}

// apply carries out one action.
func (f *Fleet) apply(ctx context.Context, a autoscale.Action, now time.Time) error {
	p := f.pool(a.Pool)
	if p == nil || p.Provider == nil {
		return fmt.Errorf("no provider for pool %s", a.Pool)
	}
	n, hasNode := f.node(a.Host)
	switch a.Kind {
	case autoscale.Launch:
		return f.launch(ctx, p, provider.LaunchRequest{InstanceType: a.InstanceType, Alternatives: a.Alternatives, Market: a.Market}, a.Reason, now)
	case autoscale.Drain:
		if !hasNode || n.State == berth.NodeLost {
			return nil
		}
		d, err := f.reg.Drain(ctx, n.ID, nil, a.Reason)
		if err == nil {
			f.mu.Lock()
			f.nodeOf[a.Host] = d
			f.mu.Unlock()
		}
		return err
	case autoscale.Undrain:
		if !hasNode {
			return nil
		}
		_, err := f.reg.Undrain(ctx, n.ID)
		return err
	case autoscale.Terminate:
		return f.terminate(ctx, p, a.Host, a.Reason)
	}
	return fmt.Errorf("unknown action %q", a.Kind)
}

func (f *Fleet) pool(name string) *FleetPool {
	for i := range f.pools {
		if f.pools[i].Spec.Name == name {
			return &f.pools[i]
		}
	}
	return nil
}

// launch launches one instance and adds it to the cached list, so that
// placement counts it at once. A type out of capacity is avoided for a
// while; that is not an error.
func (f *Fleet) launch(ctx context.Context, p *FleetPool, req provider.LaunchRequest, why string, now time.Time) error {
	in, err := p.Provider.Launch(ctx, req)
	var ice *provider.InsufficientCapacityError
	if errors.As(err, &ice) {
		f.mu.Lock()
		f.avoidType(p.Spec.Name, req.InstanceType, now)
		f.mu.Unlock()
		f.log.Info("launch refused: no capacity; avoiding the type for a while", "pool", p.Spec.Name, "type", req.InstanceType, "market", req.Market)
		return nil
	}
	if err != nil {
		f.problem(p.Spec.Name, fmt.Sprintf("launching %s: %v", req.InstanceType, err), time.Time{})
		return err
	}
	f.mu.Lock()
	f.lists[p.Spec.Name] = append(f.lists[p.Spec.Name], in)
	f.mu.Unlock()
	f.log.Info("instance launched", "pool", p.Spec.Name, "instance", in.ID, "type", in.InstanceType, "market", in.Market,
		"job", req.Tags[provider.TagJob], "why", why)
	return nil
}

// terminate terminates instance id unless its node runs work: the node is
// drained first, then read again from the store, and left draining if an
// attempt holds it.
func (f *Fleet) terminate(ctx context.Context, p *FleetPool, id, why string) error {
	if n, ok := f.node(id); ok && n.State != berth.NodeLost {
		if n.State != berth.NodeDraining {
			if _, err := f.reg.Drain(ctx, n.ID, nil, "to terminate its host: "+why); err != nil {
				return err
			}
		}
		fresh, err := f.store.NodeInfo(ctx, n.ID)
		if err != nil {
			return err
		}
		if fresh.UsedCPU > 0 || fresh.UsedMemoryMB > 0 {
			f.log.Info("not terminating a host that runs work; it stays drained", "pool", p.Spec.Name, "instance", id, "node", n.ID)
			return nil
		}
	}
	if err := p.Provider.Terminate(ctx, id); err != nil {
		return err
	}
	f.log.Info("instance terminated", "pool", p.Spec.Name, "instance", id, "why", why)
	if n, ok := f.node(id); ok {
		return f.reg.Retire(ctx, n.ID, "instance "+id+" terminated: "+why)
	}
	return nil
}

// launchHosts launches the hosts placement asked for jobs larger than any
// host, unless one is on its way already.
func (f *Fleet) launchHosts(ctx context.Context, now time.Time) []error {
	f.mu.Lock()
	reqs := f.hosts
	f.hosts = nil
	f.mu.Unlock()
	var errs []error
	for _, r := range reqs {
		p := f.pool(r.Pool)
		if p == nil || p.Provider == nil || f.hostFor(r.Pool, r.JobID) {
			continue
		}
		req := provider.LaunchRequest{InstanceType: r.InstanceType, Market: r.Market, Tags: map[string]string{provider.TagJob: r.JobID}}
		if err := f.launch(ctx, p, req, "a host of its own for job "+r.JobID, now); err != nil {
			errs = append(errs, fmt.Errorf("launch a host for job %s in pool %s: %w", r.JobID, r.Pool, err))
		}
	}
	return errs
}

// hostFor reports whether a live instance of pool was launched for job.
func (f *Fleet) hostFor(pool, job string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, in := range f.lists[pool] {
		if in.State != provider.InstanceTerminated && in.Tags[provider.TagJob] == job {
			return true
		}
	}
	return false
}
