package deadline

import "time"

// need returns how long the job would take to finish on market m, should
// it hold, if it moved there (or stayed there) now: the changeover still to
// pay where it runs, or a whole one to move, and the work left — all of it
// for a job that restarts from zero and moves.
func (s State) need(m Mode) time.Duration {
	if s.Mode == m {
		return s.Pending + s.Total - s.Done
	}
	if s.Checkpoint == CheckpointNone {
		return s.Changeover + s.Total
	}
	return s.Changeover + s.Total - s.Done
}

// OnDemandCanMeet reports whether on-demand capacity alone, chosen now, would
// still meet the deadline.
func (s State) OnDemandCanMeet() bool { return s.need(OnDemand) <= s.Left }

// Slack returns the time the job can still spend without making progress
// before on-demand alone could no longer meet the deadline, counting one
// changeover. It is negative when that point has passed.
func (s State) Slack() time.Duration {
	rem := s.Total - s.Done
	if s.Checkpoint == CheckpointNone {
		rem = s.Total
	}
	return s.Left - s.Changeover - rem
}

// SpotCanFinish reports whether the job, started on Spot now (or kept
// there), would end on Spot before the safety net had to move it, should
// Spot hold: it ends within the step, or what a move to on-demand would
// throw away fits the slack. A move keeps the progress of a job that
// checkpoints on SIGTERM and loses only the changeover still to pay on
// Spot; a job that restarts from zero loses its whole run on Spot. The
// slack shrinks as fast as time passes while the job pays a changeover,
// and also while it runs when it restarts from zero, so the test holds at
// every later moment of the run if it holds now.
func (s State) SpotCanFinish() bool {
	need := s.need(Spot)
	if need <= s.Step {
		return true
	}
	lost := need
	if s.Checkpoint == CheckpointOnSigterm {
		lost = s.Changeover
		if s.Mode == Spot {
			lost = s.Pending
		}
	}
	return lost <= s.Slack()
}

// safe reports whether mode m for the next step leaves the deadline within
// reach of on-demand even if Spot is reclaimed right after the step.
func (s State) safe(m Mode, spotNow bool) bool {
	if m == OnDemand {
		return true
	}
	if m == Spot && !spotNow {
		m = None
	}
	done := s.Done
	if s.Checkpoint == CheckpointNone && m != s.Mode {
		done = 0 // a changeover restarts the job from zero
	}
	if m == Spot {
		pend := s.Changeover
		if s.Mode == Spot {
			pend = s.Pending
		}
		if gain := s.Step - pend; gain > 0 {
			done += gain
		}
		if done >= s.Total {
			return true // the job ends within the step
		}
	}
	if s.Checkpoint == CheckpointNone {
		done = 0 // a reclaimed or stopped job starts again from zero
	}
	return s.Left-s.Step >= s.Changeover+s.Total-done
}

// Guard is the safety net every policy's answer passes through. A finished
// job gets None; Spot asked for while none is available means None. Then,
// with d the changeover, P the changeover still to pay on the job's Spot
// instance (d when it is not on Spot), rem the work left and slack =
// Left − d − rem (rem = Total for a job that restarts from zero: a move
// restarts it):
//
//  1. No answer may let the deadline slip out of on-demand's reach in the
//     worst case, Spot reclaimed right after the step: an answer that
//     would is replaced by OnDemand.
//  2. Spot only where the job can end on Spot, should Spot hold, before
//     rule 1 would move it (SpotCanFinish): the job ends within the step,
//     or what a move would throw away fits the slack. For a job that
//     checkpoints on SIGTERM a move loses only P: slack ≥ P. For one that
//     restarts from zero it loses the whole run on Spot, P + rem on the
//     Spot instance, d + Total to start: slack ≥ P + rem (to start:
//     Left ≥ 2(d + Total)). Elsewhere Spot would be paid for and then left
//     for on-demand, which runs the whole rest anyway: OnDemand is cheaper
//     in every outcome.
//  3. A job off Spot that could not end on Spot started now never could
//     later (waiting only shrinks the slack): rather than wait for Spot, or
//     leave on-demand, it runs on on-demand now, at the same cost.
//  4. When even on-demand can no longer meet the deadline, a job on a Spot
//     instance that Spot still offers stays there when asked to: it ends no
//     later than a move would (P ≤ d), and a move restarts a job without
//     checkpoints from zero. Otherwise OnDemand, the surest.
func Guard(s State, o Observation, want Mode) Mode {
	if s.Finished() {
		return None
	}
	if want == Spot && !o.SpotAvailable {
		want = None
	}
	if want == OnDemand {
		return want
	}
	if !s.OnDemandCanMeet() {
		if want == Spot && s.Mode == Spot {
			return Spot // rule 4
		}
		return OnDemand
	}
	canFinish := s.SpotCanFinish()
	if s.Mode != Spot && !canFinish {
		return OnDemand // rule 3
	}
	if want == Spot && !canFinish {
		return OnDemand // rule 2
	}
	if s.safe(want, o.SpotAvailable) {
		return want
	}
	return OnDemand // rule 1
}
