package control

import (
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/deadline"
	"github.com/berth-run/berth/internal/provider"
)

// watchSpot records, for every Spot pool, whether it could have capacity
// at now. f.mu is held.
func (f *Fleet) watchSpot(now time.Time) {
	for i := range f.pools {
		p := &f.pools[i]
		if p.Spec.Market != berth.Spot || p.Provider == nil {
			continue
		}
		up := false
		if p.open(now) {
			for _, t := range p.Spec.InstanceTypes {
				up = up || !f.avoided(p.Spec.Name, t.Name, now)
			}
		}
		w := f.spot[p.Spec.Name]
		if w == nil {
			w = &deadline.SpotWatch{}
			f.spot[p.Spec.Name] = w
		}
		w.See(up, now)
	}
}

// spotHeld returns since when the Spot pool has held, without notice or
// rebalance advice, a running instance of a type that fits j: proof, not
// a guess, that Spot capacity is there. It returns now when none. f.mu is
// held.
func (f *Fleet) spotHeld(pool string, j *berth.Job, now time.Time) time.Time {
	since := now
	for _, in := range f.lists[pool] {
		if in.State != provider.InstanceRunning || !in.InterruptAt.IsZero() || in.Rebalance ||
			j.CPU > in.CPU+1e-9 || j.MemoryMB > in.MemoryMB {
			continue
		}
		if in.ReadyAt.Before(since) {
			since = in.ReadyAt
		}
	}
	return since
}

// markets returns what the pools offer job j at now, as the deadline
// policy weighs it: the first open Spot pool with an instance type that
// fits j, and the first open on-demand pool that fits it (the local pool
// fits every job its nodes can hold). A changeover to on-demand costs the
// pool's boot time, none for the local pool, plus restart. The Spot
// statistics are those of the fleet's last round.
func (f *Fleet) markets(j *berth.Job, now time.Time, restart time.Duration) deadline.Offer {
	f.mu.Lock()
	defer f.mu.Unlock()
	mk := deadline.Offer{Changeover: restart}
	for i := range f.pools {
		p := &f.pools[i]
		if p.Spec.IsServerless() || !p.open(now) || (p.Provider != nil && !p.Spec.Fits(j.CPU, j.MemoryMB)) {
			continue
		}
		switch {
		case p.Spec.Market == berth.Spot && p.Provider != nil:
			if mk.Spot != "" {
				continue
			}
			mk.Spot = p.Spec.Name
			for _, t := range p.Spec.InstanceTypes {
				if j.CPU <= t.CPU+1e-9 && j.MemoryMB <= t.MemoryMB && !f.avoided(p.Spec.Name, t.Name, now) {
					mk.SpotUp = true
				}
			}
			if w := f.spot[p.Spec.Name]; w != nil {
				mk.Stats = w.Stats(now)
			}
			mk.SpotSince = f.spotHeld(p.Spec.Name, j, now)
		case p.Spec.Market != berth.Spot && mk.OnDemand == "":
			mk.OnDemand = p.Spec.Name
			if p.Provider != nil {
				mk.Changeover += time.Duration(p.Spec.BootTime)
			}
		}
	}
	return mk
}
