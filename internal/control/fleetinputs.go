package control

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/autoscale"
	"github.com/berth-run/berth/internal/deadline"
	"github.com/berth-run/berth/internal/fleetview"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/store"
)

// instanceLife is when an instance of a pool's type lived, as the lists
// showed it.
type instanceLife struct {
	pool, typ string
	fleetview.Life
}

// view is the fleet at now as the deciders see it (see fleetview): the
// pools listed in lists (the others are left out: their hosts are not
// known this round), and the unmanaged pools. With use, each host carries
// the use the store records and whether the job it was launched for still
// needs it; without, only what the last round cached. f.mu is not held.
func (f *Fleet) view(ctx context.Context, now time.Time, lists map[string][]provider.Instance, use bool) (fleetview.View, error) {
	v := fleetview.View{Now: now}
	for i := range f.pools {
		p := &f.pools[i]
		ins, listed := lists[p.Spec.Name]
		if p.Provider != nil && !listed {
			continue
		}
		var uses map[string]store.NodeUse
		if use && p.Provider != nil {
			var err error
			if uses, err = f.store.NodeUses(ctx, p.Spec.Name); err != nil {
				return v, err
			}
		}
		f.mu.Lock()
		vp := f.poolView(p, ins, now)
		f.mu.Unlock()
		if use {
			for k := range vp.Hosts {
				if err := f.use(ctx, &vp.Hosts[k].Host, uses); err != nil {
					return v, err
				}
			}
		}
		v.Pools = append(v.Pools, vp)
	}
	f.mu.Lock()
	v.Waiting = slices.Clone(f.waiting)
	f.mu.Unlock()
	return v, nil
}

// poolView is pool p with its live instances ins, at now: its types with
// what the fleet knows of each, and its hosts in the state their nodes
// are in. f.mu is held.
func (f *Fleet) poolView(p *FleetPool, ins []provider.Instance, now time.Time) fleetview.Pool {
	vp := fleetview.Pool{Spec: p.Spec, Open: p.open(now), Managed: p.Provider != nil}
	if w := f.spot[p.Spec.Name]; w != nil {
		vp.Spot = w.Stats(now)
	}
	add := func(name string, cpu float64, mem int64, price float64) {
		t := fleetview.Type{Name: name, CPU: cpu, MemoryMB: mem, Price: price,
			Avoided: f.avoided(p.Spec.Name, name, now), Outage: f.avoid.Outage(p.Spec.Name, name, now)}
		if p.Spec.Market == berth.Spot {
			t.InterruptionRate = f.interruptionRate(p.Spec.Name, name, now)
		}
		vp.Types = append(vp.Types, t)
	}
	if of, ok := f.offerings[p.Spec.Name]; ok {
		for _, o := range of {
			add(o.InstanceType, o.CPU, o.MemoryMB, o.Price)
		}
	} else if p.Provider != nil {
		for _, t := range p.Spec.InstanceTypes { // no offerings listed yet: the configured types
			add(t.Name, t.CPU, t.MemoryMB, t.Price)
		}
	}
	for _, in := range ins {
		if in.State == provider.InstanceTerminated {
			continue
		}
		vp.Hosts = append(vp.Hosts, f.hostView(p, in, now))
	}
	return vp
}

// hostView is instance in of pool p as the deciders see it, from the
// node its agent runs as, if it joined. f.mu is held.
func (f *Fleet) hostView(p *FleetPool, in provider.Instance, now time.Time) fleetview.Host {
	h := fleetview.Host{Host: autoscale.Host{ID: in.ID, InstanceType: in.InstanceType, CPU: in.CPU, MemoryMB: in.MemoryMB,
		LaunchedAt: in.LaunchedAt, State: autoscale.Launching, ForJob: in.Tags[provider.TagJob]},
		Warned: !in.InterruptAt.IsZero() || in.Rebalance}
	n, ok := f.nodeOf[in.ID]
	if !ok || n.State == berth.NodeGone {
		return h
	}
	h.ReadyAt = in.ReadyAt
	switch n.State {
	case berth.NodeReady:
		h.State = autoscale.Ready
	case berth.NodeDraining:
		h.State, h.DrainReason = autoscale.Draining, drainReason(n)
	case berth.NodeLost:
		// Its agent is silent and its attempts were closed. It may
		// come back (a partition); silent for the scale-in delay, the
		// host is of no use.
		if now.Sub(n.LastSeen) >= time.Duration(p.Spec.ScaleInDelay) {
			h.State, h.DrainReason = autoscale.Draining, "node lost"
		}
	default:
		h.ReadyAt = time.Time{}
	}
	return h
}

// use fills in host h the use the store records of its node, and whether
// the job it was launched for still needs it.
func (f *Fleet) use(ctx context.Context, h *autoscale.Host, uses map[string]store.NodeUse) error {
	n, ok := f.node(h.ID)
	if ok {
		u := uses[n.ID]
		h.UsedCPU, h.UsedMemoryMB, h.Attempts, h.Pinned, h.IdleSince = n.UsedCPU, n.UsedMemoryMB, u.Attempts, u.Pinned, u.IdleSince
	}
	if h.ForJob == "" {
		return nil
	}
	j, err := f.store.Job(ctx, h.ForJob)
	switch {
	case errors.Is(err, berth.ErrNotFound):
		h.JobDone = true
	case err != nil:
		return err
	default:
		cur := j.CurrentAttempt()
		h.JobDone = j.State.Terminal() || (j.State.Active() && cur != nil && (!ok || cur.Node != n.ID))
	}
	return nil
}

// drainReason says why draining node n drains: its cloud's notice, else
// the reason recorded with the drain; a drain berth did not make is an
// operator's, and its host goes once idle.
func drainReason(n store.NodeInfo) string {
	switch {
	case n.Notice == nodeapi.SpotInterruption:
		return autoscale.DrainInterruption
	case n.DrainReason != "":
		return n.DrainReason
	case n.Notice == nodeapi.Rebalance:
		return autoscale.DrainRebalance
	}
	return "drained by an operator"
}

// see records what the instances of lists show for the interruption
// rates: when each lived. f.mu is held.
func (f *Fleet) see(lists map[string][]provider.Instance, now time.Time) {
	for pool, ins := range lists {
		listed := map[string]bool{}
		for _, in := range ins {
			listed[in.ID] = true
			l, ok := f.lives[in.ID]
			if !ok {
				l = instanceLife{pool: pool, typ: in.InstanceType, Life: fleetview.Life{Begin: in.LaunchedAt}}
			}
			if in.State == provider.InstanceTerminated && l.End.IsZero() {
				l.End = now
				if !in.TerminatedAt.IsZero() && in.TerminatedAt.Before(now) {
					l.End = in.TerminatedAt
				}
			}
			f.lives[in.ID] = l
		}
		for id, l := range f.lives {
			if l.pool == pool && !listed[id] && l.End.IsZero() {
				l.End = now // no longer listed: ended by now
				f.lives[id] = l
			}
		}
	}
	from := now.Add(-fleetview.RateWindow)
	maps.DeleteFunc(f.lives, func(_ string, l instanceLife) bool { return !l.End.IsZero() && l.End.Before(from) })
	for k, ts := range f.notices {
		ts = slices.DeleteFunc(ts, func(t time.Time) bool { return !t.After(from) })
		if len(ts) == 0 {
			delete(f.notices, k)
		} else {
			f.notices[k] = ts
		}
	}
}

// interruptionRate is the Spot notices per instance-hour that instances
// of typ in pool got lately. f.mu is held.
func (f *Fleet) interruptionRate(pool, typ string, now time.Time) float64 {
	return fleetview.InterruptionRate(f.notices[[2]string{pool, typ}], func(yield func(fleetview.Life) bool) {
		for _, l := range f.lives {
			if l.pool == pool && l.typ == typ && !yield(l.Life) {
				return
			}
		}
	}, now)
}

// interrupted records Spot's notice that it reclaims instance id, of
// type typ in pool, at reclaimAt, once however often it is told (by the
// lists, by the interruption queue): the notice counts in the type's
// interruption rate, and the type is avoided for a while. It reports
// whether the notice is new. f.mu is held.
func (f *Fleet) interrupted(pool, typ, id string, reclaimAt, now time.Time) bool {
	if _, seen := f.noticed[id]; seen {
		return false
	}
	f.noticed[id] = reclaimAt
	key := [2]string{pool, typ}
	f.notices[key] = append(f.notices[key], now)
	f.avoidType(pool, typ, now)
	return true
}

// SpotNotice records Spot's notice, seen outside the pools' lists, that it
// reclaims instance id at reclaimAt (see interrupted), and wakes the loop
// so that the type is avoided and a replacement launched if work waits.
// It reports whether id is an instance of the last lists and the notice
// new.
func (f *Fleet) SpotNotice(id string, reclaimAt, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for pool, ins := range f.lists {
		for _, in := range ins {
			if in.ID != id {
				continue
			}
			if !f.interrupted(pool, in.InstanceType, id, reclaimAt, now) {
				return false
			}
			f.wake.kick()
			return true
		}
	}
	return false
}

// watchSpot records, for every Spot pool of v, whether it could have
// capacity at v's moment.
func (f *Fleet) watchSpot(v *fleetview.View) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range v.Pools {
		p := &v.Pools[i]
		if p.Spec.Market != berth.Spot || !p.Managed {
			continue
		}
		w := f.spot[p.Spec.Name]
		if w == nil {
			w = &deadline.SpotWatch{}
			f.spot[p.Spec.Name] = w
		}
		w.See(p.SpotUp(), v.Now)
	}
}

// offers returns what the pools offer a job at now, as the deadline
// policy weighs it, from the instances of the last round: read once per
// dispatch round, asked once per job shape.
func (f *Fleet) offers(now time.Time, restart time.Duration) func(j *berth.Job) deadline.Offer {
	f.mu.Lock()
	v := fleetview.View{Now: now}
	for i := range f.pools {
		p := &f.pools[i]
		v.Pools = append(v.Pools, f.poolView(p, f.lists[p.Spec.Name], now))
	}
	f.mu.Unlock()
	seen := map[[2]float64]deadline.Offer{}
	return func(j *berth.Job) deadline.Offer {
		shape := [2]float64{j.CPU, float64(j.MemoryMB)}
		o, ok := seen[shape]
		if !ok {
			o = v.Offer(j, restart)
			seen[shape] = o
		}
		return o
	}
}
