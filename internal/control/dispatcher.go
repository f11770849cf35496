package control

import (
	"context"
	"log/slog"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/scheduler"
	"github.com/berth-run/berth/internal/store"
)

// DispatchConfig tunes the dispatch loop; zero fields mean the default.
type DispatchConfig struct {
	// Interval is the longest the loop sleeps without a kick.
	Interval time.Duration // default 1s
	// Window is how many queued jobs one round considers, in order.
	Window int // default 10000
}

// Dispatcher is the loop that releases due jobs and places queued ones.
// It runs a round at once when kicked (a job was submitted, capacity
// freed), so that work starts within milliseconds.
type Dispatcher struct {
	cfg      DispatchConfig
	store    *store.Store
	notifier *Notifier
	log      *slog.Logger
	wake     chan struct{}
}

// NewDispatcher returns a dispatch loop over s that wakes agents through n.
func NewDispatcher(cfg DispatchConfig, s *store.Store, n *Notifier, log *slog.Logger) *Dispatcher {
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	if cfg.Window == 0 {
		cfg.Window = 10000
	}
	return &Dispatcher{cfg: cfg, store: s, notifier: n, log: log, wake: make(chan struct{}, 1)}
}

// Kick asks for a round as soon as possible. It never blocks; kicks during
// a round coalesce into one more round.
func (d *Dispatcher) Kick() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run runs rounds until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
		case <-t.C:
		}
		sleep := d.cfg.Interval
		if next, err := d.Round(ctx, time.Now()); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			d.log.Error("dispatch round", "err", err)
		} else if !next.IsZero() {
			sleep = min(sleep, max(time.Until(next), time.Millisecond))
		}
		t.Reset(sleep)
	}
}

// Round releases scheduled jobs that are due, places what fits, records why
// the rest waits, and returns when the next scheduled job is due (zero if
// none).
func (d *Dispatcher) Round(ctx context.Context, now time.Time) (time.Time, error) {
	if _, err := d.store.ReleaseDue(ctx, now); err != nil {
		return time.Time{}, err
	}
	queued, err := d.store.Queued(ctx, d.cfg.Window)
	if err != nil {
		return time.Time{}, err
	}
	if len(queued) > 0 {
		if err := d.place(ctx, queued, now); err != nil {
			return time.Time{}, err
		}
	}
	next, ok, err := d.store.NextDue(ctx)
	if err != nil || !ok {
		return time.Time{}, err
	}
	return next, nil
}

func (d *Dispatcher) place(ctx context.Context, queued []berth.Job, now time.Time) error {
	nodes, err := d.store.Nodes(ctx)
	if err != nil {
		return err
	}
	plan := scheduler.Place(scheduler.Snapshot{Nodes: nodes, Queued: queued})
	if len(plan.Placements) > 0 {
		ps := make([]store.Placement, len(plan.Placements))
		for i, p := range plan.Placements {
			ps[i] = store.Placement{JobID: p.JobID, JobVersion: p.JobVersion, NodeID: p.NodeID, AttemptID: berth.NewID("att", now)}
		}
		done, err := d.store.Place(ctx, ps, now)
		if err != nil {
			return err
		}
		woken := map[string]bool{}
		for _, p := range done {
			if !woken[p.NodeID] {
				d.notifier.Notify(p.NodeID)
				woken[p.NodeID] = true
			}
		}
		if len(done) < len(ps) {
			d.Kick() // some placements were stale: decide again from fresh state
		}
	}
	if len(plan.Reasons) > 0 {
		return d.store.SetReasons(ctx, plan.Reasons, now)
	}
	return nil
}
