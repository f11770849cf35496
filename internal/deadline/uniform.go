package deadline

import "time"

// UniformProgress is the policy of Wu et al. ("Can't Be Late", NSDI '24).
// With C the run time, D the deadline and cp(t) the progress at time t, the
// expected progress is ep(t) = t·C/D and, with d the changeover delay:
//
//  1. Uniform progress: when the job is not on Spot and cp(t) < ep(t), run on
//     on-demand to catch up.
//  2. Exploitation: run on Spot whenever it is available, even when behind,
//     and stay on it until it is reclaimed.
//  3. Hysteresis: once on on-demand, stay on it until cp(t) ≥ ep(t+2d).
//  4. Safety net: when the job is not on Spot and the time left is less than
//     the work left plus 2d, run on on-demand to the end.
//
// The answer then passes through Guard like every policy's.
type UniformProgress struct{}

// Name returns "uniform_progress".
func (UniformProgress) Name() string { return "uniform_progress" }

// Decide applies the four rules.
func (UniformProgress) Decide(s State, o Observation) Mode {
	if s.Finished() {
		return None
	}
	return Guard(s, o, uniformWant(s, o, expectedProgress(s)))
}

// expectedProgress returns ep(t) = t·C/D of Uniform Progress.
func expectedProgress(s State) func(t time.Duration) float64 {
	rate := float64(s.Total) / float64(s.Deadline())
	return func(t time.Duration) float64 { return float64(t) * rate }
}

// uniformWant applies rules 1-4 with the progress line ep.
func uniformWant(s State, o Observation, ep func(time.Duration) float64) Mode {
	cp := float64(s.Done)
	want := None
	switch {
	case o.SpotAvailable:
		want = Spot // rule 2
	case cp < ep(s.Elapsed):
		want = OnDemand // rule 1
	}
	if s.Mode == OnDemand && (!o.SpotAvailable || cp < ep(s.Elapsed+2*s.Changeover)) {
		want = OnDemand // rule 3
	}
	// Rule 4. The paper counts whole ticks: ⌈(work left + 2d)/step⌉ steps
	// against the steps left.
	if s.Mode != Spot && s.Total-s.Done+2*s.Changeover > s.Left-s.Step {
		want = OnDemand
	}
	return want
}
