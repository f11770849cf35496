package sim

import (
	"math"
	"slices"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/config"
	"github.com/berth-run/berth/internal/provider/fakecloud"
)

// boundSlot is the time step of the lower bound.
const boundSlot = 30 * time.Second

// offer is capacity the bound may buy in a slot: C vCPU and M MiB for P
// USD per hour, in any fraction, from pool Pool (an index into the
// scenario's pools). A serverless pool sells vCPU and memory apart.
type offer struct {
	C, M, P    float64
	Pool       int
	Serverless bool
}

// span is where the bound may run a job's work: slots from to to, both
// included, and on the minimum hosts' capacity if free is set.
type span struct {
	from, to int
	c, m     float64 // vCPU-hours, MiB-hours
	free     bool
	open     bool // no deadline: to is the last slot
}

// lowerBound is a lower bound on the cost of any fleet on the scenario's
// pools that runs every job of the workload in its pool by its deadline,
// whenever it starts it, knowing the Spot markets in advance. See
// docs/sim.md for its derivation. In short: per slot, the cheapest
// fractional purchase of capacity beyond the minimum hosts' is a
// two-resource linear program, and any point y of its dual prices that
// capacity at no more than it costs; a job's work then costs at least the
// cheapest y of the slots between its release (its arrival, or the end of
// the first boot) and its deadline (or the end), unless it runs on the
// minimum hosts' capacity, which the pools pay for whatever happens and
// which saves, slot by slot, at most the dearest such price of the work
// that may run there. For three choices of y (the optimum for the demand
// of jobs run on release, vCPU alone, memory alone) the bound is the
// largest.
func lowerBound(sc *Scenario, pools []berth.PoolSpec, jobs []Job, market func(string) *fakecloud.SpotMarket) float64 {
	start := sc.Start
	lead := boundLead(sc, pools)
	first := start.Add(lead)
	// Every run lasts at least to the horizon and to the end of the last
	// job run on release; the minimum hosts are paid that long, and their
	// capacity is free that long. Paid capacity may be bought up to the
	// simulation's limit.
	paidEnd := start.Add(time.Duration(sc.Horizon))
	for _, j := range jobs {
		if t := runsFrom(j, first).Add(j.Run); t.After(paidEnd) {
			paidEnd = t
		}
	}
	nFree := slotOf(start, paidEnd.Add(boundSlot-1))
	n := max(slotOf(start, start.Add(time.Duration(sc.Horizon)+overtime)), nFree)
	windows := make([]*config.Window, len(pools))
	noMin := map[string]bool{}
	for i, p := range pools {
		if p.Window != nil {
			w, _ := config.ParseWindow(*p.Window)
			windows[i] = &w
		}
		noMin[p.Name] = p.Min == 0
	}
	// The demand of the jobs run on release, to choose the first y by.
	dc, dm := make([]float64, n), make([]float64, n)
	for _, j := range jobs {
		spread(dc, dm, start, runsFrom(j, first), j)
	}
	sl := slotter{start: start, pools: pools, windows: windows, market: market}
	fc, fm := make([]float64, n), make([]float64, n)
	ys := [3][2][]float64{}
	for k := range ys {
		ys[k] = [2][]float64{make([]float64, n), make([]float64, n)}
	}
	mandatory := 0.0
	var verts [][2]float64
	var prevKey []float64
	for s := range n {
		c, m, mand := sl.slot(s)
		if s < nFree {
			fc[s], fm[s] = c, m
			mandatory += mand * boundSlot.Hours()
		}
		if !slices.Equal(sl.key, prevKey) || verts == nil {
			verts = vertices(sl.offers)
			prevKey = append(prevKey[:0], sl.key...)
		}
		rc, rm := max(dc[s]-c, 0), max(dm[s]-m, 0)
		if rc == 0 && rm == 0 {
			rc, rm = 1, 4096 // no demand: a vCPU with 4 GiB
		}
		var best [2]float64
		bestV := -1.0
		for _, v := range verts {
			if x := v[0]*rc + v[1]*rm; x > bestV {
				best, bestV = v, x
			}
		}
		ax := axes(sl.offers)
		for r := range 2 {
			if math.IsInf(ax[r], 1) {
				// Nothing sells this resource in the slot: work cannot
				// run there beyond the minimum hosts.
				for k := range ys {
					ys[k][r][s] = math.Inf(1)
				}
				continue
			}
			ys[0][r][s] = best[r]
		}
		ys[1][0][s], ys[1][1][s] = ax[0], 0
		ys[2][0][s], ys[2][1][s] = 0, ax[1]
		if math.IsInf(ax[1], 1) {
			ys[1][1][s] = math.Inf(1)
		}
		if math.IsInf(ax[0], 1) {
			ys[2][0][s] = math.Inf(1)
		}
	}
	// The work of each job: the slots it may run in (from its release to
	// its deadline, or to the end), and whether it may run on the minimum
	// hosts (it fits their type and is not bound to another pool).
	ws := make([]span, 0, len(jobs))
	for _, j := range jobs {
		w := span{from: slotOf(start, runsFrom(j, first)), to: n - 1, c: j.CPU * j.Run.Hours(), m: float64(j.MemoryMB) * j.Run.Hours()}
		if !j.Deadline.IsZero() {
			w.to = min(max(slotOf(start, j.Deadline), w.from), n-1)
		}
		w.free = (j.Pool == "" || !noMin[j.Pool]) && fitsMin(pools, j)
		w.open = w.to == n-1
		ws = append(ws, w)
	}
	best := fitBound(&sl, jobs, ws, ys, nFree, fc, fm)
	for _, y := range ys {
		total := 0.0
		for r, free := range [2][]float64{fc, fm} {
			// The cheapest price from each slot to the end.
			low := make([]float64, n+1)
			low[n] = math.Inf(1)
			for s := n - 1; s >= 0; s-- {
				low[s] = min(low[s+1], y[r][s])
			}
			// The most a unit of the minimum hosts' capacity saves in
			// each slot: the dearest price of the work that may use it.
			save, open := make([]float64, n), make([]float64, n)
			var paid, eligible float64
			for _, w := range ws {
				v := low[w.from]
				if !w.open {
					v = slices.Min(y[r][w.from : w.to+1])
				}
				if math.IsInf(v, 1) {
					v = 0 // it can run nowhere but on the minimum hosts
				}
				amount := [2]float64{w.c, w.m}[r]
				paid += amount * v
				if !w.free {
					continue
				}
				eligible += amount * v
				if w.open {
					// Open to the end: marked at its release, carried
					// forward below.
					if w.from < nFree {
						open[w.from] = max(open[w.from], v)
					}
					continue
				}
				for s := w.from; s <= min(w.to, nFree-1); s++ {
					save[s] = max(save[s], v)
				}
			}
			var saved, carried float64
			for s := range nFree {
				carried = max(carried, open[s])
				saved += free[s] * boundSlot.Hours() * max(save[s], carried)
			}
			total += paid - min(eligible, saved)
		}
		best = max(best, total)
	}
	return mandatory + best
}

// fitsMin reports whether j fits the type the minimum hosts of some pool
// are counted as (the cheapest), so that it may run on their capacity.
func fitsMin(pools []berth.PoolSpec, j Job) bool {
	for _, p := range pools {
		if p.Min == 0 || p.IsServerless() {
			continue
		}
		for _, t := range p.InstanceTypes {
			if j.CPU <= t.CPU+1e-9 && j.MemoryMB <= t.MemoryMB {
				return true
			}
		}
	}
	return false
}

// slotOf is the bound's slot that t falls in.
func slotOf(start, t time.Time) int { return int(t.Sub(start) / boundSlot) }

// axes returns the lowest price per vCPU and per MiB among offers, +Inf
// for a resource no offer sells.
func axes(offers []offer) [2]float64 {
	out := [2]float64{math.Inf(1), math.Inf(1)}
	for _, o := range offers {
		if o.C > 0 {
			out[0] = min(out[0], o.P/o.C)
		}
		if o.M > 0 {
			out[1] = min(out[1], o.P/o.M)
		}
	}
	return out
}

// boundLead is the least time between paying for capacity and running
// work on it: the boot of a host, or the start latency of a serverless
// container, whichever is shorter among the pools.
func boundLead(sc *Scenario, pools []berth.PoolSpec) time.Duration {
	lead := time.Duration(-1)
	for _, p := range pools {
		d := time.Duration(sc.BootTime)
		if p.IsServerless() {
			d = fakecloud.DefaultMinStartLatency
		}
		if lead < 0 || d < lead {
			lead = d
		}
	}
	return max(lead, 0)
}

// runsFrom is when the bound runs j: at its arrival, or when the first
// capacity can exist if that is later.
func runsFrom(j Job, first time.Time) time.Time {
	if j.Submit.Before(first) {
		return first
	}
	return j.Submit
}

// slotter lists what the bound may buy in one slot.
type slotter struct {
	start   time.Time
	pools   []berth.PoolSpec
	windows []*config.Window
	market  func(string) *fakecloud.SpotMarket
	// Set by slot: the offers, and a key that changes when they do.
	offers []offer
	key    []float64
}

// slot lists slot s's offers and returns the capacity of the minimum
// hosts, free in the slot, and what they cost per hour.
func (sl *slotter) slot(s int) (freeC, freeM, mandatory float64) {
	from := sl.start.Add(time.Duration(s) * boundSlot)
	to := from.Add(boundSlot)
	sl.offers, sl.key = sl.offers[:0], sl.key[:0]
	for i, p := range sl.pools {
		if sl.windows[i] != nil {
			if open, _ := sl.windows[i].Open(from); !open {
				sl.key = append(sl.key, -1)
				continue
			}
		}
		if p.IsServerless() {
			sl.offers = append(sl.offers, offer{C: 1, P: p.Serverless.VCPUSecond * 3600, Pool: i, Serverless: true},
				offer{M: 1, P: p.Serverless.GBSecond * 3600 / 1024, Pool: i, Serverless: true})
			continue
		}
		cheapest := -1.0
		var cheap berth.InstanceType
		for _, t := range p.InstanceTypes {
			price := t.Price
			if p.Market == berth.Spot {
				ok, low := sl.market(t.Name).AvailableDuring(from, to)
				if !ok {
					sl.key = append(sl.key, -1)
					continue
				}
				price = low
			}
			sl.key = append(sl.key, price)
			sl.offers = append(sl.offers, offer{C: t.CPU, M: float64(t.MemoryMB), P: price, Pool: i})
			if cheapest < 0 || price < cheapest {
				cheapest, cheap = price, t
			}
		}
		if p.Min > 0 && cheapest >= 0 {
			mandatory += float64(p.Min) * cheapest
			freeC += float64(p.Min) * cheap.CPU
			freeM += float64(p.Min) * float64(cheap.MemoryMB)
		}
	}
	return freeC, freeM, mandatory
}

// spread adds the demand of j, run from at, to the slots it runs in, as
// averages over each slot.
func spread(dc, dm []float64, start, at time.Time, j Job) {
	from, to := at.Sub(start), at.Add(j.Run).Sub(start)
	for s := int(from / boundSlot); s < len(dc) && time.Duration(s)*boundSlot < to; s++ {
		lo, hi := max(from, time.Duration(s)*boundSlot), min(to, time.Duration(s+1)*boundSlot)
		f := float64(hi-lo) / float64(boundSlot)
		dc[s] += j.CPU * f
		dm[s] += float64(j.MemoryMB) * f
	}
}

// vertices returns the vertices of the dual's feasible region
// {y ≥ 0 : y·(C, M) ≤ P for every offer}: the candidates for the optimum
// of max y·R. A direction no offer bounds gets no vertex (the primal
// cannot cover demand there, and the bound counts nothing for it).
func vertices(offers []offer) [][2]float64 {
	feasible := func(y [2]float64) bool {
		if y[0] < -1e-15 || y[1] < -1e-15 || math.IsInf(y[0], 0) || math.IsInf(y[1], 0) {
			return false
		}
		for _, o := range offers {
			if o.C*y[0]+o.M*y[1] > o.P*(1+1e-9)+1e-15 {
				return false
			}
		}
		return true
	}
	axis := func(k int) [2]float64 {
		best := math.Inf(1)
		for _, o := range offers {
			c := [2]float64{o.C, o.M}[k]
			if c > 0 {
				best = min(best, o.P/c)
			}
		}
		var y [2]float64
		if math.IsInf(best, 1) {
			return y
		}
		y[k] = best
		return y
	}
	out := [][2]float64{{0, 0}, axis(0), axis(1)}
	for a := range offers {
		for b := a + 1; b < len(offers); b++ {
			x, z := offers[a], offers[b]
			det := x.C*z.M - z.C*x.M
			if det == 0 {
				continue
			}
			y := [2]float64{(x.P*z.M - z.P*x.M) / det, (x.C*z.P - z.C*x.P) / det}
			if feasible(y) {
				out = append(out, y)
			}
		}
	}
	return out
}
