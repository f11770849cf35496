package control

import (
	"slices"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/deadline"
	"github.com/berth-run/berth/internal/provider"
)

// spotWatch follows whether a Spot pool could have capacity (an open
// window and an instance type that has not run out of capacity or been
// reclaimed lately), for the statistics the deadline policy weighs.
type spotWatch struct {
	first, since         time.Time // first seen; start of the current spell
	up                   bool
	upTotal, downTotal   time.Duration // of the spells that ended
	upSpells, downSpells int
	// ups are the lengths of the last up spells that ended, at most
	// keepUps of them, oldest first.
	ups []time.Duration
}

// keepUps bounds the up spells a spotWatch keeps for their median.
const keepUps = 101

// see records the pool's state at now.
func (w *spotWatch) see(up bool, now time.Time) {
	if w.first.IsZero() {
		w.first, w.since, w.up = now, now, up
		return
	}
	if up == w.up || now.Before(w.since) {
		return
	}
	if d := now.Sub(w.since); w.up {
		w.upTotal += d
		w.upSpells++
		if len(w.ups) == keepUps {
			w.ups = w.ups[1:]
		}
		w.ups = append(w.ups, d)
	} else {
		w.downTotal += d
		w.downSpells++
	}
	w.up, w.since = up, now
}

// stats returns what the watch saw up to now, the current spell included.
func (w *spotWatch) stats(now time.Time) deadline.PoolStats {
	if w.first.IsZero() || !now.After(w.first) {
		return deadline.PoolStats{}
	}
	up, down, ups, downs := w.upTotal, w.downTotal, w.upSpells, w.downSpells
	if cur := now.Sub(w.since); w.up {
		up, ups = up+cur, ups+1
	} else {
		down, downs = down+cur, downs+1
	}
	st := deadline.PoolStats{Observed: now.Sub(w.first), Availability: float64(up) / float64(up+down)}
	if ups > 0 {
		st.MeanUp = up / time.Duration(ups)
	}
	spells := slices.Clone(w.ups)
	if w.up {
		spells = append(spells, now.Sub(w.since))
	}
	if len(spells) > 0 {
		slices.Sort(spells)
		st.MedianUp = spells[len(spells)/2]
	}
	if downs > 0 {
		st.MeanDown = down / time.Duration(downs)
	}
	return st
}

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
			w = &spotWatch{}
			f.spot[p.Spec.Name] = w
		}
		w.see(up, now)
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
func (f *Fleet) markets(j *berth.Job, now time.Time, restart time.Duration) markets {
	f.mu.Lock()
	defer f.mu.Unlock()
	mk := markets{changeover: restart}
	for i := range f.pools {
		p := &f.pools[i]
		if p.Spec.IsServerless() || !p.open(now) || (p.Provider != nil && !p.Spec.Fits(j.CPU, j.MemoryMB)) {
			continue
		}
		switch {
		case p.Spec.Market == berth.Spot && p.Provider != nil:
			if mk.spot != "" {
				continue
			}
			mk.spot = p.Spec.Name
			for _, t := range p.Spec.InstanceTypes {
				if j.CPU <= t.CPU+1e-9 && j.MemoryMB <= t.MemoryMB && !f.avoided(p.Spec.Name, t.Name, now) {
					mk.spotUp = true
				}
			}
			if w := f.spot[p.Spec.Name]; w != nil {
				mk.stats = w.stats(now)
			}
			mk.spotSince = f.spotHeld(p.Spec.Name, j, now)
		case p.Spec.Market != berth.Spot && mk.onDemand == "":
			mk.onDemand = p.Spec.Name
			if p.Provider != nil {
				mk.changeover += time.Duration(p.Spec.BootTime)
			}
		}
	}
	return mk
}
