package control

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/cost"
	"github.com/berth-run/berth/internal/scheduler"
	"github.com/berth-run/berth/internal/store"
)

// DispatchConfig tunes the dispatch loop; zero fields mean the default.
type DispatchConfig struct {
	// Interval is the longest the loop sleeps without a kick.
	Interval time.Duration // default 1s
	// Window is how many queued jobs one round considers, in order.
	Window int // default 10000
	// Deadlines tunes how jobs with a deadline are run on a fleet with
	// Spot pools.
	Deadlines DeadlineConfig
}

// Dispatcher is the loop that releases due jobs and places queued ones.
// It runs a round at once when kicked (a job was submitted, capacity
// freed), so that work starts within milliseconds.
type Dispatcher struct {
	cfg      DispatchConfig
	store    *store.Store
	notifier *Notifier
	log      *slog.Logger
	wake     wakeup
	fleet    *Fleet // nil: the nodes alone, no pools
	// deadlines places jobs with a deadline on Spot or on-demand; nil
	// without a fleet that has a Spot pool.
	deadlines *deadlines

	// mu guards reasonsAt and movesAt.
	mu sync.Mutex
	// reasonsAt is when waiting jobs' reasons were last written: they are
	// written at most once a ReasonEvery, so that a busy queue does not
	// rewrite hundreds of rows on every placement.
	reasonsAt time.Time
	// movesAt is when running jobs with a deadline were last weighed, at
	// most once a ReasonEvery too.
	movesAt time.Time
}

// ReasonEvery is how often the reasons of waiting jobs are written.
const ReasonEvery = time.Second

// NewDispatcher returns a dispatch loop over s that wakes agents through n.
func NewDispatcher(cfg DispatchConfig, s *store.Store, n *Notifier, log *slog.Logger) *Dispatcher {
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	if cfg.Window == 0 {
		cfg.Window = 10000
	}
	return &Dispatcher{cfg: cfg, store: s, notifier: n, log: log, wake: newWakeup()}
}

// UseFleet makes placement weigh the fleet's pools: their windows, the
// hosts on their way, host requests for jobs larger than any host and
// overflow to serverless pools; the work left waiting goes to the fleet's
// autoscaler; when the fleet has a Spot pool, jobs with a deadline run on
// Spot or on-demand as the deadline policy decides. Call it before Run.
func (d *Dispatcher) UseFleet(f *Fleet) {
	d.fleet = f
	for _, p := range f.pools {
		if p.Spec.Market == berth.Spot && p.Provider != nil {
			d.deadlines = &deadlines{cfg: d.cfg.Deadlines.withDefaults(), fleet: f}
			break
		}
	}
}

// Kick asks for a round as soon as possible. It never blocks; kicks during
// a round coalesce into one more round.
func (d *Dispatcher) Kick() {
	d.wake.kick()
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
	if due, ok, err := d.store.NextDue(ctx); err != nil {
		return time.Time{}, err
	} else if ok && !due.After(now) {
		if _, err := d.store.ReleaseDue(ctx, now); err != nil {
			return time.Time{}, err
		}
	}
	if d.deadlines != nil && d.every(&d.movesAt, now) {
		if err := d.moveRunning(ctx, now); err != nil {
			return time.Time{}, err
		}
	}
	queued, err := d.store.Queued(ctx, d.cfg.Window)
	if err != nil {
		return time.Time{}, err
	}
	if len(queued) > 0 {
		if err := d.place(ctx, queued, now); err != nil {
			return time.Time{}, err
		}
	} else if d.fleet != nil {
		d.fleet.demand(scheduler.Plan{}, nil)
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
	var held map[string]string // jobs the deadline policy keeps waiting
	if d.deadlines != nil {
		if queued, held, err = d.deadlines.queued(ctx, d.store, queued, now); err != nil {
			return err
		}
	}
	snap := scheduler.Snapshot{Nodes: nodes, Queued: queued, Now: now}
	if d.fleet != nil {
		if snap.Pools, snap.Dedicated, err = d.fleet.placement(ctx, now, nodes); err != nil {
			return err
		}
		// A serverless pool's node takes only the jobs sent to it.
		snap.Nodes = slices.DeleteFunc(nodes, func(n berth.Node) bool { return d.fleet.serverless(n.Pool) })
	}
	plan := scheduler.Place(snap)
	ps := make([]store.Placement, 0, len(plan.Placements)+len(plan.Overflow))
	for _, p := range plan.Placements {
		ps = append(ps, store.Placement{JobID: p.JobID, JobVersion: p.JobVersion, NodeID: p.NodeID, AttemptID: berth.NewID("att", now)})
	}
	onNodes := len(ps)
	if len(plan.Overflow) > 0 {
		ps = append(ps, d.overflow(plan.Overflow, queued, now)...)
	}
	if len(ps) > 0 {
		done, err := d.store.Place(ctx, ps, now)
		if err != nil {
			return err
		}
		woken := map[string]bool{}
		placed := 0
		for _, p := range done {
			if !woken[p.NodeID] {
				d.notifier.Notify(p.NodeID)
				woken[p.NodeID] = true
			}
			if p.Held == nil {
				placed++
			}
		}
		if placed < onNodes {
			d.Kick() // some placements were stale: decide again from fresh state
		}
	}
	if d.fleet != nil {
		d.fleet.demand(plan, queued)
	}
	if len(held) > 0 {
		if plan.Reasons == nil {
			plan.Reasons = map[string]string{}
		}
		maps.Copy(plan.Reasons, held)
	}
	if d.fleet != nil && len(plan.Reasons) > 0 {
		d.fleet.explain(plan.Reasons, queued, now)
	}
	if len(plan.Reasons) == 0 || !d.every(&d.reasonsAt, now) {
		return nil
	}
	return d.store.SetReasons(ctx, plan.Reasons, now)
}

// every reports whether ReasonEvery has passed since *last, and if so sets
// *last to now.
func (d *Dispatcher) every(last *time.Time, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if now.Sub(*last) < ReasonEvery && !now.Before(*last) {
		return false
	}
	*last = now
	return true
}

// overflow places the jobs sent to serverless pools on those pools' nodes,
// each holding a container at the pool's price.
func (d *Dispatcher) overflow(os []scheduler.Overflow, queued []berth.Job, now time.Time) []store.Placement {
	byID := make(map[string]*berth.Job, len(os))
	for i := range queued {
		byID[queued[i].ID] = &queued[i]
	}
	var ps []store.Placement
	for _, o := range os {
		node, spec := d.fleet.serverlessNode(o.Pool)
		j := byID[o.JobID]
		if node == "" || j == nil {
			continue
		}
		held := store.Held{Pool: spec.Name, Market: berth.OnDemand, Share: 1,
			Price: cost.Serverless(*spec.Serverless, j.CPU, j.MemoryMB, time.Hour)}
		ps = append(ps, store.Placement{JobID: o.JobID, JobVersion: o.JobVersion, NodeID: node,
			AttemptID: berth.NewID("att", now), Held: &held, Why: o.Why})
	}
	return ps
}
