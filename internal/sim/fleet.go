package sim

import (
	"context"
	"errors"
	"slices"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/autoscale"
	"github.com/berth-run/berth/internal/fleetview"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/scheduler"
)

// dispatch runs a placement round over the queue and applies its plan.
func (e *engine) dispatch() {
	e.queueDirty = false
	clear(e.claims)
	e.claimed = false
	n := min(len(e.queue), dispatchWindow)
	e.buf = e.buf[:0]
	if e.dl != nil {
		e.dl.round()
	}
	for _, j := range e.queue[:n] {
		bj := j.bj
		if e.dl != nil {
			var hold bool
			if bj, hold = e.dl.route(e, j); hold {
				continue // the deadline policy keeps it waiting for Spot
			}
		}
		e.buf = append(e.buf, bj)
	}
	var pools []scheduler.PoolState
	if e.pol.placementPools {
		pools = e.poolStates()
	}
	plan := e.cluster.Place(scheduler.Round{Queued: e.buf, Now: e.now, Pools: pools, SkipReasons: true})
	left := false
	for _, p := range plan.Placements {
		j, h := e.jobByID[p.JobID], e.byID[p.NodeID]
		e.start(j, h)
		left = true
	}
	for _, o := range plan.Overflow {
		e.runServerless(e.jobByID[o.JobID], e.byName[o.Pool])
		left = true
	}
	for _, r := range plan.Hosts {
		j := e.jobByID[r.JobID]
		if h := e.launch(e.byName[r.Pool], r.InstanceType, j); h != nil {
			j.dedicated = h
		}
	}
	if left {
		e.queue = slices.DeleteFunc(e.queue, func(j *sjob) bool { return j.state != jobQueued })
	}
	wasWaiting := len(e.waiting)
	e.waiting = e.waiting[:0]
	for _, id := range plan.Waiting {
		if j := e.jobByID[id]; j.dedicated == nil || !j.dedicated.live() {
			e.waiting = append(e.waiting, j)
		}
	}
	if len(e.waiting) > wasWaiting {
		e.scaleDue = true // work came that capacity does not meet: scale now, not at the tick
	}
}

// poolStates is what placement knows of the pools now.
func (e *engine) poolStates() []scheduler.PoolState {
	out := make([]scheduler.PoolState, len(e.pools))
	for i, p := range e.pools {
		ps := scheduler.PoolState{Spec: p.spec, Open: p.open(e.now), Prices: map[string]float64{}, Unavailable: map[string]bool{}}
		for _, t := range p.spec.InstanceTypes {
			ps.Prices[t.Name] = e.priceNow(p, t)
			if e.unavailable(p, t.Name) {
				ps.Unavailable[t.Name] = true
			}
		}
		for _, h := range e.live {
			if h.pool != p || !h.live() {
				continue
			}
			ps.Size++
			if h.state == hostLaunching {
				l := scheduler.Launching{InstanceType: h.typ.Name, CPU: h.typ.CPU, MemoryMB: h.typ.MemoryMB, ReadyAt: h.readyAt}
				if h.forJob != nil {
					l.JobID = h.forJob.ID
				}
				ps.Launching = append(ps.Launching, l)
			}
		}
		out[i] = ps
	}
	return out
}

func (e *engine) priceNow(p *spool, t berth.InstanceType) float64 {
	if p.spec.Market == berth.Spot {
		if m := e.cloud.SpotMarket(t.Name); m != nil {
			return m.Price(e.now)
		}
	}
	return t.Price
}

func (e *engine) unavailable(p *spool, typ string) bool {
	return e.avoid.Avoided(p.spec.Name, typ, e.now)
}

// launch asks pool p for an instance of typ, for job forJob if not nil.
func (e *engine) launch(p *spool, typ string, forJob *sjob) *host {
	req := provider.LaunchRequest{InstanceType: typ, Market: p.spec.Market}
	if forJob != nil {
		req.Tags = map[string]string{provider.TagJob: forJob.ID}
	}
	in, err := p.api.Launch(context.Background(), req)
	var ice *provider.InsufficientCapacityError
	if errors.As(err, &ice) {
		e.avoidType(p, typ)
		return nil
	}
	if err != nil {
		panic("sim: launch: " + err.Error()) // the fake cloud fails only so
	}
	t, _ := p.spec.InstanceType(typ)
	h := &host{id: in.ID, pool: p, typ: t, launchedAt: in.LaunchedAt, readyAt: in.ReadyAt, idleSince: e.now, forJob: forJob}
	h.price = e.pricer(p, t)
	e.hosts = append(e.hosts, h)
	e.live = append(e.live, h)
	p.live++
	e.byID[h.id] = h
	e.cloudDirty = true
	return h
}

// terminate terminates h. A host that runs work is never terminated by a
// correct policy; the run counts it if it happens.
func (e *engine) terminate(h *host) {
	if !h.live() {
		return
	}
	if len(h.running) > 0 {
		e.st.busyTerminations++
		for _, j := range slices.Clone(h.running) {
			e.requeue(j)
		}
	}
	if err := h.pool.api.Terminate(context.Background(), h.id); err != nil {
		panic("sim: terminate: " + err.Error())
	}
	e.cloudDirty = true
	e.gone(h, e.now)
}

// gone records that h no longer exists.
func (e *engine) gone(h *host, at time.Time) {
	h.state, h.endAt = hostGone, at
	e.live = slices.DeleteFunc(e.live, func(x *host) bool { return x == h })
	h.pool.live--
	e.cluster.Remove(h.id)
	e.bill(h)
	if h.forJob != nil && h.forJob.dedicated == h {
		h.forJob.dedicated = nil
	}
}

// node is h as a berth node.
func (h *host) node() berth.Node {
	st := berth.NodeReady
	if h.state == hostDraining {
		st = berth.NodeDraining
	}
	return berth.Node{ID: h.id, Name: h.id, Pool: h.pool.spec.Name, State: st, Healthy: true,
		CPU: h.typ.CPU, MemoryMB: h.typ.MemoryMB, UsedCPU: h.usedCPU, UsedMemoryMB: h.usedMem}
}

// sync reads every pool's instances and acts on what changed: joins,
// interruption notices, rebalance recommendations, reclaims.
func (e *engine) sync() {
	e.cloudDirty = false
	for _, p := range e.pools {
		if p.api == nil {
			continue
		}
		list, err := p.api.List(context.Background())
		if err != nil {
			panic("sim: list: " + err.Error())
		}
		for _, in := range list {
			h := e.byID[in.ID]
			if h == nil || !h.live() {
				continue
			}
			e.observe(h, in)
		}
	}
}

func (e *engine) observe(h *host, in provider.Instance) {
	if in.State == provider.InstanceTerminated {
		for _, j := range slices.Clone(h.running) {
			e.requeue(j) // reclaimed under work: only when the grace outlasts the notice
		}
		e.gone(h, in.TerminatedAt)
		e.scaleDue = true
		return
	}
	if h.state == hostLaunching && in.State == provider.InstanceRunning {
		h.state = hostReady
		forJob := ""
		if h.forJob != nil {
			forJob = h.forJob.ID
		}
		e.cluster.Set(h.node(), forJob)
		e.queueDirty = true
	}
	if in.Interrupted() && !h.noticed {
		h.noticed = true
		e.st.interruptions++
		e.notice(h, in.InterruptAt)
		return
	}
	if in.Rebalance && !h.rebalanced && !h.noticed && e.pol.rebalance {
		h.rebalanced = true
		e.drain(h, autoscale.DrainRebalance)
	}
}

// notice acts on a Spot interruption notice for h.
func (e *engine) notice(h *host, at time.Time) {
	running := make([]autoscale.Running, len(h.running))
	for i, j := range h.running {
		running[i] = autoscale.Running{JobID: j.ID, Requeued: j.requeued}
	}
	key := h.pool.spec.Name + "/" + h.typ.Name
	e.notices[key] = append(e.notices[key], e.now)
	r := autoscale.OnNotice(autoscale.Notice{Host: h.id, InstanceType: h.typ.Name, InterruptAt: at}, e.now,
		time.Duration(h.pool.spec.InterruptionGrace), running, berth.MaxRequeues)
	e.drain(h, r.Reason)
	if r.Avoid != "" {
		e.avoidType(h.pool, r.Avoid)
	}
	// The containers stop on SIGTERM: their work is lost, their jobs go
	// back to the queue (Fail ends the few re-queued too often).
	for _, j := range slices.Clone(h.running) {
		e.requeue(j)
	}
	e.scaleDue = e.scaleDue || r.Replace || len(r.Fail) > 0 || len(h.running) == 0
}

// drain stops placements on h.
func (e *engine) drain(h *host, reason string) {
	if h.state == hostGone || h.state == hostDraining {
		return
	}
	joined := h.state == hostReady
	h.state, h.drainReason = hostDraining, reason
	if joined {
		e.cluster.SetState(h.id, berth.NodeDraining, true)
	}
}

// view is the simulated fleet now as the server's fleet loop describes
// it to the deciders (see fleetview). With rates, each Spot type carries
// its interruption rate, which only the autoscaler reads.
func (e *engine) view(rates bool) fleetview.View {
	v := fleetview.View{Now: e.now, Pools: make([]fleetview.Pool, len(e.pools))}
	for i, p := range e.pools {
		vp := fleetview.Pool{Spec: p.spec, Open: p.open(e.now), Managed: p.api != nil, Types: make([]fleetview.Type, len(p.spec.InstanceTypes))}
		if e.dl != nil {
			if w := e.dl.watch[p]; w != nil {
				vp.Spot = w.Stats(e.now)
			}
		}
		for k, t := range p.spec.InstanceTypes {
			vt := fleetview.Type{Name: t.Name, CPU: t.CPU, MemoryMB: t.MemoryMB, Price: e.priceNow(p, t),
				Avoided: e.unavailable(p, t.Name), Outage: e.avoid.Outage(p.spec.Name, t.Name, e.now)}
			if rates && p.spec.Market == berth.Spot {
				vt.InterruptionRate = e.interruptionRate(p, t.Name)
			}
			vp.Types[k] = vt
		}
		for _, h := range e.live {
			if h.pool == p && h.live() {
				vp.Hosts = append(vp.Hosts, e.hostView(h))
			}
		}
		v.Pools[i] = vp
	}
	return v
}

// hostView is live host h as the server's fleet loop describes it.
func (e *engine) hostView(h *host) fleetview.Host {
	vh := fleetview.Host{Host: autoscale.Host{ID: h.id, InstanceType: h.typ.Name, CPU: h.typ.CPU, MemoryMB: h.typ.MemoryMB,
		UsedCPU: h.usedCPU, UsedMemoryMB: h.usedMem, Attempts: len(h.running), LaunchedAt: h.launchedAt,
		IdleSince: h.idleSince, DrainReason: h.drainReason}, Warned: h.noticed || h.rebalanced}
	switch h.state {
	case hostLaunching:
		vh.State = autoscale.Launching
	case hostReady:
		vh.State, vh.ReadyAt = autoscale.Ready, h.readyAt
	default:
		vh.State, vh.ReadyAt = autoscale.Draining, h.readyAt
	}
	for _, j := range h.running {
		if j.Pool == h.pool.spec.Name {
			vh.Pinned++
		}
	}
	if h.forJob != nil {
		vh.ForJob, vh.JobDone = h.forJob.ID, h.forJob.state == jobDone || h.forJob.state == jobLost || (h.forJob.state == jobRunning && h.forJob.host != h)
	}
	return vh
}

// autoscale runs the policy's scaling decision and applies it.
func (e *engine) autoscale() {
	v := e.view(true)
	for _, j := range e.waiting {
		if j.state == jobQueued {
			pool := j.Pool
			if j.pin != "" {
				pool = j.pin // the deadline policy's choice for this round
			}
			bj := j.bj
			if bj.Deadline == nil && !j.Deadline.IsZero() {
				// A baseline's placement does not see the deadline, but
				// its autoscaler knows someone waits on the job.
				dl := j.Deadline
				bj.Deadline = &dl
			}
			v.Waiting = append(v.Waiting, fleetview.Waiting(&bj, pool, j.since))
		}
	}
	snap := v.Snapshot()
	plan := e.pol.scale(snap)
	for _, a := range plan.Actions {
		p := e.byName[a.Pool]
		switch a.Kind {
		case autoscale.Launch:
			e.launch(p, a.InstanceType, nil)
		case autoscale.Drain:
			e.drain(e.byID[a.Host], a.Reason)
		case autoscale.Undrain:
			if h := e.byID[a.Host]; h.state == hostDraining {
				h.state, h.drainReason = hostReady, ""
				e.cluster.SetState(h.id, berth.NodeReady, true)
				e.queueDirty = true
			}
		case autoscale.Terminate:
			e.terminate(e.byID[a.Host])
		}
	}
}

// avoidType avoids typ of pool p for a while: it ran out of capacity, or
// its Spot capacity began to be reclaimed.
func (e *engine) avoidType(p *spool, typ string) {
	e.avoid.Avoid(p.spec.Name, typ, p.spec.Market == berth.Spot, e.now, e.now.Add(unavailableFor))
}

// interruptionRate is the notices per instance-hour that hosts of typ in
// p got lately (see fleetview.InterruptionRate).
func (e *engine) interruptionRate(p *spool, typ string) float64 {
	from := e.now.Add(-fleetview.RateWindow)
	return fleetview.InterruptionRate(e.notices[p.spec.Name+"/"+typ], func(yield func(fleetview.Life) bool) {
		for i := len(e.hosts) - 1; i >= 0; i-- {
			h := e.hosts[i]
			if !h.live() && !h.endAt.After(from) {
				if h.launchedAt.Before(from.Add(-overtime)) {
					return // hosts launched this long before the window ended before it
				}
				continue
			}
			if h.pool != p || h.typ.Name != typ {
				continue
			}
			l := fleetview.Life{Begin: h.launchedAt}
			if !h.live() {
				l.End = h.endAt
			}
			if !yield(l) {
				return
			}
		}
	}, e.now)
}

// reclaim gives a fraction of the live Spot hosts their notice now.
func (e *engine) reclaim(fraction float64) {
	var spot []string
	for _, h := range e.live {
		if h.live() && !h.noticed && h.pool.spec.Market == berth.Spot {
			spot = append(spot, h.id)
		}
	}
	e.rng.Shuffle(len(spot), func(i, j int) { spot[i], spot[j] = spot[j], spot[i] })
	n := int(float64(len(spot))*fraction + 0.5)
	e.cloud.Reclaim(spot[:n]...)
	e.cloudDirty = true
}
