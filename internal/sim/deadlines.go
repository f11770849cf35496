package sim

import (
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/deadline"
	"github.com/berth-run/berth/internal/fleetview"
)

// As the server's defaults (control.DeadlineConfig).
const (
	deadlineStep    = time.Minute      // how far ahead the safety net looks
	deadlineRestart = 30 * time.Second // a changeover's pull and start, beyond a boot
	spotSteady      = 10 * time.Minute // Spot held this long counts as there for a job on on-demand
)

// deadlines runs berth's deadline policy over the simulated fleet as the
// server does: at each dispatch round it routes each queued job that has
// a deadline, and whose pool the scenario does not pin, to the Spot or the
// on-demand pool (or holds it); when the fleet is weighed it moves the
// running Spot jobs the safety net says must move to on-demand. A job's
// expected duration is its run time, as if its user had given it.
type deadlines struct {
	policy deadline.Policy
	// watch follows every Spot pool as the server's fleet loop does.
	watch map[*spool]*deadline.SpotWatch
	// view is the fleet as the round sees it, read at the round's first
	// offer; offers caches what it offers a job shape.
	view   *fleetview.View
	offers map[[2]float64]deadline.Offer
}

func newDeadlines(p deadline.Policy) *deadlines {
	return &deadlines{policy: p, watch: map[*spool]*deadline.SpotWatch{}, offers: map[[2]float64]deadline.Offer{}}
}

// round starts a round: what the fleet offers is read afresh.
func (d *deadlines) round() {
	d.view = nil
	clear(d.offers)
}

// route returns j as the dispatch round places it: pinned to the pool of
// the market the policy chooses, or as it is when there is nothing to
// weigh. hold reports that the policy keeps it waiting for Spot.
func (d *deadlines) route(e *engine, j *sjob) (bj berth.Job, hold bool) {
	j.pin = ""
	if !fleetview.Governs(&j.bj) {
		return j.bj, false
	}
	o := d.offer(e, j)
	if !fleetview.Routes(o) {
		return j.bj, false
	}
	pool, wait := deadline.Route(d.policy, d.state(e, j, o), o)
	if wait || pool == "" {
		return j.bj, wait
	}
	j.pin = pool
	bj = j.bj
	bj.Pool = pool // the policy's choice reaches the scheduler in the job it is given
	return bj, false
}

// weigh records what the Spot pools offer and moves the running Spot jobs
// the policy moves to on-demand: each is stopped and queued again, moved,
// spending neither a retry nor a re-queue. It reports whether it moved
// any.
func (d *deadlines) weigh(e *engine) bool {
	d.see(e)
	d.round()
	var moves []*sjob
	for _, h := range e.live {
		if h.pool.spec.Market != berth.Spot || h.noticed {
			continue
		}
		for _, j := range h.running {
			if !fleetview.Governs(&j.bj) {
				continue
			}
			o := d.offer(e, j)
			if !fleetview.Routes(o) {
				continue
			}
			s := d.state(e, j, o)
			if deadline.Move(d.policy, s, o, spotSteady, !j.startedAt.After(e.now), e.now) == berth.OnDemand {
				moves = append(moves, j)
			}
		}
	}
	for _, j := range moves {
		e.move(j)
	}
	return len(moves) > 0
}

// see records, for every Spot pool, whether it could have capacity now
// (fleetview.Pool.SpotUp), as the server's fleet loop does each round.
func (d *deadlines) see(e *engine) {
	v := e.view(false)
	for i, p := range e.pools {
		if p.spec.Market != berth.Spot || p.api == nil {
			continue
		}
		w := d.watch[p]
		if w == nil {
			w = &deadline.SpotWatch{}
			d.watch[p] = w
		}
		w.See(v.Pools[i].SpotUp(), e.now)
	}
}

// state is what the policy knows of j now: its run time is its expected
// duration, it keeps no progress across a changeover, and its attempt on a
// host runs on that host's market.
func (d *deadlines) state(e *engine, j *sjob, o deadline.Offer) deadline.State {
	dl := j.Deadline
	bj := berth.Job{JobSpec: berth.JobSpec{Deadline: &dl, ExpectedDuration: berth.Duration(j.Run), Checkpoint: berth.CheckpointNone},
		CreatedAt: j.Submit}
	var cur *berth.Attempt
	var m berth.Market
	if j.state == jobRunning && j.host != nil {
		a := berth.Attempt{CreatedAt: j.startedAt.Add(-e.pol.startDelay)}
		if !j.startedAt.After(e.now) {
			a.StartedAt = &j.startedAt
		}
		bj.Attempts = []berth.Attempt{a}
		cur, m = &bj.Attempts[0], j.host.pool.spec.Market
	}
	return deadline.JobState(&bj, cur, m, o.Changeover, deadlineRestart, deadlineStep, e.now)
}

// offer returns what the fleet offers j now (fleetview.View.Offer), as
// the server's dispatcher reads it.
func (d *deadlines) offer(e *engine, j *sjob) deadline.Offer {
	shape := [2]float64{j.CPU, float64(j.MemoryMB)}
	if o, ok := d.offers[shape]; ok {
		return o
	}
	if d.view == nil {
		v := e.view(false)
		d.view = &v
	}
	o := d.view.Offer(&j.bj, deadlineRestart)
	d.offers[shape] = o
	return o
}

// move stops j's attempt on Spot and queues j again for on-demand. The
// move spends neither a retry nor a re-queue.
// A Spot host launched for j is no longer held for it: j is to run on
// on-demand.
func (e *engine) move(j *sjob) {
	h := j.host
	e.endAttempt(j, AttemptMoved)
	e.stop(j)
	j.moves++
	for _, d := range []*host{h, j.dedicated} {
		if d != nil && d.forJob == j && d.pool.spec.Market == berth.Spot {
			e.undedicate(d)
		}
	}
	e.enqueue(j)
}

// undedicate makes h, launched for one job, a host like the others.
func (e *engine) undedicate(h *host) {
	if h.forJob.dedicated == h {
		h.forJob.dedicated = nil
	}
	h.forJob = nil
	if h.state == hostReady || h.state == hostDraining {
		e.cluster.Set(h.node(), "")
	}
}
