package autoscale

import (
	"math"
	"time"

	berth "github.com/berth-run/berth"
)

// cheaperMargin is how much cheaper per unit of work another pool must be
// for an on-demand host to yield to it.
const cheaperMargin = 0.25

// cheaperUnit returns, for pool i, a function giving the lowest price per
// unit of work among the available offerings of the other open pools
// that may still grow, of those at least cpu×mem large (so that whatever
// fits a host of that size fits them); +Inf when there is none.
func cheaperUnit(s Snapshot, i int) func(float64, int64) float64 {
	return func(cpu float64, mem int64) float64 {
		best := math.Inf(1)
		for k := range s.Pools {
			q := &s.Pools[k]
			if k == i || q.Spec.IsServerless() || q.Spec.Provider == berth.ProviderLocal || !q.Open || live(q) >= q.Spec.Max {
				continue
			}
			for _, o := range q.Offerings {
				if !o.Unavailable && fits(cpu, mem, o.CPU, o.MemoryMB) {
					best = min(best, o.Price/unitsOf(o.CPU, o.MemoryMB))
				}
			}
		}
		return best
	}
}

// unitsOf weighs capacity in vCPU-equivalents, a vCPU being worth 4 GiB.
func unitsOf(cpu float64, mem int64) float64 { return max(cpu, float64(mem)/4096) }

// yieldToCheaper drains the on-demand pool's busy hosts above its minimum
// while nothing waits for the pool and another pool could take their work
// for less: an on-demand pool behind a Spot one keeps hosts only while
// Spot cannot serve. A drained host finishes its work and then goes; it
// comes back if work waits for the pool again. It leaves alone a host
// younger than the scale-in delay (no flapping), one that runs a job
// pinned to its pool (no other pool can take that work), and an idle one:
// scale-in takes it after the delay.
func (d *decider) yieldToCheaper() {
	p := d.p
	if p.Spec.Market == berth.Spot || d.cheaper == nil || len(d.waiting) > 0 {
		return
	}
	active := d.activeHosts() - d.count(Drain)
	for _, h := range p.Hosts {
		if active <= p.Spec.Min {
			return
		}
		if h.State != Ready || h.ForJob != "" || !h.Busy() || h.Pinned > 0 || d.drained(h.ID) ||
			d.now.Sub(h.LaunchedAt) < time.Duration(p.Spec.ScaleInDelay) {
			continue
		}
		price := -1.0
		for _, o := range p.Offerings {
			if o.InstanceType == h.InstanceType {
				price = o.Price
			}
		}
		other := d.cheaper(h.CPU, h.MemoryMB)
		if price < 0 || math.IsInf(other, 1) || other*(1+cheaperMargin) > price/unitsOf(h.CPU, h.MemoryMB) {
			continue
		}
		active--
		d.act(Action{Kind: Drain, Host: h.ID, Reason: DrainCheaper})
	}
}

// drained reports whether this plan already drains or terminates host id.
func (d *decider) drained(id string) bool {
	for _, a := range d.actions {
		if a.Host == id && (a.Kind == Drain || a.Kind == Terminate) {
			return true
		}
	}
	return false
}

// unitPrice is the lowest price per unit of work of the available
// offerings that fit cpu×mem: what the pool would charge a job of that
// shape once its host is shared by others. +Inf if none fits.
func unitPrice(os []Offering, cpu float64, mem int64) float64 {
	best := math.Inf(1)
	for _, o := range os {
		if !o.Unavailable && fits(cpu, mem, o.CPU, o.MemoryMB) {
			best = min(best, o.Price/unitsOf(o.CPU, o.MemoryMB))
		}
	}
	return best
}
