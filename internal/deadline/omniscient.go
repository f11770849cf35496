package deadline

import "math"

// Omniscient returns the cheapest way to finish the job by its deadline on
// avail, the trace's ticks from the job's start, knowing all of them in
// advance: a lower bound on the cost of every online policy on the same
// ticks. ok is false when not even on-demand can finish in time.
//
// With checkpoints, the bound is an exact dynamic program over the trace's
// runs of constant availability, with progress (in ticks) × mode (idle,
// on-demand with its remaining changeover, Spot) as state. It rests on two
// exchange arguments, checked against a tick-by-tick program in the tests:
// a Spot instance, once used in a period of availability, is best used from
// the period's start to its end (or to the job's end), and an on-demand
// stretch in a gap between Spot periods is best placed right before the next
// Spot period. Without checkpoints only the last run counts, so the bound is
// one uninterrupted run of H+N ticks: on Spot if some period of availability
// holds one, else on on-demand.
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
	if su.Job.Checkpoint == CheckpointNone {
		return su.omniscientNoCheckpoint(avail), true
	}
	dp = dp.reset(n, h, T, su.SpotCost)
	for s := 0; s < T; {
		up := s < len(avail) && avail[s]
		e := s + 1
		for e < T && (e < len(avail) && avail[e]) == up {
			e++
		}
		dp.run(s, e, up)
		s = e
	}
	if math.IsInf(dp.best, 1) {
		return Outcome{}, false
	}
	return Outcome{Cost: dp.best, SpotWork: dp.bestSpot, Work: n}, true
}

func (su Setup) omniscientNoCheckpoint(avail []bool) Outcome {
	need := su.H + su.N
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
			return Outcome{Cost: float64(need) * su.SpotCost, SpotWork: su.N, Work: su.N}
		}
		s = e
	}
	return Outcome{Cost: float64(need), Work: su.N}
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

// runDP holds the states at a run boundary: idle[w] with progress w, and
// od[r][w] on on-demand with r changeover ticks still to pay.
type runDP struct {
	n, h, T  int
	ps       float64
	idle     []cell
	od       [][]cell
	nidle    []cell
	nod      [][]cell
	deque    []int
	best     float64
	bestSpot int
}

// reset readies d (or a new runDP when d is nil) for a job of n work ticks,
// h changeover ticks and T ticks to its deadline.
func (d *runDP) reset(n, h, T int, ps float64) *runDP {
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
	d.n, d.h, d.T, d.ps, d.best, d.bestSpot = n, h, T, ps, math.Inf(1), 0
	d.idle, d.nidle = grow(d.idle), grow(d.nidle)
	for len(d.od) < h+1 {
		d.od, d.nod = append(d.od, nil), append(d.nod, nil)
	}
	d.od, d.nod = d.od[:h+1], d.nod[:h+1]
	for r := range d.od {
		d.od[r], d.nod[r] = grow(d.od[r]), grow(d.nod[r])
	}
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

// run advances the states over ticks [s, e), all with the same availability.
func (d *runDP) run(s, e int, up bool) {
	n, h, L := d.n, d.h, e-s
	lo, hi := max(0, n-(d.T-s)), min(n-1, s) // reachable and still finishable at s
	nlo, nhi := max(0, n-(d.T-e)), min(n-1, e)
	for w := nlo; w <= nhi; w++ {
		d.nidle[w] = unreached
		for r := range d.nod {
			d.nod[r][w] = unreached
		}
	}
	for w := lo; w <= hi; w++ {
		// Stay idle.
		if w >= nlo {
			relax(&d.nidle[w], d.idle[w])
		}
		// Keep on-demand through the run.
		for r := 0; r <= h; r++ {
			c := d.od[r][w]
			if math.IsInf(c.cost, 1) {
				continue
			}
			if L < r {
				if w >= nlo {
					relax(&d.nod[r-L][w], cell{c.cost + float64(L), c.spot})
				}
				continue
			}
			if w+L-r >= n {
				d.finish(cell{c.cost + float64(r+n-w), c.spot})
				continue
			}
			relax(&d.nod[0][w+L-r], cell{c.cost + float64(L), c.spot})
		}
		// Start on-demand in the run and still be in its changeover at the end.
		if c := d.idle[w]; !math.IsInf(c.cost, 1) && w >= nlo {
			for m := 1; m < h && m <= L; m++ {
				relax(&d.nod[h-m][w], cell{c.cost + float64(m), c.spot})
			}
		}
		// Start on-demand in the run and finish in it.
		if c := d.idle[w]; !math.IsInf(c.cost, 1) && h+n-w <= L {
			d.finish(cell{c.cost + float64(h+n-w), c.spot})
		}
	}
	d.startOnDemand(lo, hi, L)
	if up && L > h {
		d.useSpot(lo, hi, L)
	}
	d.idle, d.nidle = d.nidle, d.idle
	d.od, d.nod = d.nod, d.od
}

// startOnDemand relaxes: idle at w, start on-demand m = k+h ticks before the
// run's end, reach w+k productive, for k in [0, L-h]:
// nod[0][v] = min over w in [v-(L-h), v] of idle[w] + (v-w+h).
func (d *runDP) startOnDemand(lo, hi, L int) {
	h := d.h
	if L < h {
		return
	}
	span := L - h
	q, head := d.deque[:0], 0
	key := func(w int) float64 { return d.idle[w].cost - float64(w) }
	next := lo
	for v := lo; v < d.n && v <= hi+span; v++ {
		for ; next <= v && next <= hi; next++ {
			if math.IsInf(d.idle[next].cost, 1) {
				continue
			}
			for len(q) > head && !(key(q[len(q)-1]) < key(next) ||
				(key(q[len(q)-1]) == key(next) && d.idle[q[len(q)-1]].spot >= d.idle[next].spot)) {
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
		relax(&d.nod[0][v], cell{d.idle[w].cost + float64(v-w+h), d.idle[w].spot})
	}
	d.deque = q
}

// useSpot relaxes: from idle or on-demand at w, start Spot at the run's start
// and keep it to the run's end (idle after), or to the job's end.
func (d *runDP) useSpot(lo, hi, L int) {
	n, h := d.n, d.h
	p := L - h
	for w := lo; w <= hi; w++ {
		c := d.idle[w]
		for r := range d.od {
			if d.od[r][w].better(c) {
				c = d.od[r][w]
			}
		}
		if math.IsInf(c.cost, 1) {
			continue
		}
		if w+p >= n {
			d.finish(cell{c.cost + float64(h+n-w)*d.ps, c.spot + int32(n-w)})
			continue
		}
		relax(&d.nidle[w+p], cell{c.cost + float64(L)*d.ps, c.spot + int32(p)})
	}
}
