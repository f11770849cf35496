package autoscale

import (
	"time"

	berth "github.com/berth-run/berth"
)

// Waiting for Spot. A job nobody waits on (no deadline, no start budget)
// loses nothing by starting later, and an on-demand host costs about three
// times the Spot one. So while the Spot types that fit such a job are out
// of capacity it waits for them, for a few of their typical outages,
// instead of growing an on-demand pool; past that Spot is taken to be out
// for long, and on-demand grows for it as for any job.

// patienceOutages is how many typical outages a patient job waits for
// Spot to come back.
const patienceOutages = 6

// defaultOutage stands for the typical outage of a type with no history.
const defaultOutage = 20 * time.Minute

// maxPatience bounds the wait, whatever the history says.
const maxPatience = 4 * time.Hour

// waitsForSpot reports whether w waits for Spot now: it is patient, some
// open Spot pool that may grow has instance types that fit it, all of
// those are out of capacity, and it has waited less than spotPatience.
func waitsForSpot(s Snapshot, w Waiting) bool {
	if !w.Patient {
		return false
	}
	for i := range s.Pools {
		p := &s.Pools[i]
		if p.Spec.Market != berth.Spot || p.Spec.IsServerless() || p.Spec.Provider == berth.ProviderLocal || !p.Open || live(p) >= p.Spec.Max {
			continue
		}
		patience, fit, out := spotPatience(p, w)
		if !fit {
			continue
		}
		if !out {
			return false // a Spot type that fits has capacity: no need to wait
		}
		if s.Now.Sub(w.Since) < patience {
			return true
		}
	}
	return false
}

// spotPatience returns how long w waits for pool p's Spot types that fit
// it, patienceOutages times the shortest typical outage among them
// (capped by maxPatience and the pool's start budget); whether any fits;
// and whether all that fit are out of capacity.
func spotPatience(p *Pool, w Waiting) (d time.Duration, fit, out bool) {
	shortest := time.Duration(-1)
	for _, o := range p.Offerings {
		if !fits(w.CPU, w.MemoryMB, o.CPU, o.MemoryMB) {
			continue
		}
		if !o.Unavailable {
			return 0, true, false
		}
		out := o.Outage
		if out <= 0 {
			out = defaultOutage
		}
		if shortest < 0 || out < shortest {
			shortest = out
		}
	}
	if shortest < 0 {
		return 0, false, false
	}
	d = min(patienceOutages*shortest, maxPatience)
	if b := time.Duration(p.Spec.StartBudget); b > 0 {
		d = min(d, b)
	}
	return d, true, true
}
