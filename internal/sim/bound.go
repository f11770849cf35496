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
const boundSlot = time.Minute

// offer is capacity the bound may buy in a slot: C vCPU and M MiB for P
// USD per hour, in any fraction.
type offer struct{ C, M, P float64 }

// lowerBound is a lower bound on the cost of running the workload on the
// scenario's pools, knowing the Spot markets in advance. See docs/sim.md
// for its derivation. In short: every job runs from its arrival; capacity
// can be bought in fractions, at no boot time, from any open pool's
// on-demand types, from Spot types in any minute their market has capacity
// (at the lowest price of that minute), and from the serverless pools per
// vCPU- and GB-second; the pools' minimum hosts are paid for whatever
// happens and their capacity is free. Per minute, the cheapest fractional
// purchase covering the average demand is a two-constraint linear program,
// solved exactly through its dual; the bound sums them.
func lowerBound(sc *Scenario, pools []berth.PoolSpec, jobs []Job, market func(string) *fakecloud.SpotMarket) float64 {
	start := sc.Start
	end := start.Add(time.Duration(sc.Horizon))
	for _, j := range jobs {
		if t := j.Submit.Add(j.Run); t.After(end) {
			end = t
		}
	}
	n := int((end.Sub(start) + boundSlot - 1) / boundSlot)
	dc, dm := make([]float64, n), make([]float64, n)
	for _, j := range jobs {
		spread(dc, dm, start, j)
	}
	windows := make([]*config.Window, len(pools))
	for i, p := range pools {
		if p.Window != nil {
			w, _ := config.ParseWindow(*p.Window)
			windows[i] = &w
		}
	}
	total := 0.0
	var offers []offer
	var verts [][2]float64
	var prevKey []float64
	key := make([]float64, 0, 32)
	for s := range n {
		from := start.Add(time.Duration(s) * boundSlot)
		to := from.Add(boundSlot)
		offers, key = offers[:0], key[:0]
		var freeC, freeM, mandatory float64
		for i, p := range pools {
			if windows[i] != nil {
				if open, _ := windows[i].Open(from); !open {
					key = append(key, -1)
					continue
				}
			}
			if p.IsServerless() {
				offers = append(offers, offer{1, 0, p.Serverless.VCPUSecond * 3600}, offer{0, 1, p.Serverless.GBSecond * 3600 / 1024})
				continue
			}
			cheapest := -1.0
			var cheap berth.InstanceType
			for _, t := range p.InstanceTypes {
				price := t.Price
				if p.Market == berth.Spot {
					ok, low := market(t.Name).AvailableDuring(from, to)
					if !ok {
						key = append(key, -1)
						continue
					}
					price = low
				}
				key = append(key, price)
				offers = append(offers, offer{t.CPU, float64(t.MemoryMB), price})
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
		if !slices.Equal(key, prevKey) || verts == nil {
			verts = vertices(offers)
			prevKey = append(prevKey[:0], key...)
		}
		rc, rm := max(dc[s]-freeC, 0), max(dm[s]-freeM, 0)
		best := 0.0
		for _, v := range verts {
			best = max(best, v[0]*rc+v[1]*rm)
		}
		total += (mandatory + best) * boundSlot.Hours()
	}
	return total
}

// spread adds j's demand to the slots it runs in, as averages over each
// slot.
func spread(dc, dm []float64, start time.Time, j Job) {
	from, to := j.Submit.Sub(start), j.Submit.Add(j.Run).Sub(start)
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
