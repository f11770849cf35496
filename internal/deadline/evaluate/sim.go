package evaluate

import (
	"fmt"
	"math"
	"time"

	"github.com/berth-run/berth/internal/deadline"
)

// Job is a job with a deadline, as the simulator sees it.
type Job struct {
	Work       time.Duration // expected run time
	Deadline   time.Duration // from submission
	Changeover time.Duration
	Checkpoint deadline.Checkpoint
}

// Setup is a job laid on a trace's ticks: everything the simulator and the
// omniscient bound count in whole ticks.
type Setup struct {
	Job Job
	Gap time.Duration
	N   int // ticks of work: ⌈Work/Gap⌉
	H   int // ticks of a changeover: Changeover/Gap rounded to the nearest
	T   int // ticks before the deadline: ⌊Deadline/Gap⌋
	// SpotCost is the cost of a Spot tick; an on-demand tick costs 1.
	SpotCost float64
	// SpotCosts, when set, is the cost of a Spot tick per tick from the
	// job's start (a trace's per-tick Spot prices over its on-demand price);
	// ticks past its end cost SpotCost. Every value must lie in [0, 1]: the
	// omniscient bound's exchange arguments need Spot no dearer than
	// on-demand.
	SpotCosts []float64
}

// spotCost returns the cost of a Spot tick at tick t from the job's start.
func (su Setup) spotCost(t int) float64 {
	if t < len(su.SpotCosts) {
		return su.SpotCosts[t]
	}
	return su.SpotCost
}

// NewSetup lays job on ticks of gap, with on-demand priced priceRatio times
// Spot.
func NewSetup(job Job, gap time.Duration, priceRatio float64) (Setup, error) {
	switch {
	case gap <= 0:
		return Setup{}, fmt.Errorf("setup: tick %v is not positive", gap)
	case job.Work <= 0:
		return Setup{}, fmt.Errorf("setup: work %v is not positive", job.Work)
	case job.Changeover < 0:
		return Setup{}, fmt.Errorf("setup: changeover %v is negative", job.Changeover)
	case priceRatio < 1:
		return Setup{}, fmt.Errorf("setup: price ratio %v is below 1", priceRatio)
	}
	su := Setup{
		Job:      job,
		Gap:      gap,
		N:        int((job.Work + gap - 1) / gap),
		H:        int(math.Round(float64(job.Changeover) / float64(gap))),
		T:        int(job.Deadline / gap),
		SpotCost: 1 / priceRatio,
	}
	if su.H+su.N > su.T {
		return Setup{}, fmt.Errorf("setup: on-demand alone needs %v, more than the deadline %v",
			time.Duration(su.H+su.N)*gap, job.Deadline)
	}
	return su, nil
}

// SubTicks returns how many parts to cut a tick of gap into so that the
// changeover, rounded to whole ticks, is within 10% of its value (at most
// 8 parts).
func SubTicks(changeover, gap time.Duration) int {
	if changeover <= 0 {
		return 1
	}
	best, bestErr := 1, math.Inf(1)
	for m := 1; m <= 8; m++ {
		g := float64(gap) / float64(m)
		e := math.Abs(math.Round(float64(changeover)/g)*g-float64(changeover)) / float64(changeover)
		if e <= 0.1 {
			return m
		}
		if e < bestErr {
			best, bestErr = m, e
		}
	}
	return best
}

// EffectiveChangeover returns the changeover the setup counts.
func (su Setup) EffectiveChangeover() time.Duration { return time.Duration(su.H) * su.Gap }

// OnDemandCost returns the cost of running the job on on-demand alone.
func (su Setup) OnDemandCost() float64 { return float64(su.H + su.N) }

// Outcome is what one run of a job cost and did.
type Outcome struct {
	Cost     float64 // in ticks of on-demand
	SpotWork int     // ticks of progress made on Spot
	Work     int     // ticks of progress made, including progress lost to restarts
	Finish   int     // tick at which the job finished
	Missed   bool    // finished after the deadline
}

// SpotFraction returns the share of the progress made on Spot.
func (o Outcome) SpotFraction() float64 {
	if o.Work == 0 {
		return 0
	}
	return float64(o.SpotWork) / float64(o.Work)
}

// Run replays policy p on avail, the trace's ticks from the job's start
// (ticks past its end count as unavailable), with pool statistics stats;
// Spot ticks cost su.SpotCosts where set. A job still running at the
// deadline is finished on on-demand and marked missed.
func (su Setup) Run(p deadline.Policy, avail []bool, stats deadline.PoolStats) Outcome {
	var (
		out  Outcome
		mode = deadline.None
		r, w int
		none = su.Job.Checkpoint == deadline.CheckpointNone
	)
	for t := 0; ; t++ {
		a := t < len(avail) && avail[t]
		if mode == deadline.Spot && !a {
			mode, r = deadline.None, 0
			if none {
				w = 0
			}
		}
		s := deadline.State{
			Elapsed:    time.Duration(t) * su.Gap,
			Left:       time.Duration(su.T-t) * su.Gap,
			Done:       time.Duration(w) * su.Gap,
			Total:      su.Job.Work,
			Mode:       mode,
			Pending:    time.Duration(r) * su.Gap,
			Changeover: time.Duration(su.H) * su.Gap,
			Checkpoint: su.Job.Checkpoint,
			Step:       su.Gap,
		}
		c := deadline.OnDemand
		if t < su.T {
			c = p.Decide(s, deadline.Observation{SpotAvailable: a, Stats: stats})
		} else {
			out.Missed = true
		}
		if c == deadline.Spot && !a {
			c = deadline.None
		}
		if c != mode {
			if none && mode != deadline.None {
				w = 0
			}
			mode, r = c, su.H
			if c == deadline.None {
				r = 0
			}
		}
		switch mode {
		case deadline.None:
			continue
		case deadline.Spot:
			out.Cost += su.spotCost(t)
		default:
			out.Cost++
		}
		if r > 0 {
			r--
			continue
		}
		w++
		out.Work++
		if mode == deadline.Spot {
			out.SpotWork++
		}
		if w >= su.N {
			out.Finish = t + 1
			return out
		}
	}
}
