package deadline

import "time"

// Adaptive is berth's policy: Uniform Progress with the progress line
// lowered to what the pool's observed Spot supply makes necessary, and with
// the hysteresis that keeps Uniform Progress on on-demand while Spot is back
// kept only where Spot's return is typically too short to pay for the move.
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
//  1. Spot available, not on on-demand: run on Spot.
//  2. Spot available, on on-demand: move to Spot, unless all of these hold,
//     then stay on on-demand:
//     - the pool's median up period is shorter than 3d: a typical Spot
//     period does not repay the changeover onto Spot and the one back to
//     on-demand (it must last d to start and 2d more to make up for them);
//     - the slack is short: less than a tenth of the time left;
//     - cp < line(t+2d): a move that fails after two changeovers would
//     leave the job behind its line.
//  3. No Spot, on on-demand: stay on on-demand (a stop and a restart would
//     cost two changeovers).
//  4. No Spot, otherwise: run on on-demand when cp < line(t), else wait.
//
// A pool with a supply above the job's need (a > C/D) thus waits for Spot
// longer than Uniform Progress would, and a pool with less behaves as
// Uniform Progress, with its hysteresis only where Spot comes back in short
// bursts and the deadline is near. Without known pool statistics Adaptive is
// UniformProgress; without a known median up period rule 2 always moves to
// Spot. Its answer passes through Guard, which also keeps Spot for the
// jobs that can end there before the safety net would move them: for a job
// that restarts from zero, rule 1 (and rule 2's move) need
// Left ≥ 2(d + C) to start, and the rest of the run within the slack to
// stay; a job that checkpoints on SIGTERM needs the changeover within its
// slack. Elsewhere the job runs on on-demand from the start.
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
	case o.SpotAvailable && s.Mode == OnDemand && adaptiveHold(s, st):
		want = OnDemand
	case o.SpotAvailable:
		want = Spot
	case s.Mode == OnDemand:
		want = OnDemand
	case float64(s.Done) < adaptiveLine(s, st, s.Elapsed):
		want = OnDemand
	}
	return Guard(s, o, want)
}

// adaptiveHold reports whether Adaptive keeps a job on on-demand although
// Spot is back (rule 2).
func adaptiveHold(s State, st PoolStats) bool {
	shortUp := st.MedianUp > 0 && st.MedianUp < 3*s.Changeover
	shortSlack := 10*s.Slack() < s.Left
	return shortUp && shortSlack && float64(s.Done) < adaptiveLine(s, st, s.Elapsed+2*s.Changeover)
}

// adaptiveLine returns the progress Adaptive wants at time t.
func adaptiveLine(s State, st PoolStats, t time.Duration) float64 {
	supply := st.Availability - float64(s.Changeover)/float64(st.MeanUp+st.MeanDown)
	supply = min(max(supply, 0), 1)
	total, dl := float64(s.Total), float64(s.Deadline())
	return min(float64(t)*total/dl, total-supply*(dl-float64(t)))
}
