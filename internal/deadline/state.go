package deadline

import "time"

// State is what a policy knows about one job at a decision point. The
// decision holds for the next Step.
type State struct {
	Elapsed    time.Duration // since the job was submitted
	Left       time.Duration // until the deadline
	Done       time.Duration // progress kept across a changeover
	Total      time.Duration // expected run time
	Mode       Mode          // capacity the job is on now; None once Spot is reclaimed
	Pending    time.Duration // changeover still to pay on the current instance; 0 when it makes progress
	Changeover time.Duration // delay of a (re)start: boot, image pull, lost work since the last checkpoint
	Checkpoint Checkpoint
	Step       time.Duration // time until the next decision
}

// Deadline returns the job's deadline relative to its submission.
func (s State) Deadline() time.Duration { return s.Elapsed + s.Left }

// Finished reports whether the job has done all its work.
func (s State) Finished() bool { return s.Done >= s.Total }

// Observation is what the pool tells a policy now.
type Observation struct {
	SpotAvailable bool
	Stats         PoolStats // zero when unknown
}

// PoolStats are statistics of a Spot pool observed before the decision.
type PoolStats struct {
	Availability float64       // fraction of time Spot could be had
	MeanUp       time.Duration // mean length of a period with Spot available
	MeanDown     time.Duration // mean length of a period without
	// MedianUp is the median length of a period with Spot available, zero
	// when unknown. Up periods are heavy-tailed: many blips, a few long runs
	// that make the mean; the median says whether a typical period repays
	// the changeovers of a move to Spot.
	MedianUp time.Duration
	Observed time.Duration // how long the pool was observed
}

// Known reports whether the statistics rest on enough observation to act on.
func (p PoolStats) Known() bool {
	return p.Observed >= 24*time.Hour && p.MeanUp > 0 && p.MeanDown > 0
}

// Policy chooses the mode of a job for its next step.
type Policy interface {
	Name() string
	// Decide returns the mode for the next step. It must be pure.
	Decide(s State, o Observation) Mode
}
