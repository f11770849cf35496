package sim

import (
	"cmp"
	"math"
	"slices"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/cost"
)

// fitBound is the second family of bounds of docs/sim.md (step 6): each
// offer's capacity is priced on its own, at its full price, along one of
// the directions ys of the first family; and a job's work is priced only on
// the offers it fits and may use (its pool, and that pool's overflow). It
// returns the largest of the three bounds, less the minimum hosts' cost.
// ws are the jobs' spans, nFree the slots in which the minimum hosts are
// paid, fc and fm their capacity in each slot.
func fitBound(sl *slotter, jobs []Job, ws []span, ys [3][2][]float64, nFree int, fc, fm []float64) float64 {
	n := len(ys[0][0])
	sh := newShapes(sl, jobs)
	k := len(sh.list)
	// The price of an hour of each shape's run in each slot, along each
	// direction; kept per slot only for shapes of jobs with a deadline.
	windowed := make([]bool, k)
	for i, w := range ws {
		windowed[sh.of[i]] = windowed[sh.of[i]] || w.to < n-1
	}
	var z [3][][]float64
	for q := range z {
		z[q] = make([][]float64, k)
		for x := range k {
			if windowed[x] {
				z[q][x] = make([]float64, n)
			}
		}
	}
	// Jobs open to the end take the cheapest price from their release on:
	// walk the slots backwards, keeping the lowest price so far.
	var open []int
	for i, w := range ws {
		if w.open {
			open = append(open, i)
		}
	}
	slices.SortFunc(open, func(a, b int) int { return cmp.Compare(ws[b].from, ws[a].from) })
	price := make([][3]float64, len(jobs)) // USD per hour of run
	var low [3][]float64
	for q := range low {
		low[q] = slices.Repeat([]float64{math.Inf(1)}, k)
	}
	next := 0
	for ; next < len(open) && ws[open[next]].from >= n; next++ {
		price[open[next]] = [3]float64{math.Inf(1), math.Inf(1), math.Inf(1)}
	}
	// A slot with the offers and direction of the one after it has its
	// prices too.
	var key []float64
	var dir [3][2]float64
	cur := [3][]float64{make([]float64, k), make([]float64, k), make([]float64, k)}
	for s := n - 1; s >= 0; s-- {
		sl.slot(s)
		same := key != nil && slices.Equal(sl.key, key)
		key = append(key[:0], sl.key...)
		for q := range 3 {
			y := [2]float64{ys[q][0][s], ys[q][1][s]}
			if !same || y != dir[q] {
				dir[q] = y
				for x := range k {
					cur[q][x] = sh.price(x, sl.offers, y)
				}
			}
			for x, p := range cur[q] {
				low[q][x] = min(low[q][x], p)
				if windowed[x] {
					z[q][x][s] = p
				}
			}
		}
		for ; next < len(open) && ws[open[next]].from == s; next++ {
			i := open[next]
			for q := range 3 {
				price[i][q] = low[q][sh.of[i]]
			}
		}
	}
	for i, w := range ws {
		if w.open {
			continue
		}
		for q := range 3 {
			price[i][q] = slices.Min(z[q][sh.of[i]][w.from : w.to+1])
		}
	}
	best := 0.0
	for q := range 3 {
		best = max(best, fitTotal(jobs, ws, price, q, nFree, fc, fm))
	}
	return best
}

// fitTotal is the bound along direction q, given each job's lowest price
// per hour of run: what the jobs pay, less what the minimum hosts' free
// capacity can save them. In each slot a unit of that capacity is priced
// at the most any job that may run there pays per vCPU, or per MiB,
// whichever saves less.
func fitTotal(jobs []Job, ws []span, price [][3]float64, q, nFree int, fc, fm []float64) float64 {
	perC, perM := make([]float64, nFree), make([]float64, nFree)
	openC, openM := make([]float64, nFree), make([]float64, nFree)
	var paid, eligible float64
	for i, w := range ws {
		p := price[i][q]
		if math.IsInf(p, 1) {
			p = 0 // it can run nowhere but on the minimum hosts
		}
		j := jobs[i]
		paid += p * j.Run.Hours()
		if !w.free {
			continue
		}
		eligible += p * j.Run.Hours()
		c, m := p/j.CPU, p/float64(j.MemoryMB)
		if w.from >= nFree {
			continue
		}
		if w.open {
			openC[w.from], openM[w.from] = max(openC[w.from], c), max(openM[w.from], m)
			continue
		}
		for s := w.from; s <= min(w.to, nFree-1); s++ {
			perC[s], perM[s] = max(perC[s], c), max(perM[s], m)
		}
	}
	var saved, carryC, carryM float64
	for s := range nFree {
		carryC, carryM = max(carryC, openC[s]), max(carryM, openM[s])
		c, m := max(perC[s], carryC), max(perM[s], carryM)
		saved += boundSlot.Hours() * min(times(fc[s], c), times(fm[s], m))
	}
	return paid - min(eligible, saved)
}

// shapes are the jobs' distinct sizes and pools.
type shapes struct {
	list []shapeKey
	of   []int // the shape of each job
	// may[x][p]: shape x may use pool p; serverless[x][p]: what an hour of
	// it costs on serverless pool p.
	may        [][]bool
	serverless [][]float64
}

type shapeKey struct {
	cpu  float64
	mem  int64
	pool string
}

func newShapes(sl *slotter, jobs []Job) *shapes {
	sh := &shapes{of: make([]int, len(jobs))}
	idx := map[shapeKey]int{}
	for i, j := range jobs {
		key := shapeKey{j.CPU, j.MemoryMB, j.Pool}
		x, ok := idx[key]
		if !ok {
			x = len(sh.list)
			idx[key] = x
			sh.list = append(sh.list, key)
		}
		sh.of[i] = x
	}
	pools := sl.pools
	for _, key := range sh.list {
		pinned := slices.IndexFunc(pools, func(p berth.PoolSpec) bool { return p.Name == key.pool })
		may, sv := make([]bool, len(pools)), make([]float64, len(pools))
		for p, ps := range pools {
			may[p] = pinned < 0 || p == pinned || ps.Name == pools[pinned].Overflow
			if ps.IsServerless() {
				sv[p] = cost.Serverless(*ps.Serverless, key.cpu, key.mem, time.Hour)
			}
		}
		sh.may = append(sh.may, may)
		sh.serverless = append(sh.serverless, sv)
	}
	return sh
}

// price is the lowest price of an hour of shape x's run on the offers it
// fits and may use, each offer's capacity priced along direction y and
// scaled to the offer's full price; +Inf if there is none.
func (sh *shapes) price(x int, offers []offer, y [2]float64) float64 {
	key := sh.list[x]
	c, m := key.cpu, float64(key.mem)
	best := math.Inf(1)
	for _, o := range offers {
		if !sh.may[x][o.Pool] {
			continue
		}
		if o.Serverless {
			if o.C > 0 { // once per pool: its vCPU offer
				best = min(best, sh.serverless[x][o.Pool])
			}
			continue
		}
		if c > o.C+1e-9 || m > o.M {
			continue
		}
		d := y[0]*o.C + y[1]*o.M
		if !(d > 0) || math.IsInf(d, 1) {
			continue
		}
		best = min(best, (y[0]*c+y[1]*m)*o.P/d)
	}
	return best
}

// times is a·b with 0·∞ = 0: no free capacity saves nothing.
func times(a, b float64) float64 {
	if a == 0 {
		return 0
	}
	return a * b
}
