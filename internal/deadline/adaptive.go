package deadline

import "time"

// Adaptive is berth's policy: Uniform Progress with the progress line
// lowered to what the pool's observed Spot supply makes necessary, and
// without the hysteresis that keeps Uniform Progress on on-demand while Spot
// is back.
//
// Uniform Progress wants progress ep(t) = t·C/D (C the run time, D the
// deadline). That line is C − a·(D−t) with a = C/D: the progress from which
// Spot available a share a of the remaining time would just finish the job.
// Adaptive uses the share a the pool is observed to give, net of the
// changeover d paid for every Spot period,
//
//	a = availability − d / (mean up period + mean down period),
//
// and never demands more than Uniform Progress:
//
//	line(t) = min(t·C/D, C − a·(D−t)).
//
// With cp the progress:
//
//  1. Spot available: run on Spot, also when coming from on-demand.
//  2. No Spot, on on-demand: stay on on-demand (a stop and a restart would
//     cost two changeovers).
//  3. No Spot, otherwise: run on on-demand when cp < line(t), else wait.
//
// A pool with a supply above the job's need (a > C/D) thus waits for Spot
// longer than Uniform Progress would, and a pool with less behaves as
// Uniform Progress. Without known pool statistics Adaptive is
// UniformProgress. Its answer passes through Guard.
type Adaptive struct{}

// Name returns "berth".
func (Adaptive) Name() string { return "berth" }

// Decide applies the rules.
func (Adaptive) Decide(s State, o Observation) Mode {
	if s.Finished() {
		return None
	}
	st := o.Stats
	if !st.Known() {
		return UniformProgress{}.Decide(s, o)
	}
	want := None
	switch {
	case o.SpotAvailable:
		want = Spot
	case s.Mode == OnDemand:
		want = OnDemand
	case float64(s.Done) < adaptiveLine(s, st, s.Elapsed):
		want = OnDemand
	}
	return Guard(s, o, want)
}

// adaptiveLine returns the progress Adaptive wants at time t.
func adaptiveLine(s State, st PoolStats, t time.Duration) float64 {
	supply := st.Availability - float64(s.Changeover)/float64(st.MeanUp+st.MeanDown)
	supply = min(max(supply, 0), 1)
	total, dl := float64(s.Total), float64(s.Deadline())
	return min(float64(t)*total/dl, total-supply*(dl-float64(t)))
}
