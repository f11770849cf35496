package sim

import (
	"container/heap"
	"context"
	"math/rand/v2"
	"slices"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/autoscale"
	"github.com/berth-run/berth/internal/config"
	"github.com/berth-run/berth/internal/cost"
	"github.com/berth-run/berth/internal/provider/fakecloud"
	"github.com/berth-run/berth/internal/scheduler"
)

// Intervals of the simulated control loops.
const (
	tickEvery       = 15 * time.Second // the autoscale loop, and budget checks
	unavailableFor  = 5 * time.Minute  // a type that ran out of capacity is avoided this long
	dispatchWindow  = 10000            // queued jobs one round considers, as the dispatch loop
	overtime        = 24 * time.Hour   // past the horizon, unfinished jobs get this long before they count as lost
	progressEvery   = 1 << 12
	batchMaxRetries = 3
)

type jobState int

const (
	jobPending jobState = iota // not submitted yet
	jobQueued
	jobRunning
	jobDone
	jobLost
)

// sjob is a job in the simulation.
type sjob struct {
	Job
	state      jobState
	since      time.Time // queued since
	host       *host     // while running on a host
	serverless bool      // while running on the overflow runner
	attempt    int
	startedAt  time.Time
	firstStart time.Time
	finished   time.Time
	requeued   int
	retries    int
	warm       bool  // a ready host had room for it when it came
	dedicated  *host // a host launched for it
	bj         berth.Job
	pin        string // the pool the deadline policy sent it to this round
	moves      int    // moves to on-demand by the deadline policy
	rec        int    // its current attempt in the run's records
}

type hostState int

const (
	hostLaunching hostState = iota
	hostReady
	hostDraining
	hostGone
)

// host is an instance of the fake cloud, as the simulated control plane
// knows it.
type host struct {
	id          string
	pool        *spool
	typ         berth.InstanceType
	state       hostState
	drainReason string
	launchedAt  time.Time
	readyAt     time.Time
	endAt       time.Time
	running     []*sjob
	usedCPU     float64
	usedMem     int64
	idleSince   time.Time // when it last became idle; zero while busy
	idleHours   float64
	forJob      *sjob
	noticed     bool
	rebalanced  bool
	price       cost.Price
	attempts    int       // attempts it ran
	workCPU     float64   // vCPU-hours of the attempts it ran
	lostCPU     float64   // of which attempts that did not succeed
	lastBusy    time.Time // when its last attempt ended
}

func (h *host) live() bool { return h.state != hostGone }

// spool is a pool of the simulation.
type spool struct {
	spec   berth.PoolSpec
	api    *fakecloud.Pool
	window *config.Window
	live   int // hosts alive
}

func (p *spool) open(t time.Time) bool {
	if p.window == nil {
		return true
	}
	open, _ := p.window.Open(t)
	return open
}

type evKind int

const (
	evArrive evKind = iota
	evFinish
	evCloud
	evTick
	evReclaim
)

type event struct {
	t       time.Time
	seq     int
	kind    evKind
	job     *sjob
	attempt int
	n       int
}

type evHeap []event

func (h evHeap) Len() int { return len(h) }
func (h evHeap) Less(i, j int) bool {
	if !h[i].t.Equal(h[j].t) {
		return h[i].t.Before(h[j].t)
	}
	return h[i].seq < h[j].seq
}
func (h evHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *evHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *evHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// engine runs one policy over one workload in virtual time.
type engine struct {
	sc    *Scenario
	pol   *policy
	dl    *deadlines // berth's deadline policy; nil for the baselines
	rng   *rand.Rand
	now   time.Time
	limit time.Time

	events evHeap
	seq    int

	cloud   *fakecloud.Cloud
	pools   []*spool
	byName  map[string]*spool
	hosts   []*host // every host ever launched, in launch order
	live    []*host // the hosts alive now, in launch order
	byID    map[string]*host
	cluster *scheduler.Cluster
	avoid   autoscale.Avoidance    // types out of capacity or being reclaimed
	notices map[string][]time.Time // pool/type → when its hosts got notices

	jobs      []*sjob
	jobByID   map[string]*sjob
	queue     []*sjob
	remaining int // jobs not done or lost
	waiting   []*sjob
	buf       []berth.Job

	// claims is the room the jobs that came at this instant take on ready
	// hosts, until the dispatch round places them.
	claims  map[*host][2]float64
	claimed bool // the queue's jobs have claimed theirs

	queueDirty, scaleDue bool
	cloudDirty           bool      // the cloud may have changed since the last sync
	cloudAt              time.Time // the cloud event scheduled, if any

	st       stats
	progress func(float64)
	nEvents  int
}

// stats are what a run measured.
type stats struct {
	hostUSD, serverlessUSD float64
	interruptions          int
	maxHosts               int
	busyTerminations       int
	overflowed             int
	// Placements that broke an invariant: on a host without room, or on
	// one that takes no work. A correct scheduler makes none.
	overcommits, badPlacements int
	ledger                     cost.Ledger
	attempts                   []AttemptRecord
}

func (e *engine) push(ev event) {
	e.seq++
	ev.seq = e.seq
	heap.Push(&e.events, ev)
}

// run runs the simulation to its end, or until ctx ends.
func (e *engine) run(ctx context.Context) error {
	for _, j := range e.jobs {
		e.push(event{t: j.Submit, kind: evArrive, job: j})
	}
	e.push(event{t: e.sc.Start, kind: evTick})
	for i, r := range e.sc.Reclaims {
		e.push(event{t: e.sc.Start.Add(time.Duration(r.At)), kind: evReclaim, n: i})
	}
	e.pol.start(e)
	end := e.sc.Start.Add(time.Duration(e.sc.Horizon))
	for len(e.events) > 0 {
		ev := heap.Pop(&e.events).(event)
		if ev.t.After(e.limit) {
			break
		}
		if !ev.t.Before(end) && e.remaining == 0 {
			// Every job is done and the horizon is reached: the run ends
			// at the horizon, or now if it went past it.
			if e.now.Before(end) {
				e.now = end
			}
			break
		}
		e.now = ev.t
		e.handle(ev)
		if len(e.events) == 0 || e.events[0].t.After(e.now) {
			e.settle()
		}
		if e.nEvents++; e.nEvents%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if e.progress != nil {
				e.progress(min(float64(e.now.Sub(e.sc.Start))/float64(end.Sub(e.sc.Start)), 1))
			}
		}
	}
	e.close()
	return nil
}

func (e *engine) handle(ev event) {
	switch ev.kind {
	case evArrive:
		j := ev.job
		if !e.placeable(j) {
			j.state = jobLost // nothing the policy has can ever run it
			e.remaining--
			return
		}
		j.warm = e.fitsReadyHost(j)
		e.enqueue(j)
	case evFinish:
		if j := ev.job; j.state == jobRunning && j.attempt == ev.attempt {
			e.finish(j)
		}
	case evCloud:
		e.cloudAt = time.Time{}
		e.cloudDirty = true
	case evTick:
		e.scaleDue = true
		if len(e.queue) > 0 {
			e.queueDirty = true
		}
		if e.remaining > 0 || e.now.Before(e.sc.Start.Add(time.Duration(e.sc.Horizon))) {
			e.push(event{t: e.now.Add(tickEvery), kind: evTick})
		}
	case evReclaim:
		e.reclaim(e.sc.Reclaims[ev.n].Fraction)
	}
}

// settle brings the control plane up to date at the end of an instant:
// it reads the cloud, places work, scales, and reads the cloud again.
func (e *engine) settle() {
	if e.cloudDirty {
		e.sync()
	}
	if e.queueDirty {
		e.dispatch()
	}
	if e.scaleDue && e.pol.scale != nil {
		if e.dl != nil && e.dl.weigh(e) {
			e.dispatch() // moved jobs join the queue before the fleet scales
		}
		e.scaleDue = false
		e.autoscale()
		if e.cloudDirty {
			e.sync()
		}
		if e.queueDirty {
			e.dispatch()
		}
	}
	e.st.maxHosts = max(e.st.maxHosts, len(e.live))
	if next := e.cloud.NextChange(e.now); !next.IsZero() && (e.cloudAt.IsZero() || next.Before(e.cloudAt)) {
		e.cloudAt = next
		e.push(event{t: next, kind: evCloud})
	}
}

// fitsReadyHost reports whether a ready host of j's pool has room for j
// now, after the jobs that came before it at this instant took theirs:
// whether j fits a warm host.
func (e *engine) fitsReadyHost(j *sjob) bool {
	if e.claims == nil {
		e.claims = map[*host][2]float64{}
	}
	if !e.claimed {
		// The jobs queued before it come first.
		e.claimed = true
		if len(e.queue) > warmQueueLimit {
			return false
		}
		for _, q := range e.queue {
			e.claimOrHold(q)
		}
	}
	return e.claimOrHold(j)
}

// claimOrHold claims room for j, or else holds a host for it as placement
// reserves one, when no pool can add capacity for it.
func (e *engine) claimOrHold(j *sjob) bool {
	if e.claim(j) {
		return true
	}
	if !e.pol.placementPools || !e.canGrow(j) {
		e.hold(j)
	}
	return false
}

// placeable reports whether some instance type of a pool j may use, or
// the overflow runner, could ever run j.
func (e *engine) placeable(j *sjob) bool {
	for _, p := range e.pools {
		if p.spec.IsServerless() {
			if e.pol.placementPools && p.spec.Fits(j.CPU, j.MemoryMB) {
				return true
			}
			continue
		}
		if (j.Pool == "" || p.spec.Name == j.Pool) && p.spec.Fits(j.CPU, j.MemoryMB) {
			return true
		}
	}
	return false
}

// canGrow reports whether a pool j may use could launch a host for it.
func (e *engine) canGrow(j *sjob) bool {
	for _, p := range e.pools {
		if p.api == nil || (j.Pool != "" && p.spec.Name != j.Pool) || !p.open(e.now) || e.liveHosts(p) >= p.spec.Max {
			continue
		}
		for _, t := range p.spec.InstanceTypes {
			if j.CPU <= t.CPU+1e-9 && j.MemoryMB <= t.MemoryMB && !e.unavailable(p, t.Name) {
				return true
			}
		}
	}
	return false
}

func (e *engine) liveHosts(p *spool) int { return p.live }

// warmQueueLimit bounds the queue fitsReadyHost weighs: behind a longer one,
// no job counts as fitting a warm host.
const warmQueueLimit = 2000

// hold takes all the room of the ready host of j's pool that could fit j
// and is nearest to having room for it: placement holds such a node for a
// job that waits, so that smaller jobs behind it cannot starve it.
func (e *engine) hold(j *sjob) {
	var best *host
	bestShort := 0.0
	for _, h := range e.live {
		if h.state != hostReady || h.forJob != nil || (j.Pool != "" && h.pool.spec.Name != j.Pool) ||
			j.CPU > h.typ.CPU+1e-9 || j.MemoryMB > h.typ.MemoryMB {
			continue
		}
		c := e.claims[h]
		short := max((h.usedCPU+c[0]+j.CPU-h.typ.CPU)/h.typ.CPU, (float64(h.usedMem)+c[1]+float64(j.MemoryMB)-float64(h.typ.MemoryMB))/float64(h.typ.MemoryMB))
		if best == nil || short < bestShort {
			best, bestShort = h, short
		}
	}
	if best != nil {
		e.claims[best] = [2]float64{best.typ.CPU, float64(best.typ.MemoryMB)}
	}
}

// claim takes room for j on the ready host of its pool where it fits
// best, as placement does (the least free CPU left, then memory).
func (e *engine) claim(j *sjob) bool {
	var best *host
	var bestC, bestM float64
	for _, h := range e.live {
		if h.state != hostReady || h.forJob != nil || (j.Pool != "" && h.pool.spec.Name != j.Pool) {
			continue
		}
		c := e.claims[h]
		fc, fm := h.typ.CPU-h.usedCPU-c[0]-j.CPU, float64(h.typ.MemoryMB-h.usedMem)-c[1]-float64(j.MemoryMB)
		if fc < -1e-9 || fm < 0 {
			continue
		}
		if best == nil || fc < bestC || (fc == bestC && fm < bestM) {
			best, bestC, bestM = h, fc, fm
		}
	}
	if best == nil {
		return false
	}
	c := e.claims[best]
	e.claims[best] = [2]float64{c[0] + j.CPU, c[1] + float64(j.MemoryMB)}
	return true
}

// enqueue puts j in the queue: priority first, then the time it joined.
func (e *engine) enqueue(j *sjob) {
	j.state, j.since = jobQueued, e.now
	j.bj.CreatedAt = e.now
	j.bj.Version++
	i, _ := slices.BinarySearchFunc(e.queue, j, func(a, b *sjob) int {
		if a.Priority != b.Priority {
			return b.Priority - a.Priority
		}
		if c := a.since.Compare(b.since); c != 0 {
			return c
		}
		return -1 // j goes after the jobs that joined at the same moment
	})
	e.queue = slices.Insert(e.queue, i, j)
	e.queueDirty = true
}

// start runs j on h.
func (e *engine) start(j *sjob, h *host) {
	if h.state != hostReady || (h.forJob != nil && h.forJob != j) {
		e.st.badPlacements++
	}
	if h.usedCPU+j.CPU > h.typ.CPU+1e-9 || h.usedMem+j.MemoryMB > h.typ.MemoryMB {
		e.st.overcommits++
	}
	j.state, j.host = jobRunning, h
	j.attempt++
	j.startedAt = e.now.Add(e.pol.startDelay)
	if j.firstStart.IsZero() {
		j.firstStart = j.startedAt
	}
	if len(h.running) == 0 {
		e.endIdle(h)
	}
	e.beginAttempt(j, h.pool)
	h.running = append(h.running, j)
	h.attempts++
	h.usedCPU += j.CPU
	h.usedMem += j.MemoryMB
	e.push(event{t: j.startedAt.Add(j.Run), kind: evFinish, job: j, attempt: j.attempt})
}

// stop takes j off its host.
func (e *engine) stop(j *sjob) {
	h := j.host
	if h == nil {
		return
	}
	j.host = nil
	if e.now.After(j.startedAt) {
		ran := j.CPU * e.now.Sub(j.startedAt).Hours()
		h.workCPU += ran
		if j.state != jobDone {
			h.lostCPU += ran
		}
	}
	h.running = slices.DeleteFunc(h.running, func(x *sjob) bool { return x == j })
	h.usedCPU -= j.CPU
	h.usedMem -= j.MemoryMB
	if len(h.running) == 0 {
		h.usedCPU, h.usedMem = 0, 0
		h.idleSince, h.lastBusy = e.now, e.now
	}
	if h.live() {
		e.cluster.Release(h.id, j.CPU, j.MemoryMB)
	}
	if h.forJob == j && j.state == jobDone {
		e.scaleDue = true
	}
}

func (e *engine) endIdle(h *host) {
	if !h.idleSince.IsZero() {
		h.idleHours += e.now.Sub(h.idleSince).Hours()
		h.idleSince = time.Time{}
	}
}

// finish ends j's attempt: the job succeeded.
func (e *engine) finish(j *sjob) {
	e.endAttempt(j, AttemptSucceeded)
	j.state, j.finished = jobDone, e.now
	e.remaining--
	if j.serverless {
		j.serverless = false
		return
	}
	e.stop(j)
	e.queueDirty = true
}

// requeue ends j's attempt, lost to the infrastructure.
func (e *engine) requeue(j *sjob) {
	e.endAttempt(j, AttemptRequeued)
	e.stop(j)
	if e.pol.reclaimSpendsRetry {
		if j.retries++; j.retries >= batchMaxRetries {
			j.state = jobLost
			e.remaining--
			return
		}
	} else if j.requeued++; j.requeued > berth.MaxRequeues {
		j.state = jobLost
		e.remaining--
		return
	}
	e.enqueue(j)
}

// runServerless starts j on the overflow runner p.
func (e *engine) runServerless(j *sjob, p *spool) {
	lat := fakecloud.DrawLatency(e.rng, fakecloud.DefaultMinStartLatency, fakecloud.DefaultMaxStartLatency)
	j.state, j.serverless = jobRunning, true
	j.attempt++
	j.startedAt = e.now.Add(lat)
	if j.firstStart.IsZero() {
		j.firstStart = j.startedAt
	}
	e.beginAttempt(j, p)
	usd := cost.Serverless(*p.spec.Serverless, j.CPU, j.MemoryMB, lat+j.Run)
	e.st.serverlessUSD += usd
	e.st.overflowed++
	e.st.ledger = append(e.st.ledger, cost.Line{Pool: p.spec.Name, Market: berth.OnDemand, JobID: j.ID, Start: e.now, End: j.startedAt.Add(j.Run), USD: usd})
	e.push(event{t: j.startedAt.Add(j.Run), kind: evFinish, job: j, attempt: j.attempt})
}

// beginAttempt records that j's attempt starts in pool p.
func (e *engine) beginAttempt(j *sjob, p *spool) {
	j.rec = len(e.st.attempts)
	m := p.spec.Market
	if m == "" || p.spec.IsServerless() {
		m = berth.OnDemand
	}
	e.st.attempts = append(e.st.attempts, AttemptRecord{JobID: j.ID, Pool: p.spec.Name, Market: m, Started: j.startedAt})
}

// endAttempt records that j's attempt ends now, so.
func (e *engine) endAttempt(j *sjob, end AttemptEnd) {
	a := &e.st.attempts[j.rec]
	a.Ended, a.End = e.now, end
}

// close ends the run: live hosts are paid for up to now, unfinished jobs
// are lost.
func (e *engine) close() {
	for _, h := range e.live {
		if h.live() {
			h.endAt = e.now
			e.bill(h)
		}
	}
	for _, j := range e.jobs {
		if j.state != jobDone && j.state != jobLost {
			j.state = jobLost
		}
	}
}

// bill prices a host that has ended.
func (e *engine) bill(h *host) {
	if !h.idleSince.IsZero() && h.endAt.After(h.idleSince) {
		h.idleHours += h.endAt.Sub(h.idleSince).Hours()
		h.idleSince = time.Time{}
	}
	usd := cost.Instance(h.price, h.launchedAt, h.endAt)
	e.st.hostUSD += usd
	e.st.ledger = append(e.st.ledger, cost.Line{Pool: h.pool.spec.Name, Market: h.pool.spec.Market, Start: h.launchedAt, End: h.endAt, USD: usd})
}
