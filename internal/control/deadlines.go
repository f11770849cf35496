package control

import (
	"context"
	"errors"
	"fmt"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/deadline"
	"github.com/berth-run/berth/internal/fleetview"
	"github.com/berth-run/berth/internal/store"
)

// DeadlineConfig tunes how the dispatcher runs jobs that have a deadline;
// zero fields mean the default.
type DeadlineConfig struct {
	// Policy chooses, for each such job, between Spot, on-demand and
	// waiting. Default: deadline.Adaptive, berth's own.
	Policy deadline.Policy
	// Step is how far ahead the safety net looks: it keeps the deadline
	// within on-demand's reach even if Spot is reclaimed within Step.
	Step time.Duration // default 1m
	// Restart is what a changeover costs beyond the boot of a host: the
	// image pull and the container's start.
	Restart time.Duration // default 30s
	// SpotSteady is how long the Spot pool must have held a running
	// instance (that fits the job, with no notice) before a job running on
	// on-demand is moved back to Spot: a type merely not known to be out
	// of capacity is no proof. Only jobs that checkpoint on SIGTERM are
	// moved back; others would start again from zero.
	SpotSteady time.Duration // default 10m
}

func (c DeadlineConfig) withDefaults() DeadlineConfig {
	if c.Policy == nil {
		c.Policy = deadline.Adaptive{}
	}
	if c.Step == 0 {
		c.Step = time.Minute
	}
	if c.Restart == 0 {
		c.Restart = 30 * time.Second
	}
	if c.SpotSteady == 0 {
		c.SpotSteady = 10 * time.Minute
	}
	return c
}

// deadlines runs the deadline policy over one dispatch round.
type deadlines struct {
	cfg   DeadlineConfig
	fleet *Fleet
}

// state is what the policy knows of job j at now, with the attempt it runs
// (nil when queued) on market m.
func (d *deadlines) state(j *berth.Job, running *berth.Attempt, m berth.Market, mk deadline.Offer, now time.Time) deadline.State {
	return deadline.JobState(j, running, m, mk.Changeover, d.cfg.Restart, d.cfg.Step, now)
}

// queued applies the policy to the queued jobs of a round. It returns the
// jobs to place, those governed by the policy pinned to the pool of the
// market it chose (on copies of their labels), and the reasons of the jobs
// it holds back to wait for Spot.
func (d *deadlines) queued(ctx context.Context, st *store.Store, queued []berth.Job, now time.Time) ([]berth.Job, map[string]string, error) {
	var ids []string // governed jobs: the progress of their earlier attempts counts
	for i := range queued {
		if fleetview.Governs(&queued[i]) {
			ids = append(ids, queued[i].ID)
		}
	}
	var runs map[string][]berth.Attempt
	if len(ids) > 0 {
		var err error
		if runs, err = st.Attempts(ctx, ids); err != nil {
			return nil, nil, err
		}
	}
	var held map[string]string
	out := queued[:0:0]
	markets := d.marketsOf(now)
	for i := range queued {
		j := queued[i]
		if !fleetview.Governs(&j) {
			out = append(out, j)
			continue
		}
		mk := markets(&j)
		if !fleetview.Routes(mk) {
			out = append(out, j) // no markets to weigh: placed like any job
			continue
		}
		ran := j
		ran.Attempts = runs[j.ID]
		s := d.state(&ran, nil, "", mk, now)
		pool, wait := deadline.Route(d.cfg.Policy, s, mk)
		if wait {
			if held == nil {
				held = map[string]string{}
			}
			held[j.ID] = fmt.Sprintf("waiting for Spot capacity in pool %s: the %s policy keeps it off on-demand, which could still finish it by %s (slack %s)",
				mk.Spot, d.cfg.Policy.Name(), j.Deadline.UTC().Format(time.RFC3339), s.Slack().Round(time.Second))
			continue
		}
		if pool != "" {
			j.Pool = pool // the policy's choice reaches the scheduler in the snapshot's copy of the job
		}
		out = append(out, j)
	}
	return out, held, nil
}

// marketsOf returns what the fleet offers a job at now, read once per
// job shape: the offer depends on the shape alone.
func (d *deadlines) marketsOf(now time.Time) func(j *berth.Job) deadline.Offer {
	return d.fleet.offers(now, d.cfg.Restart)
}

// move is a running attempt the policy wants on another market.
type move struct {
	attemptID, nodeID string
	to                berth.Market
	why               string
}

// running applies the policy to the running jobs with a deadline and
// returns the attempts to move. Only moves between the markets are made:
// a running job the policy would rather leave idle keeps running.
func (d *deadlines) running(runs []store.DeadlineRun, now time.Time) []move {
	var out []move
	markets := d.marketsOf(now)
	for i := range runs {
		r := &runs[i]
		j := &r.Job
		cur := j.CurrentAttempt()
		if !fleetview.Governs(j) || r.MoveTo != "" || cur == nil || !cur.Active() || r.Held.Market == "" {
			continue
		}
		mk := markets(j)
		if !fleetview.Routes(mk) {
			continue
		}
		s := d.state(j, cur, r.Held.Market, mk, now)
		switch deadline.Move(d.cfg.Policy, s, mk, d.cfg.SpotSteady, cur.StartedAt != nil, now) {
		case berth.OnDemand:
			out = append(out, move{cur.ID, cur.Node, berth.OnDemand, fmt.Sprintf(
				"moving to on-demand: staying on Spot could leave the deadline %s out of on-demand's reach (slack %s)",
				j.Deadline.UTC().Format(time.RFC3339), s.Slack().Round(time.Second))})
		case berth.Spot:
			out = append(out, move{cur.ID, cur.Node, berth.Spot, fmt.Sprintf(
				"moving to Spot: pool %s has held Spot capacity for %s and the deadline %s stays within on-demand's reach",
				mk.Spot, now.Sub(mk.SpotSince).Round(time.Second), j.Deadline.UTC().Format(time.RFC3339))})
		}
	}
	return out
}

// moveRunning reads the running jobs with a deadline, applies the policy
// and stops the attempts it moves; their nodes are told at once.
func (d *Dispatcher) moveRunning(ctx context.Context, now time.Time) error {
	runs, err := d.store.DeadlineRuns(ctx)
	if err != nil || len(runs) == 0 {
		return err
	}
	for _, m := range d.deadlines.running(runs, now) {
		_, err := d.store.MoveAttempt(ctx, m.attemptID, m.to, m.why, now)
		if errors.Is(err, berth.ErrStale) || errors.Is(err, berth.ErrConflict) {
			continue // it ended, or moves already
		}
		if err != nil {
			return err
		}
		d.log.Info("moving a job with a deadline", "attempt", m.attemptID, "node", m.nodeID, "to", m.to, "why", m.why)
		d.notifier.Notify(m.nodeID)
	}
	return nil
}
