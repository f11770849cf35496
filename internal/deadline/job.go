package deadline

import (
	"time"

	berth "github.com/berth-run/berth"
)

// Offer is what a fleet offers one job: the Spot pool it would run in and
// whether that pool can have capacity now, the on-demand pool it falls
// back to, and the changeover a move to on-demand costs.
type Offer struct {
	Spot   string // "" when no Spot pool fits the job
	SpotUp bool
	// SpotSince is since when the Spot pool has held a running Spot
	// instance that fits the job, with no notice; now when none.
	SpotSince  time.Time
	Stats      PoolStats
	OnDemand   string // "" when no on-demand pool fits
	Changeover time.Duration
}

// JobState returns what a policy knows at now of job j, with the attempt
// it runs (nil when queued) on market m, a changeover, the part of it an
// attempt placed on a ready host still pays (restart: the image pull and
// the container's start; the host's boot is behind it) and the time step
// until the next decision. The job's progress is the time its attempts ran:
// all of them for a job that checkpoints on SIGTERM, the running one
// otherwise; its elapsed time counts from its creation, or its run-at if
// later.
func JobState(j *berth.Job, running *berth.Attempt, m berth.Market, changeover, restart, step time.Duration, now time.Time) State {
	start := j.CreatedAt
	if j.RunAt != nil && j.RunAt.After(start) {
		start = *j.RunAt
	}
	s := State{
		Elapsed:    max(now.Sub(start), 0),
		Left:       j.Deadline.Sub(now),
		Total:      time.Duration(j.ExpectedDuration),
		Changeover: changeover,
		Checkpoint: CheckpointNone,
		Step:       step,
	}
	if j.Checkpoint == berth.CheckpointOnSigterm {
		s.Checkpoint = CheckpointOnSigterm
	}
	for i := range j.Attempts {
		a := &j.Attempts[i]
		if a.StartedAt == nil {
			continue
		}
		end := now
		if a.FinishedAt != nil {
			end = *a.FinishedAt
		}
		if run := end.Sub(*a.StartedAt); run > 0 && (s.Checkpoint == CheckpointOnSigterm || a == running) {
			s.Done += run
		}
	}
	// A job running past its expected duration is about to end: keep a
	// step of work left so that the policy still sees it.
	s.Done = min(s.Done, max(s.Total-s.Step, 0))
	if running != nil {
		switch m {
		case berth.Spot:
			s.Mode = Spot
		default:
			s.Mode = OnDemand
		}
		if running.StartedAt == nil {
			s.Pending = max(min(restart, changeover)-now.Sub(running.CreatedAt), 0)
		}
	}
	return s
}

// Route returns the pool policy p sends a queued job in state s to, for
// this round: the Spot pool, the on-demand pool, or "" to place it like
// any job (the offer has no pool of the market chosen). wait reports that
// the policy holds it back to wait for Spot.
func Route(p Policy, s State, o Offer) (pool string, wait bool) {
	switch p.Decide(s, Observation{SpotAvailable: o.SpotUp, Stats: o.Stats}) {
	case Spot:
		return o.Spot, false
	case OnDemand:
		return o.OnDemand, false
	}
	return "", true
}

// Move returns the market policy p moves a running job in state s to, or
// "" to leave it where it runs; started says whether its attempt has
// started. Only moves between the markets are made: a running job the
// policy would rather leave idle keeps running. On Spot, Spot counts as
// there; on on-demand, only once the Spot pool has held a fitting instance
// for steady, and only for a started job that keeps its progress across
// the move.
func Move(p Policy, s State, o Offer, steady time.Duration, started bool, now time.Time) berth.Market {
	up := s.Mode == Spot ||
		s.Checkpoint == CheckpointOnSigterm && now.Sub(o.SpotSince) >= steady
	want := p.Decide(s, Observation{SpotAvailable: up, Stats: o.Stats})
	switch {
	case want == OnDemand && s.Mode == Spot && o.OnDemand != "":
		return berth.OnDemand
	case want == Spot && s.Mode == OnDemand && started:
		return berth.Spot
	}
	return ""
}
