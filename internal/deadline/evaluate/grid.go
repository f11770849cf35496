package evaluate

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/berth-run/berth/internal/deadline"
)

// OmniscientName names the omniscient bound in reports.
const OmniscientName = "omniscient"

// Grid is an evaluation: every trace × every deadline × Starts random start
// points × every policy, plus the omniscient bound.
type Grid struct {
	Traces     []Trace
	Work       time.Duration
	Deadlines  []time.Duration
	Changeover time.Duration
	Checkpoint deadline.Checkpoint
	Starts     int
	Seed       uint64
	// PriceRatio is the on-demand price over the Spot price, flat. Zero
	// prices every Spot tick at the trace's per-tick Spot price over its
	// on-demand price, and traces without prices at DefaultPriceRatio.
	PriceRatio        float64
	DefaultPriceRatio float64
	// History is how much of the trace before a start point the pool
	// statistics handed to the policies cover.
	History  time.Duration
	Policies []deadline.Policy
	// SubTicks cuts each trace tick into this many; zero picks the fewest
	// that bring the changeover within 10% of whole ticks.
	SubTicks int
	Workers  int // zero: GOMAXPROCS
}

// Summary is one policy's results over a set of samples.
type Summary struct {
	Policy  string
	Samples int
	// Cost is the mean cost normalised to running on on-demand alone.
	Cost float64
	// SpotFraction is the mean share of the progress made on Spot.
	SpotFraction float64
	Misses       int
}

// Cell is the result of one trace (or group of traces) at one deadline.
type Cell struct {
	Group    string
	Trace    string // empty for a group
	Deadline time.Duration
	Fraction float64 // Work / Deadline
	// Changeover is the changeover counted, in whole ticks.
	Changeover time.Duration
	Summaries  []Summary // the policies in order, then the omniscient bound
	// BoundBreaches counts samples where a policy cost less than the bound;
	// it must be zero.
	BoundBreaches int
}

// Summary returns the summary of the named policy.
func (c Cell) Summary(name string) (Summary, bool) {
	for _, s := range c.Summaries {
		if s.Policy == name {
			return s, true
		}
	}
	return Summary{}, false
}

// GapClosed returns the share of greedy's cost gap to the omniscient bound
// that the named policy closes: 0 for greedy, 1 for the bound.
func (c Cell) GapClosed(name string) float64 {
	g, ok1 := c.Summary(deadline.Greedy{}.Name())
	o, ok2 := c.Summary(OmniscientName)
	p, ok3 := c.Summary(name)
	if !ok1 || !ok2 || !ok3 || g.Cost-o.Cost <= 0 {
		return 0
	}
	return (g.Cost - p.Cost) / (g.Cost - o.Cost)
}

// Report is the outcome of a Grid: one cell per trace and deadline.
type Report struct {
	Cells []Cell
}

// Evaluate runs the grid.
func (g Grid) Evaluate() (Report, error) {
	if len(g.Traces) == 0 || len(g.Deadlines) == 0 || g.Starts <= 0 {
		return Report{}, fmt.Errorf("evaluate: need traces, deadlines and start points")
	}
	maxDeadline := g.Deadlines[0]
	for _, d := range g.Deadlines {
		maxDeadline = max(maxDeadline, d)
	}
	type task struct {
		i  int
		tr Trace
	}
	cells := make([][]Cell, len(g.Traces))
	errs := make([]error, len(g.Traces))
	tasks := make(chan task)
	var wg sync.WaitGroup
	workers := g.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	for range workers {
		wg.Go(func() {
			for t := range tasks {
				cells[t.i], errs[t.i] = g.evalTrace(t.i, t.tr, maxDeadline)
			}
		})
	}
	for i, tr := range g.Traces {
		tasks <- task{i, tr}
	}
	close(tasks)
	wg.Wait()
	var rep Report
	for i := range g.Traces {
		if errs[i] != nil {
			return Report{}, errs[i]
		}
		rep.Cells = append(rep.Cells, cells[i]...)
	}
	return rep, nil
}

// evalTrace evaluates every deadline and start point on one trace.
func (g Grid) evalTrace(idx int, tr Trace, maxDeadline time.Duration) ([]Cell, error) {
	m := g.SubTicks
	if m <= 0 {
		m = SubTicks(g.Changeover, tr.Gap)
	}
	split := tr.Split(m)
	ratio, costs, err := g.prices(split)
	if err != nil {
		return nil, err
	}
	rawLen := len(tr.Avail)
	rawWindow := int((maxDeadline + tr.Gap - 1) / tr.Gap)
	if rawWindow > rawLen {
		return nil, fmt.Errorf("trace %s: %v long, shorter than the deadline %v", tr.Name, tr.Duration(), maxDeadline)
	}
	setups := make([]Setup, len(g.Deadlines))
	for i, d := range g.Deadlines {
		su, err := NewSetup(Job{Work: g.Work, Deadline: d, Changeover: g.Changeover, Checkpoint: g.Checkpoint}, split.Gap, ratio)
		if err != nil {
			return nil, fmt.Errorf("trace %s: %w", tr.Name, err)
		}
		setups[i] = su
	}
	rng := rand.New(rand.NewPCG(g.Seed, uint64(idx)))
	hist := int(g.History / split.Gap)
	acc := make([][]accum, len(setups))
	breaches := make([]int, len(setups))
	for i := range acc {
		acc[i] = make([]accum, len(g.Policies)+1)
	}
	var dp *runDP
	for range g.Starts {
		start := rng.IntN(rawLen-rawWindow+1) * m
		stats := split.Stats(start-hist, start)
		avail := split.Avail[start:]
		for i, su := range setups {
			if dp == nil {
				dp = &runDP{}
			}
			if costs != nil {
				su.SpotCosts = costs[start:]
			}
			bound, ok := su.omniscientWith(avail, dp)
			if !ok {
				return nil, fmt.Errorf("trace %s: no schedule meets deadline %v", tr.Name, su.Job.Deadline)
			}
			norm := su.OnDemandCost()
			for j, p := range g.Policies {
				out := su.Run(p, avail, stats)
				acc[i][j].add(out, norm)
				if out.Cost < bound.Cost-1e-9 {
					breaches[i]++
				}
			}
			acc[i][len(g.Policies)].add(bound, norm)
		}
	}
	cells := make([]Cell, len(setups))
	for i, su := range setups {
		c := Cell{
			Group: tr.Group, Trace: tr.Name, Deadline: su.Job.Deadline,
			Fraction:      float64(g.Work) / float64(su.Job.Deadline),
			Changeover:    su.EffectiveChangeover(),
			BoundBreaches: breaches[i],
		}
		for j := range acc[i] {
			name := OmniscientName
			if j < len(g.Policies) {
				name = g.Policies[j].Name()
			}
			c.Summaries = append(c.Summaries, acc[i][j].summary(name))
		}
		cells[i] = c
	}
	return cells, nil
}

// prices returns the price ratio of tr and, when the grid prices Spot per
// tick, the cost of a Spot tick per tick in on-demand ticks.
func (g Grid) prices(tr Trace) (ratio float64, costs []float64, err error) {
	switch {
	case g.PriceRatio > 0:
		return g.PriceRatio, nil, nil
	case tr.SpotPrices != nil && tr.OnDemandPrice > 0:
		costs = make([]float64, len(tr.SpotPrices))
		for i, p := range tr.SpotPrices {
			if p > tr.OnDemandPrice {
				return 0, nil, fmt.Errorf("trace %s: Spot price %v above the on-demand price %v at tick %d", tr.Name, p, tr.OnDemandPrice, i)
			}
			costs[i] = p / tr.OnDemandPrice
		}
		return tr.OnDemandPrice / max(tr.SpotPrice, 1e-9), costs, nil
	case g.DefaultPriceRatio > 0:
		return g.DefaultPriceRatio, nil, nil
	}
	return 0, nil, fmt.Errorf("trace %s: no prices; give a price ratio", tr.Name)
}

// accum sums one policy's outcomes.
type accum struct {
	n              int
	cost, spotFrac float64
	misses         int
}

func (a *accum) add(o Outcome, norm float64) {
	a.n++
	a.cost += o.Cost / norm
	a.spotFrac += o.SpotFraction()
	if o.Missed {
		a.misses++
	}
}

func (a accum) summary(name string) Summary {
	s := Summary{Policy: name, Samples: a.n, Misses: a.misses}
	if a.n > 0 {
		s.Cost = a.cost / float64(a.n)
		s.SpotFraction = a.spotFrac / float64(a.n)
	}
	return s
}

// Merge combines cells (of several traces, or deadlines) into one whose means
// weigh every sample equally.
func Merge(group string, cells []Cell) Cell {
	if len(cells) == 0 {
		return Cell{Group: group}
	}
	out := Cell{Group: group, Deadline: cells[0].Deadline, Fraction: cells[0].Fraction, Changeover: cells[0].Changeover}
	acc := make([]accum, len(cells[0].Summaries))
	for _, c := range cells {
		out.BoundBreaches += c.BoundBreaches
		for j, s := range c.Summaries {
			acc[j].n += s.Samples
			acc[j].cost += s.Cost * float64(s.Samples)
			acc[j].spotFrac += s.SpotFraction * float64(s.Samples)
			acc[j].misses += s.Misses
		}
	}
	for j, s := range cells[0].Summaries {
		out.Summaries = append(out.Summaries, acc[j].summary(s.Policy))
	}
	return out
}

// Groups merges the report's cells per trace group and deadline, in the order
// they first appear.
func (r Report) Groups() []Cell {
	type key struct {
		group string
		d     time.Duration
	}
	var order []key
	by := map[key][]Cell{}
	for _, c := range r.Cells {
		k := key{c.Group, c.Deadline}
		if _, ok := by[k]; !ok {
			order = append(order, k)
		}
		by[k] = append(by[k], c)
	}
	out := make([]Cell, 0, len(order))
	for _, k := range order {
		out = append(out, Merge(k.group, by[k]))
	}
	return out
}
