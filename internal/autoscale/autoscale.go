// Package autoscale decides, per pool, when to add and remove hosts. It is
// pure: Decide takes a snapshot of the pools, their hosts and the jobs
// waiting for capacity, and returns actions; it does no I/O and reads no
// clock. The autoscale loop applies them through a provider.Pool; the
// simulator applies them to the fake cloud.
//
// The signal is, per pool, how many of the largest waiting job shapes its
// free capacity (hosts on their way included) could still take. Below one
// the pool grows by hosts sized to the waiting work: the cheapest offering
// per unit of work packed, with Spot spread over the near-cheapest types.
// A host idle for the pool's scale-in delay is drained and then terminated
// while the pool stays above its minimum and nothing waits that it could
// take; a host that runs work is never terminated. An on-demand host
// above its pool's minimum is drained while nothing waits for its pool and
// another pool sells capacity it could take for much less (an on-demand
// pool behind a Spot one holds hosts only while Spot cannot serve).
// Outside its window a pool drains and scales to zero. OnNotice decides what a Spot
// interruption notice does.
package autoscale

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	berth "github.com/berth-run/berth"
)

// HostState is where a host is, as the autoscaler sees it.
type HostState string

// The states of a host.
const (
	Launching HostState = "launching" // launched, not joined yet
	Ready     HostState = "ready"
	Draining  HostState = "draining" // takes no new work
)

// Drain reasons the autoscaler gives and reads.
const (
	DrainScaleIn      = "scale-in"
	DrainWindow       = "window closed"
	DrainInterruption = "spot interruption"
	DrainRebalance    = "spot rebalance recommendation"
	// DrainCheaper drains an on-demand host while a cheaper pool could
	// take its work: it finishes what it runs and goes, and new work goes
	// to the cheaper capacity.
	DrainCheaper = "cheaper capacity available"
)

// Host is one host of a pool.
type Host struct {
	ID           string
	InstanceType string
	CPU          float64
	MemoryMB     int64
	UsedCPU      float64
	UsedMemoryMB int64
	Attempts     int // active attempts on it
	State        HostState
	DrainReason  string
	LaunchedAt   time.Time
	// IdleSince is when it last became idle (its last attempt ended, or it
	// joined); zero while it runs work.
	IdleSince time.Time
	// Pinned counts its active attempts of jobs pinned to its pool.
	Pinned int
	// ForJob is set on a host launched for one job; JobDone says that job
	// no longer needs it.
	ForJob  string
	JobDone bool
}

// Busy reports whether the host runs work.
func (h *Host) Busy() bool { return h.Attempts > 0 || h.UsedCPU > 0 || h.UsedMemoryMB > 0 }

// Offering is an instance type a pool may launch now.
type Offering struct {
	InstanceType string
	CPU          float64
	MemoryMB     int64
	Price        float64 // current, USD per hour
	// Unavailable marks a type that recently failed to launch for want of
	// capacity.
	Unavailable bool
	// InterruptionRate is how often Spot has recently taken hosts of this
	// type back: notices per instance-hour. Zero for on-demand, or with no
	// history.
	InterruptionRate float64
	// Outage is how long this type's Spot capacity has typically stayed
	// out once gone: the mean of the outages observed. Zero when unknown.
	Outage time.Duration
}

// Pool is one pool now.
type Pool struct {
	Spec      berth.PoolSpec // with defaults
	Open      bool           // inside its window (always, without one)
	Offerings []Offering
	Hosts     []Host
}

// Waiting is a job placement left waiting for capacity.
type Waiting struct {
	JobID    string
	CPU      float64
	MemoryMB int64
	// Pool, when set, is the only pool that grows for the job.
	Pool string
	// Reclaimed counts the times Spot took the job back. From
	// SpotRetreatAfter on, an on-demand pool that fits it grows for it
	// rather than a Spot one.
	Reclaimed int
	// Since is when the job joined the queue.
	Since time.Time
	// Patient marks a job nobody waits on: it has no deadline and no
	// start budget. While every Spot type that fits it is out of
	// capacity, it waits for Spot (see spotPatience) rather than grow an
	// on-demand pool.
	Patient bool
}

// SpotRetreatAfter is how many Spot reclaims a job takes before the
// pools that grow for it are on-demand ones, where there is one: a long
// job that Spot keeps taking back would otherwise run out of re-queues.
const SpotRetreatAfter = 2

// Snapshot is what Decide decides from.
type Snapshot struct {
	Now     time.Time
	Pools   []Pool    // in configuration order
	Waiting []Waiting // in dispatch order
}

// ActionKind says what an action does.
type ActionKind string

// The kinds of action.
const (
	Launch    ActionKind = "launch"
	Drain     ActionKind = "drain"
	Undrain   ActionKind = "undrain"
	Terminate ActionKind = "terminate"
)

// Action is one thing to do to a pool.
type Action struct {
	Kind         ActionKind
	Pool         string
	InstanceType string       // Launch
	Market       berth.Market // Launch
	// Alternatives (Launch) are types as good for the work, which a
	// provider may launch instead when InstanceType has no capacity.
	Alternatives []string
	Host         string // Drain, Undrain, Terminate
	Reason       string
}

// Metric is the published signal of a pool.
type Metric struct {
	Pool string
	// Schedulable is how many of the largest waiting job shapes the pool's
	// free capacity, hosts on their way included, could still take; with
	// nothing waiting, how many jobs of the default shape.
	Schedulable float64
	// ShapeCPU and ShapeMemoryMB are the shape counted.
	ShapeCPU      float64
	ShapeMemoryMB int64
	Waiting       int // jobs waiting for this pool
	Hosts         int // live hosts, launching and draining ones included
}

// Plan is what Decide returns.
type Plan struct {
	Actions []Action
	Metrics []Metric
}

// Decide returns the actions that bring every pool to the capacity its
// waiting work needs.
func Decide(s Snapshot) Plan {
	var plan Plan
	demand := assign(s)
	for i := range s.Pools {
		p := &s.Pools[i]
		if p.Spec.IsServerless() || p.Spec.Provider == berth.ProviderLocal {
			continue
		}
		d := decider{now: s.Now, p: p, waiting: demand[i], cheaper: cheaperUnit(s, i)}
		d.run()
		plan.Actions = append(plan.Actions, d.actions...)
		plan.Metrics = append(plan.Metrics, d.metric)
	}
	return plan
}

// assign gives each waiting job to the pool that grows for it: its own
// pool, or among the open pools with an offering that fits it, one whose
// hosts have room for it (capacity on its way), then one that may grow,
// then the one whose fitting offerings cost least per unit of work.
func assign(s Snapshot) [][]Waiting {
	out := make([][]Waiting, len(s.Pools))
	byName := make(map[string]int, len(s.Pools))
	for i := range s.Pools {
		byName[s.Pools[i].Spec.Name] = i
	}
	type rank struct {
		noRoom, full int
		price        float64
	}
	for _, w := range s.Waiting {
		if w.Pool != "" {
			if i, ok := byName[w.Pool]; ok {
				out[i] = append(out[i], w)
			}
			continue
		}
		best, bestRank := -1, rank{}
		retreat := w.Reclaimed >= SpotRetreatAfter && onDemandFits(s, w)
		wait := !retreat && waitsForSpot(s, w)
		for i := range s.Pools {
			p := &s.Pools[i]
			if p.Spec.IsServerless() || p.Spec.Provider == berth.ProviderLocal || !p.Open ||
				(retreat && p.Spec.Market == berth.Spot) || (wait && p.Spec.Market != berth.Spot) {
				continue
			}
			o := cheapestFit(p.Offerings, w.CPU, w.MemoryMB)
			if o < 0 {
				continue
			}
			r := rank{noRoom: 1, price: unitPrice(p.Offerings, w.CPU, w.MemoryMB)}
			if live(p) >= p.Spec.Max {
				r.full = 1
			}
			for _, h := range p.Hosts {
				if takesWork(&h) && fits(w.CPU, w.MemoryMB, h.CPU-h.UsedCPU, h.MemoryMB-h.UsedMemoryMB) {
					r.noRoom = 0
					break
				}
			}
			if best < 0 || r.noRoom < bestRank.noRoom || (r.noRoom == bestRank.noRoom && (r.full < bestRank.full || (r.full == bestRank.full && r.price < bestRank.price))) {
				best, bestRank = i, r
			}
		}
		if best >= 0 {
			out[best] = append(out[best], w)
		}
	}
	return out
}

// onDemandFits reports whether an open on-demand pool has an offering
// that fits w.
func onDemandFits(s Snapshot, w Waiting) bool {
	for i := range s.Pools {
		p := &s.Pools[i]
		if p.Spec.Market != berth.Spot && !p.Spec.IsServerless() && p.Spec.Provider != berth.ProviderLocal && p.Open &&
			cheapestFit(p.Offerings, w.CPU, w.MemoryMB) >= 0 {
			return true
		}
	}
	return false
}

// cheapestFit returns the index of the cheapest available offering that
// fits cpu×mem, or -1.
func cheapestFit(os []Offering, cpu float64, mem int64) int {
	best := -1
	for i, o := range os {
		if !o.Unavailable && fits(cpu, mem, o.CPU, o.MemoryMB) && (best < 0 || o.Price < os[best].Price) {
			best = i
		}
	}
	return best
}

func fits(cpu float64, mem int64, capCPU float64, capMem int64) bool {
	return cpu <= capCPU+1e-9 && mem <= capMem
}

// live counts the hosts that exist, whatever their state.
func live(p *Pool) int { return len(p.Hosts) }

// decider decides for one pool.
type decider struct {
	now     time.Time
	p       *Pool
	waiting []Waiting
	actions []Action
	metric  Metric
	// planned is the capacity of the hosts launched or taken back in this
	// plan.
	planned []bin
	// unfit are the hosts releaseUnfit terminates.
	unfit map[string]bool
	// cheaper is, per size of host, the lowest price per unit of work of
	// another open pool's available offering at least that large; see
	// cheaperUnit.
	cheaper func(cpu float64, mem int64) float64
}

func (d *decider) act(a Action) {
	a.Pool = d.p.Spec.Name
	d.actions = append(d.actions, a)
}

func (d *decider) run() {
	p := d.p
	d.metric = d.measure()
	d.terminateEmpty()
	if !p.Open {
		d.closeWindow()
		return
	}
	d.scaleOut()
	d.scaleIn()
	d.yieldToCheaper()
}

// measure computes the pool's metric.
func (d *decider) measure() Metric {
	m := Metric{Pool: d.p.Spec.Name, Waiting: len(d.waiting), Hosts: live(d.p),
		ShapeCPU: berth.DefaultCPU, ShapeMemoryMB: berth.DefaultMemoryMB}
	if len(d.waiting) > 0 {
		big := slices.MaxFunc(d.waiting, func(a, b Waiting) int { return cmp.Compare(d.size(a), d.size(b)) })
		m.ShapeCPU, m.ShapeMemoryMB = big.CPU, big.MemoryMB
	}
	for _, h := range d.p.Hosts {
		if takesWork(&h) {
			m.Schedulable += slots(h.CPU-h.UsedCPU, h.MemoryMB-h.UsedMemoryMB, m.ShapeCPU, m.ShapeMemoryMB)
		}
	}
	return m
}

// size is a job's share of the pool's largest offering, on its dominant
// resource.
func (d *decider) size(w Waiting) float64 {
	var c float64
	var m int64
	for _, o := range d.p.Offerings {
		c, m = max(c, o.CPU), max(m, o.MemoryMB)
	}
	if c == 0 || m == 0 {
		return w.CPU + float64(w.MemoryMB)/4096
	}
	return max(w.CPU/c, float64(w.MemoryMB)/float64(m))
}

// slots is how many jobs of cpu×mem fit in free capacity fc×fm.
func slots(fc float64, fm int64, cpu float64, mem int64) float64 {
	n := math.Inf(1)
	if cpu > 0 {
		n = math.Floor((fc + 1e-9) / cpu)
	}
	if mem > 0 {
		n = min(n, math.Floor(float64(fm)/float64(mem)))
	}
	return max(n, 0)
}

// takesWork reports whether h counts as capacity for waiting work.
func takesWork(h *Host) bool {
	return h.ForJob == "" && (h.State == Ready || h.State == Launching)
}

// terminateEmpty terminates draining hosts that run nothing, and hosts
// launched for a job that is done.
func (d *decider) terminateEmpty() {
	for _, h := range d.p.Hosts {
		switch {
		case h.Busy():
		case h.State == Draining && h.DrainReason != DrainScaleIn && h.DrainReason != DrainCheaper:
			d.act(Action{Kind: Terminate, Host: h.ID, Reason: "drained (" + h.DrainReason + ") and idle"})
		case h.State == Draining:
			if !d.wanted() {
				d.act(Action{Kind: Terminate, Host: h.ID, Reason: h.DrainReason + ": drained and idle"})
			}
		case h.ForJob != "" && h.JobDone:
			d.act(Action{Kind: Terminate, Host: h.ID, Reason: "its job " + h.ForJob + " is done"})
		}
	}
}

// wanted reports whether work waits for this pool, so that hosts drained
// for scale-in are better taken back than terminated.
func (d *decider) wanted() bool { return len(d.waiting) > 0 }

// closeWindow drains every host; the empty ones go at once.
func (d *decider) closeWindow() {
	for _, h := range d.p.Hosts {
		switch {
		case h.State == Launching && !h.Busy():
			d.act(Action{Kind: Terminate, Host: h.ID, Reason: "window closed"})
		case h.State != Draining:
			d.act(Action{Kind: Drain, Host: h.ID, Reason: DrainWindow})
			if !h.Busy() {
				d.act(Action{Kind: Terminate, Host: h.ID, Reason: "window closed"})
			}
		}
	}
}

// scaleIn drains hosts idle for the scale-in delay, down to the minimum,
// while nothing waits that they could take.
func (d *decider) scaleIn() {
	p := d.p
	delay := time.Duration(p.Spec.ScaleInDelay)
	active := 0
	for _, h := range p.Hosts {
		if h.State != Draining && h.ForJob == "" {
			active++
		}
	}
	var idle []Host
	for _, h := range p.Hosts {
		switch {
		case d.unfit[h.ID]:
			active-- // released already: see releaseUnfit
		case d.idlePast(h, delay):
			idle = append(idle, h)
		}
	}
	slices.SortStableFunc(idle, func(a, b Host) int { return a.IdleSince.Compare(b.IdleSince) })
	// The room left once every waiting job has taken a slot of the
	// largest shape (a smaller job takes less), hosts planned now included.
	room := d.metric.Schedulable - float64(len(d.waiting))
	for _, b := range d.planned {
		room += slots(b.cpu, b.mem, d.metric.ShapeCPU, d.metric.ShapeMemoryMB)
	}
	active += len(d.planned)
	for _, h := range idle {
		if active <= p.Spec.Min {
			return
		}
		units := slots(h.CPU, h.MemoryMB, d.metric.ShapeCPU, d.metric.ShapeMemoryMB)
		// With work waiting, keep room for at least one more of its
		// largest shapes after the host goes: that is the hysteresis. A
		// host no waiting job fits is not kept for the work.
		if len(d.waiting) > 0 && room-units < 1 && d.fitsWaiting(h) {
			continue
		}
		room -= units
		active--
		d.act(Action{Kind: Drain, Host: h.ID, Reason: DrainScaleIn})
		d.act(Action{Kind: Terminate, Host: h.ID, Reason: fmt.Sprintf("scale-in: idle for %s", d.now.Sub(h.IdleSince).Round(time.Second))})
	}
}

// idlePast reports whether h is a ready host of the pool's own that has
// run nothing for delay.
func (d *decider) idlePast(h Host, delay time.Duration) bool {
	return h.State == Ready && h.ForJob == "" && !h.Busy() && !h.IdleSince.IsZero() && d.now.Sub(h.IdleSince) >= delay
}

// unfitHost returns a host of the pool's own idle for the scale-in delay
// that no waiting job fits, not yet released; "" if none. scaleIn keeps
// idle hosts while work waits, for that work; such a host cannot take it.
func (d *decider) unfitHost() string {
	delay := time.Duration(d.p.Spec.ScaleInDelay)
	for _, h := range d.p.Hosts {
		if !d.unfit[h.ID] && d.idlePast(h, delay) && !d.fitsWaiting(h) {
			return h.ID
		}
	}
	return ""
}

// release drains and terminates host id, which no waiting job fits, to
// make room for a host the waiting work needs.
func (d *decider) release(id string) {
	if d.unfit == nil {
		d.unfit = map[string]bool{}
	}
	d.unfit[id] = true
	d.act(Action{Kind: Drain, Host: id, Reason: DrainScaleIn})
	d.act(Action{Kind: Terminate, Host: id, Reason: "scale-in: idle, and no waiting job fits it; its slot is needed"})
}

// fitsWaiting reports whether some job waiting for the pool fits host h
// when empty.
func (d *decider) fitsWaiting(h Host) bool {
	for _, w := range d.waiting {
		if fits(w.CPU, w.MemoryMB, h.CPU, h.MemoryMB) {
			return true
		}
	}
	return false
}
