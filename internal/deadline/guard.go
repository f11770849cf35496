package deadline

import "time"

// onDemandNeed returns how long the job would take to finish if it moved to
// (or stayed on) on-demand capacity now.
func (s State) onDemandNeed() time.Duration {
	if s.Mode == OnDemand {
		return s.Pending + s.Total - s.Done
	}
	if s.Checkpoint == CheckpointNone {
		return s.Changeover + s.Total
	}
	return s.Changeover + s.Total - s.Done
}

// OnDemandCanMeet reports whether on-demand capacity alone, chosen now, would
// still meet the deadline.
func (s State) OnDemandCanMeet() bool { return s.onDemandNeed() <= s.Left }

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

// Guard is the safety net every policy's answer passes through. It returns
// want unless want would let the deadline slip out of on-demand's reach (in
// the worst case: Spot reclaimed right after the step); then it returns
// OnDemand. Spot asked for while none is available means None. A finished job
// gets None. When even on-demand can no longer make the deadline, Guard keeps
// a productive Spot instance (it is as fast) and otherwise picks on-demand.
func Guard(s State, o Observation, want Mode) Mode {
	if s.Finished() {
		return None
	}
	if want == Spot && !o.SpotAvailable {
		want = None
	}
	if want == OnDemand || s.safe(want, o.SpotAvailable) {
		return want
	}
	if !s.OnDemandCanMeet() && want == Spot && s.Mode == Spot && s.Pending == 0 && s.Checkpoint == CheckpointOnSigterm {
		return Spot
	}
	return OnDemand
}
