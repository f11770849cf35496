package deadline

import (
	"testing"
	"time"
)

// st builds a state in whole minutes: a job of 100 minutes with a deadline
// of 200 and a changeover of 5, on one-minute steps.
func st(elapsed, done int, mode Mode, pending int) State {
	return State{
		Elapsed: time.Duration(elapsed) * time.Minute, Left: time.Duration(200-elapsed) * time.Minute,
		Done: time.Duration(done) * time.Minute, Total: 100 * time.Minute,
		Mode: mode, Pending: time.Duration(pending) * time.Minute,
		Changeover: 5 * time.Minute, Step: time.Minute,
	}
}

var (
	spotNow = Observation{SpotAvailable: true}
	noSpot  = Observation{}
	// rich and poor pools: Spot available 95% and 20% of the time.
	rich = PoolStats{Availability: 0.95, MeanUp: 10 * time.Hour, MeanDown: 30 * time.Minute, Observed: 7 * 24 * time.Hour}
	poor = PoolStats{Availability: 0.2, MeanUp: 30 * time.Minute, MeanDown: 2 * time.Hour, Observed: 7 * 24 * time.Hour}
	// bursty and steady: the poor pool with a median up period under and
	// over three changeovers.
	bursty, steady = withMedianUp(poor, 10*time.Minute), withMedianUp(poor, 20*time.Minute)
)

func withMedianUp(p PoolStats, m time.Duration) PoolStats { p.MedianUp = m; return p }

func TestPolicyRules(t *testing.T) {
	tests := []struct {
		name string
		p    Policy
		s    State
		o    Observation
		want Mode
	}{
		{"greedy takes spot", Greedy{}, st(0, 0, None, 0), spotNow, Spot},
		{"greedy waits with slack", Greedy{}, st(50, 10, None, 0), noSpot, None},
		{"greedy forced to on-demand", Greedy{}, st(95, 0, None, 0), noSpot, OnDemand},
		{"greedy stays on on-demand without slack", Greedy{}, st(96, 1, OnDemand, 0), spotNow, OnDemand},
		{"greedy done", Greedy{}, st(150, 100, Spot, 0), spotNow, None},

		{"up rule 2: spot even when behind", UniformProgress{}, st(100, 30, None, 0), spotNow, Spot},
		{"up rule 1: behind, no spot: on-demand", UniformProgress{}, st(100, 40, None, 0), noSpot, OnDemand},
		{"up rule 1: ahead, no spot: wait", UniformProgress{}, st(100, 60, None, 0), noSpot, None},
		{"up rule 3: on-demand, spot back, below ep(t+2d): stay", UniformProgress{}, st(100, 52, OnDemand, 0), spotNow, OnDemand},
		{"up rule 3: on-demand, spot back, above ep(t+2d): spot", UniformProgress{}, st(100, 56, OnDemand, 0), spotNow, Spot},
		{"up rule 3: on-demand, no spot, ahead: stay", UniformProgress{}, st(100, 70, OnDemand, 0), noSpot, OnDemand},
		{"up rule 4: ahead, but work + 2d over time left: on-demand", UniformProgress{}, st(190, 96, None, 0), spotNow, OnDemand},
		{"up rule 4 not for spot: keep it", UniformProgress{}, st(190, 96, Spot, 0), spotNow, Spot},

		{"berth: rich pool, behind UP's line, waits", Adaptive{}, st(100, 40, None, 0), Observation{Stats: rich}, None},
		{"berth: poor pool, behind, on-demand", Adaptive{}, st(100, 40, None, 0), Observation{Stats: poor}, OnDemand},
		{"berth: poor pool, ahead of UP's line, waits", Adaptive{}, st(100, 60, None, 0), Observation{Stats: poor}, None},
		{"berth: leaves on-demand when spot is back", Adaptive{}, st(100, 52, OnDemand, 0), Observation{SpotAvailable: true, Stats: poor}, Spot},
		{"berth: bursty pool, short slack, behind: stays on on-demand", Adaptive{}, st(100, 12, OnDemand, 0), Observation{SpotAvailable: true, Stats: bursty}, OnDemand},
		{"berth: steady pool, short slack, behind: spot", Adaptive{}, st(100, 12, OnDemand, 0), Observation{SpotAvailable: true, Stats: steady}, Spot},
		{"berth: bursty pool, ample slack: spot", Adaptive{}, st(100, 40, OnDemand, 0), Observation{SpotAvailable: true, Stats: bursty}, Spot},
		{"berth: bursty pool, short slack, idle: spot", Adaptive{}, st(100, 12, None, 0), Observation{SpotAvailable: true, Stats: bursty}, Spot},
		{"berth: stays on on-demand without spot", Adaptive{}, st(100, 90, OnDemand, 0), Observation{Stats: rich}, OnDemand},
		{"berth: rich pool near the deadline, forced", Adaptive{}, st(190, 94, None, 0), Observation{Stats: rich}, OnDemand},
		{"berth without statistics is UP", Adaptive{}, st(100, 40, None, 0), noSpot, OnDemand},
	}
	for _, tt := range tests {
		if got := tt.p.Decide(tt.s, tt.o); got != tt.want {
			t.Errorf("%s: %s.Decide(%+v) = %v, want %v", tt.name, tt.p.Name(), tt.s, got, tt.want)
		}
	}
}

func TestGuard(t *testing.T) {
	none := func(s State) State { s.Checkpoint = CheckpointNone; return s }
	// short is st with a changeover of 30 s, under the step.
	short := func(s State) State { s.Changeover = 30 * time.Second; return s }
	tests := []struct {
		name string
		s    State
		o    Observation
		want Mode
		got  Mode
	}{
		{"spot asked, none available", st(0, 0, None, 0), noSpot, Spot, None},
		{"idle with a changeover of slack", st(90, 0, None, 0), noSpot, None, None},
		{"idle with a step of slack, short changeover", short(st(98, 0, None, 0)), noSpot, None, None},
		{"idle with less than a step of slack", short(st(99, 0, None, 0)), noSpot, None, OnDemand},
		{"starting spot needs its changeover in slack", short(st(99, 0, None, 0)), spotNow, Spot, Spot},
		{"starting spot without slack", short(st(100, 0, None, 0)), spotNow, Spot, OnDemand},
		{"productive spot keeps zero slack", st(95, 0, Spot, 0), spotNow, Spot, Spot},
		{"spot in its changeover needs it in slack", st(93, 0, Spot, 2), spotNow, Spot, Spot},
		{"spot in its changeover beyond the slack", st(94, 0, Spot, 2), spotNow, Spot, OnDemand},
		{"leaving on-demand without slack", st(96, 1, OnDemand, 0), spotNow, Spot, OnDemand},
		{"no checkpoint: on-demand near the end may not switch", none(st(198, 99, OnDemand, 0)), spotNow, Spot, OnDemand},
		{"finished", st(150, 100, OnDemand, 0), noSpot, OnDemand, None},
	}
	for _, tt := range tests {
		if got := Guard(tt.s, tt.o, tt.want); got != tt.got {
			t.Errorf("%s: Guard(%+v, %v) = %v, want %v", tt.name, tt.s, tt.want, got, tt.got)
		}
	}
}

// TestSpotOnlyWhereItCanFinish pins rule 2 of Guard and its consequences:
// Spot only where the job can end there before the safety net would move
// it, on-demand from the start where it cannot.
func TestSpotOnlyWhereItCanFinish(t *testing.T) {
	// job: a run of total minutes due in 100, a changeover of 5, one-minute
	// steps, at elapsed minutes with done of them kept.
	job := func(ck Checkpoint, total, elapsed, done int, mode Mode, pending int) State {
		return State{
			Elapsed: time.Duration(elapsed) * time.Minute, Left: time.Duration(100-elapsed) * time.Minute,
			Done: time.Duration(done) * time.Minute, Total: time.Duration(total) * time.Minute,
			Mode: mode, Pending: time.Duration(pending) * time.Minute,
			Changeover: 5 * time.Minute, Checkpoint: ck, Step: time.Minute,
		}
	}
	none, sig := CheckpointNone, CheckpointOnSigterm
	spotPoor := Observation{SpotAvailable: true, Stats: poor}
	tests := []struct {
		name string
		p    Policy
		s    State
		o    Observation
		want Mode
	}{
		// Restart from zero: a start on Spot needs Left ≥ 2(d + Total).
		{"none: run fits the slack, starts on spot", Greedy{}, job(none, 45, 0, 0, None, 0), spotNow, Spot},
		{"none: run fits the slack, berth starts on spot", Adaptive{}, job(none, 45, 0, 0, None, 0), spotPoor, Spot},
		{"none: run does not fit the slack, starts on on-demand", Greedy{}, job(none, 46, 0, 0, None, 0), spotNow, OnDemand},
		{"none: berth starts it on on-demand", Adaptive{}, job(none, 46, 0, 0, None, 0), spotPoor, OnDemand},
		{"none: uniform progress starts it on on-demand", UniformProgress{}, job(none, 46, 0, 0, None, 0), spotNow, OnDemand},
		{"none: no spot, but it never could end there: on-demand now", Greedy{}, job(none, 46, 0, 0, None, 0), noSpot, OnDemand},
		{"none: no spot, could end there: waits", Greedy{}, job(none, 45, 0, 0, None, 0), noSpot, None},
		{"none: later start no longer fits", Greedy{}, job(none, 30, 31, 0, None, 0), spotNow, OnDemand},
		{"none: later start fits", Greedy{}, job(none, 30, 30, 0, None, 0), spotNow, Spot},
		// On Spot: the rest of the run must fit the slack.
		{"none: on spot, rest fits the slack, stays", Greedy{}, job(none, 45, 20, 15, Spot, 0), spotNow, Spot},
		{"none: on spot, rest fits in its changeover, stays", Greedy{}, job(none, 45, 3, 0, Spot, 2), spotNow, Spot},
		{"none: on spot, rest beyond the slack, moves now", Greedy{}, job(none, 50, 20, 15, Spot, 0), spotNow, OnDemand},
		{"none: on spot, ends within the step, stays", Greedy{}, job(none, 60, 98, 59, Spot, 0), spotNow, Spot},
		// On-demand can no longer meet the deadline: a restart guarantees the miss.
		{"none: on spot, on-demand too late, stays", Greedy{}, job(none, 60, 60, 20, Spot, 0), spotNow, Spot},
		{"none: on spot in its changeover, on-demand too late, stays", Greedy{}, job(none, 60, 40, 0, Spot, 4), spotNow, Spot},
		{"none: idle, on-demand too late, on-demand", Greedy{}, job(none, 60, 40, 0, None, 0), spotNow, OnDemand},
		{"sigterm: on spot, on-demand too late, stays", Greedy{}, job(sig, 60, 60, 20, Spot, 0), spotNow, Spot},
		// Checkpoint on SIGTERM: progress on Spot is kept, only the
		// changeover must fit the slack; the run's length does not matter.
		{"sigterm: long run, starts on spot", Greedy{}, job(sig, 80, 0, 0, None, 0), spotNow, Spot},
		{"sigterm: slack of the changeover, starts on spot", Greedy{}, job(sig, 80, 10, 0, None, 0), spotNow, Spot},
		{"sigterm: slack under the changeover, on-demand now", Greedy{}, job(sig, 80, 11, 0, None, 0), spotNow, OnDemand},
		{"sigterm: slack under the changeover, no spot, on-demand now", Greedy{}, job(sig, 80, 11, 0, None, 0), noSpot, OnDemand},
		{"sigterm: on spot with no slack, stays", Greedy{}, job(sig, 80, 40, 25, Spot, 0), spotNow, Spot},
		{"sigterm: leaves on-demand with a changeover of slack", Adaptive{}, job(sig, 80, 50, 40, OnDemand, 0), spotPoor, Spot},
		{"sigterm: stays on on-demand with less", Adaptive{}, job(sig, 80, 51, 40, OnDemand, 0), spotPoor, OnDemand},
	}
	for _, tt := range tests {
		if got := tt.p.Decide(tt.s, tt.o); got != tt.want {
			t.Errorf("%s: %s.Decide(%+v) = %v, want %v", tt.name, tt.p.Name(), tt.s, got, tt.want)
		}
	}
}
