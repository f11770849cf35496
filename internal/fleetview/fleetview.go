// Package fleetview is the decision glue between the fleet and the pure
// deciders, shared by the server's loops (internal/control) and berth sim
// (internal/sim), so that the simulator measures the policy the server
// runs.
//
// Each side describes the fleet at one moment as a View: the pools, their
// instance types with what is known of them now (price, avoided,
// interruption rate, outage), their live hosts and the work left waiting.
// From a View alone, Snapshot builds what autoscale.Decide decides from and
// Offer what the deadline policy is offered for a job. The rules that turn
// a fleet into those inputs (which pools the autoscaler sees, which pool
// counts as a job's Spot and on-demand market, when a job is patient, how
// an interruption rate is counted) live here and nowhere else.
//
// Like the deciders it feeds, the package reads no clock and does no I/O:
// now is the View's.
package fleetview

import (
	"iter"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/autoscale"
	"github.com/berth-run/berth/internal/deadline"
)

// View is the fleet at one moment.
type View struct {
	Now   time.Time
	Pools []Pool
	// Waiting is the work the last placement round left waiting for
	// capacity, as Waiting builds it.
	Waiting []autoscale.Waiting
}

// Pool is one configured pool at the View's moment.
type Pool struct {
	Spec berth.PoolSpec // with defaults
	// Open reports whether the pool is inside its window (always, without
	// one).
	Open bool
	// Managed reports whether berth launches and terminates the pool's
	// hosts through a provider: false for the local pool, whose nodes
	// join by themselves, and for serverless pools.
	Managed bool
	// Types are the instance types the pool may launch now, with what is
	// known of each.
	Types []Type
	// Hosts are the pool's live hosts: launching, ready or draining.
	Hosts []Host
	// Spot is what the pool's SpotWatch has observed of its capacity;
	// zero for on-demand pools.
	Spot deadline.PoolStats
}

// Type is one instance type of a pool, as known now.
type Type struct {
	Name     string
	CPU      float64
	MemoryMB int64
	Price    float64 // current, USD per hour
	// Avoided marks a type that recently ran out of capacity or whose
	// Spot capacity began to be reclaimed.
	Avoided bool
	// Outage is how long its Spot capacity has typically stayed out once
	// gone; zero when unknown.
	Outage time.Duration
	// InterruptionRate is the Spot notices per instance-hour its hosts got
	// lately (see InterruptionRate); zero for on-demand.
	InterruptionRate float64
}

// Host is one live host of a pool: what the autoscaler knows of it, and
// what the deadline policy needs to know whether Spot holds.
type Host struct {
	autoscale.Host
	// ReadyAt is when it joined; zero while launching.
	ReadyAt time.Time
	// Warned says that its cloud sent a Spot interruption notice or a
	// rebalance recommendation for it.
	Warned bool
}

// fits reports whether a job of cpu vCPUs and mem MiB fits in cpu2×mem2.
func fits(cpu float64, mem int64, cpu2 float64, mem2 int64) bool {
	return cpu <= cpu2+1e-9 && mem <= mem2
}

// Snapshot is what autoscale.Decide decides from: the pools berth
// launches hosts for, with their offerings and hosts, and the waiting
// work.
func (v *View) Snapshot() autoscale.Snapshot {
	snap := autoscale.Snapshot{Now: v.Now, Waiting: v.Waiting}
	for i := range v.Pools {
		p := &v.Pools[i]
		if !p.Managed {
			continue
		}
		ap := autoscale.Pool{Spec: p.Spec, Open: p.Open, Offerings: make([]autoscale.Offering, len(p.Types)),
			Hosts: make([]autoscale.Host, len(p.Hosts))}
		for k, t := range p.Types {
			ap.Offerings[k] = autoscale.Offering{InstanceType: t.Name, CPU: t.CPU, MemoryMB: t.MemoryMB, Price: t.Price,
				Unavailable: t.Avoided, InterruptionRate: t.InterruptionRate, Outage: t.Outage}
		}
		for k := range p.Hosts {
			ap.Hosts[k] = p.Hosts[k].Host
		}
		snap.Pools = append(snap.Pools, ap)
	}
	return snap
}

// SpotUp reports whether Spot pool p could have capacity now: it is open
// and one of its types is not avoided. It is what the pool's SpotWatch
// sees each round.
func (p *Pool) SpotUp() bool {
	if !p.Open {
		return false
	}
	for _, t := range p.Types {
		if !t.Avoided {
			return true
		}
	}
	return false
}

// Offer returns what the fleet offers job j, as the deadline policy weighs
// it, with restart the cost of a changeover beyond a boot:
//   - Spot: the first open managed Spot pool that fits j, whether one of
//     its types that fit j is not avoided, the pool's observed statistics,
//     and since when it has held a ready host of a type that fits j with
//     no warning (now when none);
//   - OnDemand: the first open on-demand pool that can take j: the local
//     pool (it fits every job its nodes can hold), or a managed pool that
//     fits j and can grow (a pool that cannot grow cannot take a job moved
//     to it). A changeover to it costs its boot time, none for the local
//     pool, plus restart.
//
// Serverless pools are never a market: overflow is placement's.
func (v *View) Offer(j *berth.Job, restart time.Duration) deadline.Offer {
	o := deadline.Offer{Changeover: restart}
	for i := range v.Pools {
		p := &v.Pools[i]
		if p.Spec.IsServerless() || !p.Open || (p.Managed && !p.Spec.Fits(j.CPU, j.MemoryMB)) {
			continue
		}
		switch {
		case p.Spec.Market == berth.Spot:
			if o.Spot != "" || !p.Managed {
				continue
			}
			o.Spot, o.Stats, o.SpotSince = p.Spec.Name, p.Spot, v.Now
			for _, t := range p.Types {
				if fits(j.CPU, j.MemoryMB, t.CPU, t.MemoryMB) && !t.Avoided {
					o.SpotUp = true
				}
			}
			for _, h := range p.Hosts {
				if h.State == autoscale.Ready && !h.Warned && fits(j.CPU, j.MemoryMB, h.CPU, h.MemoryMB) && h.ReadyAt.Before(o.SpotSince) {
					o.SpotSince = h.ReadyAt
				}
			}
		case o.OnDemand == "" && (!p.Managed || p.Spec.Max > p.Spec.Min):
			o.OnDemand = p.Spec.Name
			if p.Managed {
				o.Changeover += time.Duration(p.Spec.BootTime)
			}
		}
	}
	return o
}

// Routes reports whether the deadline policy has a choice to make for a
// job offered o: there is a Spot market and an on-demand one.
func Routes(o deadline.Offer) bool { return o.Spot != "" && o.OnDemand != "" }

// Governs reports whether the deadline policy decides where j runs: it
// has a deadline and an expected duration, and its user did not pin its
// pool.
func Governs(j *berth.Job) bool {
	return j.Deadline != nil && j.ExpectedDuration > 0 && j.Pool == ""
}

// Waiting is queued job j as the autoscaler sees it when placement left
// it waiting: pool is the pool it must run in (its own, or the one the
// deadline policy chose this round), since when it joined the queue.
// A job nobody waits on (no deadline, no start budget) is patient: it
// waits a while for Spot that is out of capacity rather than grow an
// on-demand pool. A job re-queued after losing its capacity counts as
// reclaimed: from autoscale.SpotRetreatAfter on, on-demand grows for it.
func Waiting(j *berth.Job, pool string, since time.Time) autoscale.Waiting {
	return autoscale.Waiting{JobID: j.ID, CPU: j.CPU, MemoryMB: j.MemoryMB, Pool: pool, Reclaimed: j.Requeued,
		Since: since, Patient: j.Deadline == nil && j.StartBudget == nil}
}

// RateWindow is how far back interruption rates look.
const RateWindow = 6 * time.Hour

// Life is when one host of a type lived: End is zero while it lives.
type Life struct {
	Begin, End time.Time
}

// InterruptionRate is the Spot notices per instance-hour that the hosts of
// one type got over the RateWindow before now: the notices seen in the
// window over the hours its hosts lived in it (at least one, so that one
// notice on a young host does not read as a storm). notices are the times
// the notices were seen; lives yields the hosts of the type that lived in
// the window (others are ignored).
func InterruptionRate(notices []time.Time, lives iter.Seq[Life], now time.Time) float64 {
	from := now.Add(-RateWindow)
	n := 0
	for _, t := range notices {
		if t.After(from) && !t.After(now) {
			n++
		}
	}
	if n == 0 {
		return 0
	}
	hours := 0.0
	for l := range lives {
		end := l.End
		if end.IsZero() || end.After(now) {
			end = now
		}
		begin := l.Begin
		if begin.Before(from) {
			begin = from
		}
		if end.After(begin) {
			hours += end.Sub(begin).Hours()
		}
	}
	return float64(n) / max(hours, 1)
}
