package evaluate

import (
	"math"

	"github.com/berth-run/berth/internal/deadline"
)

// Omniscient returns the cheapest way to finish the job by its deadline on
// avail, the trace's ticks from the job's start, knowing all of them (and
// the Spot prices, su.SpotCosts) in advance: a lower bound on the cost of
// every online policy on the same ticks. ok is false when not even
// on-demand can finish in time.
//
// With checkpoints, the bound is an exact dynamic program over the trace's
// runs of constant availability and Spot price, with progress (in ticks) ×
// mode (idle, on-demand or Spot, each with its remaining changeover) as
// state. It rests on exchange arguments, checked against a tick-by-tick
// program in the tests; all of them need Spot no dearer than on-demand:
//
//   - inside a run everything costs the same per tick, so a schedule's
//     starts and stops can slide within the run at no cost: it is enough to
//     start an instance anywhere in a run but to stop Spot only at a run's
//     end, or anywhere in a run when it was already running at the run's
//     start;
//   - an on-demand stretch between Spot periods is best placed right before
//     the next Spot period (moving it later costs nothing), and a move from
//     on-demand to Spot is best made when Spot becomes available (each tick
//     earlier trades an on-demand tick for a Spot one), so on-demand only
//     leaves for Spot at a run's start and never for idling;
//   - leaving Spot for on-demand while Spot is still available is never
//     better than staying on Spot until it is reclaimed.
//
// Without checkpoints only the last run counts, so the bound is one
// uninterrupted run of H+N ticks: on the cheapest window of Spot that holds
// one, else on on-demand.
func (su Setup) Omniscient(avail []bool) (out Outcome, ok bool) {
	return su.omniscientWith(avail, nil)
}

// omniscientWith is Omniscient reusing the buffers of dp when it fits.
func (su Setup) omniscientWith(avail []bool, dp *runDP) (out Outcome, ok bool) {
	n, h, T := su.N, su.H, su.T
	if h+n > T {
		return Outcome{}, false
	}
	if len(avail) > T {
		avail = avail[:T]
	}
	if su.Job.Checkpoint == deadline.CheckpointNone {
		return su.omniscientNoCheckpoint(avail), true
	}
	dp = dp.reset(n, h, T)
	up := func(t int) bool { return t < len(avail) && avail[t] }
	for s := 0; s < T; {
		a, p := up(s), su.spotCost(s)
		e := s + 1
		for e < T && up(e) == a && (!a || su.spotCost(e) == p) {
			e++
		}
		dp.run(s, e, a, p)
		s = e
	}
	if math.IsInf(dp.best, 1) {
		return Outcome{}, false
	}
	return Outcome{Cost: dp.best, SpotWork: dp.bestSpot, Work: n}, true
}

func (su Setup) omniscientNoCheckpoint(avail []bool) Outcome {
	need := su.H + su.N
	best := Outcome{Cost: float64(need), Work: su.N}
	for s := 0; s < len(avail); {
		if !avail[s] {
			s++
			continue
		}
		e := s
		for e < len(avail) && avail[e] {
			e++
		}
		if e-s >= need {
			sum := 0.0
			for t := s; t < s+need; t++ {
				sum += su.spotCost(t)
			}
			for a := s; ; a++ {
				if sum < best.Cost {
					best = Outcome{Cost: sum, SpotWork: su.N, Work: su.N}
				}
				if a+need >= e {
					break
				}
				sum += su.spotCost(a+need) - su.spotCost(a)
			}
		}
		s = e
	}
	return best
}

// cell is the cheapest cost of a DP state and the Spot progress of the
// schedule that reaches it.
type cell struct {
	cost float64
	spot int32
}

var unreached = cell{cost: math.Inf(1)}

func (c cell) better(d cell) bool {
	return c.cost < d.cost || (c.cost == d.cost && c.spot > d.spot)
}

func (c cell) reached() bool { return !math.IsInf(c.cost, 1) }

// runDP holds the states at a run boundary: idle[w] with progress w, and
// od[r][w] and sp[r][w] on on-demand and on Spot with r changeover ticks
// still to pay. The sp states are live only after a run with Spot
// (spLive); after one without, they are left uncleared and unread.
type runDP struct {
	n, h, T  int
	idle     []cell
	od, sp   [][]cell
	nidle    []cell
	nod, nsp [][]cell
	spLive   bool
	deque    []int
	best     float64
	bestSpot int
}

// reset readies d (or a new runDP when d is nil) for a job of n work ticks,
// h changeover ticks and T ticks to its deadline.
func (d *runDP) reset(n, h, T int) *runDP {
	if d == nil {
		d = &runDP{}
	}
	grow := func(c []cell) []cell {
		if cap(c) < n {
			c = make([]cell, n)
		}
		c = c[:n]
		for i := range c {
			c[i] = unreached
		}
		return c
	}
	growAll := func(cs [][]cell) [][]cell {
		for len(cs) < h+1 {
			cs = append(cs, nil)
		}
		cs = cs[:h+1]
		for r := range cs {
			cs[r] = grow(cs[r])
		}
		return cs
	}
	d.n, d.h, d.T, d.best, d.bestSpot, d.spLive = n, h, T, math.Inf(1), 0, false
	d.idle, d.nidle = grow(d.idle), grow(d.nidle)
	d.od, d.nod = growAll(d.od), growAll(d.nod)
	d.sp, d.nsp = growAll(d.sp), growAll(d.nsp)
	d.idle[0] = cell{}
	return d
}

func (d *runDP) finish(c cell) {
	if c.cost < d.best || (c.cost == d.best && int(c.spot) > d.bestSpot) {
		d.best, d.bestSpot = c.cost, int(c.spot)
	}
}

func relax(dst *cell, c cell) {
	if c.better(*dst) {
		*dst = c
	}
}

// run advances the states over ticks [s, e), all with the same availability
// and, when up, the same Spot cost p per tick.
func (d *runDP) run(s, e int, up bool, p float64) {
	n, h, L := d.n, d.h, e-s
	lo, hi := max(0, n-(d.T-s)), min(n-1, s) // reachable and still finishable at s
	nlo, nhi := max(0, n-(d.T-e)), min(n-1, e)
	fill(d.nidle, nlo, nhi)
	for r := 0; r <= h; r++ {
		fill(d.nod[r], nlo, nhi)
		if up {
			fill(d.nsp[r], nlo, nhi)
		}
	}
	// The sp[r] that may hold states: all after a run with Spot; after one
	// without, only sp[h], filled from on-demand at the boundary.
	spFrom := 0
	if up && !d.spLive {
		spFrom = h
		fill(d.sp[h], lo, hi)
	}
	d.boundary(lo, hi, up)
	for w := lo; w <= hi; w++ {
		if w >= nlo {
			relax(&d.nidle[w], d.idle[w]) // stay idle
		}
		if c := d.idle[w]; c.reached() {
			// Start on-demand in the run and still be in its changeover at
			// the end, or finish in the run.
			for m := 1; m < h && m <= L && w >= nlo; m++ {
				relax(&d.nod[h-m][w], cell{c.cost + float64(m), c.spot})
			}
			if h+n-w <= L {
				d.finish(cell{c.cost + float64(h+n-w), c.spot})
			}
		}
		if up {
			if c := d.idle[w]; c.reached() {
				// The same for Spot.
				for m := 1; m < h && m <= L && w >= nlo; m++ {
					relax(&d.nsp[h-m][w], cell{c.cost + float64(m)*p, c.spot})
				}
				if h+n-w <= L {
					d.finish(cell{c.cost + float64(h+n-w)*p, c.spot + int32(n-w)})
				}
			}
		}
	}
	for r := range d.od {
		d.keep(d.od[r], d.nod, r, lo, hi, nlo, L, 1, false)
	}
	for r := spFrom; up && r <= h; r++ {
		d.keep(d.sp[r], d.nsp, r, lo, hi, nlo, L, p, true)
	}
	if L >= h {
		// Idle at w, start on-demand (or Spot) k+h ticks before the run's
		// end and reach w+k productive.
		d.window(d.idle, d.nod[0], lo, hi, L-h, 1, float64(h), false)
		if up {
			d.window(d.idle, d.nsp[0], lo, hi, L-h, p, float64(h)*p, true)
		}
	}
	if up {
		// On Spot at the run's start with r changeover ticks to pay: stop
		// after r+k ticks, idle at w+k.
		for r := spFrom; r <= h && r <= L; r++ {
			d.window(d.sp[r], d.nidle, lo, hi, L-r, p, float64(r)*p, true)
		}
	}
	d.idle, d.nidle = d.nidle, d.idle
	d.od, d.nod = d.nod, d.od
	d.sp, d.nsp = d.nsp, d.sp
	d.spLive = up
}

// boundary applies the moves at a run's start: Spot reclaimed before a run
// without it; before one with it, Spot stopped and on-demand left for Spot.
func (d *runDP) boundary(lo, hi int, up bool) {
	for r := range d.sp {
		if d.spLive {
			relaxAll(d.idle, d.sp[r], lo, hi)
		}
		if up {
			relaxAll(d.sp[d.h], d.od[r], lo, hi)
		}
	}
}

// fill marks cells [lo, hi] of c unreached.
func fill(c []cell, lo, hi int) {
	for w := lo; w <= hi; w++ {
		c[w] = unreached
	}
}

// relaxAll relaxes dst[w] with src[w] for w in [lo, hi].
func relaxAll(dst, src []cell, lo, hi int) {
	for w := lo; w <= hi; w++ {
		relax(&dst[w], src[w])
	}
}

// keep relaxes: an instance (on-demand, or Spot when spot is set) with r
// changeover ticks to pay at progress w in [lo, hi], cur[w], kept through
// the run into next, or to the job's end, at price per tick.
func (d *runDP) keep(cur []cell, next [][]cell, r, lo, hi, nlo, L int, price float64, spot bool) {
	n := d.n
	gain := func(k int) int32 {
		if spot {
			return int32(k)
		}
		return 0
	}
	for w := lo; w <= hi; w++ {
		c := cur[w]
		switch {
		case !c.reached():
		case L < r:
			if w >= nlo {
				relax(&next[r-L][w], cell{c.cost + float64(L)*price, c.spot})
			}
		case w+L-r >= n:
			d.finish(cell{c.cost + float64(r+n-w)*price, c.spot + gain(n-w)})
		default:
			relax(&next[0][w+L-r], cell{c.cost + float64(L)*price, c.spot + gain(L-r)})
		}
	}
}

// window relaxes dst[v] = min over w in [v-span, v] ∩ [lo, hi] of
// src[w] + (v-w)·price + extra, a sliding-window minimum; the v-w ticks
// count as Spot progress when spot is set.
func (d *runDP) window(src, dst []cell, lo, hi, span int, price, extra float64, spot bool) {
	key := func(w int) (float64, int32) {
		k2 := src[w].spot
		if spot {
			k2 -= int32(w)
		}
		return src[w].cost - float64(w)*price, k2
	}
	// keeps reports whether a, older in the window, stays before b.
	keeps := func(a, b int) bool {
		ka, sa := key(a)
		kb, sb := key(b)
		return ka < kb || (ka == kb && sa >= sb)
	}
	q, head := d.deque[:0], 0
	next := lo
	for v := lo; v < d.n && v <= hi+span; v++ {
		for ; next <= v && next <= hi; next++ {
			if !src[next].reached() {
				continue
			}
			for len(q) > head && !keeps(q[len(q)-1], next) {
				q = q[:len(q)-1]
			}
			q = append(q, next)
		}
		for len(q) > head && q[head] < v-span {
			head++
		}
		if len(q) == head {
			continue
		}
		w := q[head]
		c := cell{src[w].cost + float64(v-w)*price + extra, src[w].spot}
		if spot {
			c.spot += int32(v - w)
		}
		relax(&dst[v], c)
	}
	d.deque = q
}
