package control

import (
	"context"
	"errors"
	"log/slog"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/cron"
	"github.com/berth-run/berth/internal/store"
)

// Schedules is the loop that fires due cron schedules. A schedule that was
// due several times while the server was down fires once (the catch-up
// run) and then moves to its next time after now: no flood.
type Schedules struct {
	store    *store.Store
	notifier *Notifier
	kick     func() // wakes the dispatcher after a job is created
	log      *slog.Logger
	wake     wakeup
}

// NewSchedules returns the schedule loop.
func NewSchedules(s *store.Store, n *Notifier, kick func(), log *slog.Logger) *Schedules {
	return &Schedules{store: s, notifier: n, kick: kick, log: log, wake: newWakeup()}
}

// Kick asks for a round now (a schedule was created).
func (c *Schedules) Kick() {
	c.wake.kick()
}

// Run fires due schedules every second until ctx ends.
func (c *Schedules) Run(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if err := c.Round(ctx, time.Now()); err != nil && ctx.Err() == nil {
			c.log.Error("schedules round", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-c.wake:
		}
	}
}

// Round fires every schedule due at now.
func (c *Schedules) Round(ctx context.Context, now time.Time) error {
	due, err := c.store.DueSchedules(ctx, now)
	if err != nil {
		return err
	}
	fired := false
	for _, s := range due {
		loc, err := s.Location()
		if err != nil {
			c.log.Error("schedule has a bad time zone", "schedule", s.ID, "err", err)
			continue
		}
		expr, err := cron.Parse(s.Cron, loc)
		if err != nil {
			c.log.Error("schedule has a bad cron expression", "schedule", s.ID, "err", err)
			continue
		}
		next := expr.Next(now)
		job, err := c.store.FireSchedule(ctx, s.ID, s.NextRunAt, next, now)
		switch {
		case errors.Is(err, berth.ErrStale) || errors.Is(err, berth.ErrNotFound):
			continue
		case err != nil:
			return err
		}
		fired = true
		if job == nil {
			c.log.Info("schedule skipped a run: its previous run is still active", "schedule", s.ID, "policy", s.Concurrency)
		}
	}
	if fired {
		c.kick()
		c.notifier.NotifyAll() // replace may have cancelled running jobs
	}
	return nil
}
