// Package scheduler decides where queued jobs run. It is pure: Place takes
// a snapshot of nodes, queued jobs and pools and returns a plan; it does no
// I/O, starts no goroutines and reads no clock. The dispatch loop in
// internal/control applies the plan, which the store re-checks.
//
// A plan places jobs on nodes (best fit on the job's dominant resource,
// priority then age, jobs of like expected lengths together, never on a
// node that is not ready and healthy),
// reserves room for a large job that is next in line so that small ones
// cannot starve it, asks for a right-sized host of its own for a job larger
// than every host, and sends to the overflow runner a job whose start
// budget would be exceeded waiting for capacity.
package scheduler

import (
	"fmt"
	"math"
	"strconv"
	"time"

	berth "github.com/berth-run/berth"
)

// Snapshot is what Place decides from.
type Snapshot struct {
	// Nodes, with the capacity their active attempts use. Nodes that are
	// not schedulable take nothing but still count for "could ever fit".
	Nodes []berth.Node
	// Queued jobs in dispatch order: priority descending, then oldest first.
	Queued []berth.Job
	// Now is the time of the round; it measures how long jobs have waited
	// against their start budgets.
	Now time.Time
	// Pools, in configuration order. Without pools, placement only uses
	// the nodes: no host requests, no overflow.
	Pools []PoolState
	// Dedicated maps the nodes launched for one job to that job: such a
	// node takes that job alone.
	Dedicated map[string]string
	// SkipReasons leaves Plan.Reasons empty, for callers that do not show
	// them (the simulator).
	SkipReasons bool
}

// PoolState is what placement knows of a pool now.
type PoolState struct {
	Spec berth.PoolSpec // with defaults
	// Open is false outside the pool's window.
	Open bool
	// Size counts the pool's instances, launching ones included.
	Size int
	// Prices are the current prices of its instance types, USD per hour;
	// a missing type costs its on-demand price (Spot: its spot_price).
	Prices map[string]float64
	// Unavailable marks the types that recently failed to launch for want
	// of capacity.
	Unavailable map[string]bool
	// Launching are its instances that have not joined yet.
	Launching []Launching
}

// Launching is an instance on its way.
type Launching struct {
	InstanceType string
	CPU          float64
	MemoryMB     int64
	ReadyAt      time.Time // expected
	JobID        string    // set for a host launched for one job
}

// Placement puts one job on one node.
type Placement struct {
	JobID      string
	JobVersion int64
	NodeID     string
}

// HostRequest asks for a host of its own for a job larger than every host.
type HostRequest struct {
	JobID        string
	JobVersion   int64
	Pool         string
	InstanceType string
	Market       berth.Market
	Price        float64 // USD per hour
}

// Overflow sends a job to a serverless pool.
type Overflow struct {
	JobID      string
	JobVersion int64
	Pool       string
	Why        string // "its start budget of 2s would be exceeded (...)"
}

// Plan is the outcome of one round of placement.
type Plan struct {
	Placements []Placement
	Hosts      []HostRequest
	Overflow   []Overflow
	// Waiting lists the jobs left waiting for capacity, in order (those
	// with a host request included).
	Waiting []string
	// Reasons says, for each job not placed, why.
	Reasons map[string]string
}

// Place assigns queued jobs, in order, to the schedulable node where each
// fits best (the least free capacity left on the job's dominant resource);
// then the jobs placed that have an expected duration are put back on the
// same room longest first, so that jobs of like lengths share a host (see
// regroup).
// A job that fits no node now but would fit an empty one, and for which no
// pool can add capacity, reserves the node closest to fitting it: later
// jobs are not placed there, so small jobs cannot starve a large one. A job larger than every node gets a host
// request when a pool can launch one; a job whose start budget would be
// exceeded goes to its overflow runner.
func Place(s Snapshot) Plan {
	c := NewCluster(nil)
	for _, n := range s.Nodes {
		c.Set(n, s.Dedicated[n.ID])
	}
	return c.Place(Round{Queued: s.Queued, Now: s.Now, Pools: s.Pools, SkipReasons: s.SkipReasons})
}

// Round is one round of placement on a Cluster; see Snapshot.
type Round struct {
	Queued      []berth.Job
	Now         time.Time
	Pools       []PoolState
	SkipReasons bool
}

// Place runs one round on the cluster's nodes. The placements are applied
// to the cluster: the caller releases them (Release) when their attempts
// end, or builds a new cluster. Reservations last for the round only.
func (c *Cluster) Place(r Round) Plan {
	rd := &round{c: c, r: r, pools: newPools(r.Pools, r.Now)}
	rd.plan.Reasons = make(map[string]string)
	for i := range r.Queued {
		rd.job(&r.Queued[i])
	}
	rd.regroup()
	c.unreserve(rd.held)
	return rd.plan
}

// round is the state of one Place.
type round struct {
	c      *Cluster
	r      Round
	pools  *pools
	plan   Plan
	held   []int32     // nodes reserved this round
	failed []failure   // shapes that found no node this round
	placed []placedJob // the round's placements, for regroup
}

// failure is a shape that found no node in a pool ("": any) this round.
type failure struct {
	cpu, mem int64
	pool     string
}

func (rd *round) job(j *berth.Job) {
	c := rd.c
	cpu, mem, pool := jobCPU(j.CPU), j.MemoryMB, j.Pool
	if s, ok := c.forJob[j.ID]; ok {
		e := &c.nodes[s]
		if e.node.Schedulable() && e.fits(cpu, mem) {
			rd.place(j, s, cpu, mem)
			return
		}
		rd.wait(j, fmt.Sprintf("waiting for its own host %s to be ready", e.node.Name))
		return
	}
	if !rd.knownToFail(cpu, mem, pool) {
		if s := c.find(cpu, mem, pool); s >= 0 {
			rd.place(j, s, cpu, mem)
			return
		}
		rd.failed = append(rd.failed, failure{cpu, mem, pool})
	}
	rd.unplaced(j, cpu, mem, pool)
}

func (rd *round) place(j *berth.Job, s int32, cpu, mem int64) {
	rd.c.assign(s, cpu, mem)
	rd.placed = append(rd.placed, placedJob{plan: len(rd.plan.Placements), node: s, cpu: cpu, mem: mem, pool: j.Pool, run: time.Duration(j.ExpectedDuration)})
	rd.plan.Placements = append(rd.plan.Placements, Placement{JobID: j.ID, JobVersion: j.Version, NodeID: rd.c.nodes[s].node.ID})
}

// knownToFail reports whether a job of this shape cannot fit in pool,
// because one no larger found no node earlier in the round among the same
// nodes or more (capacity only shrinks within a round).
func (rd *round) knownToFail(cpu, mem int64, pool string) bool {
	for _, f := range rd.failed {
		if cpu >= f.cpu && mem >= f.mem && (f.pool == "" || f.pool == pool) {
			return true
		}
	}
	return false
}

// unplaced decides what becomes of a job no node has room for now.
func (rd *round) unplaced(j *berth.Job, cpu, mem int64, pool string) {
	c, p := rd.c, rd.pools
	ctx := p.context(j)
	if o, why := p.overflow(j, ctx); o != "" {
		rd.plan.Overflow = append(rd.plan.Overflow, Overflow{JobID: j.ID, JobVersion: j.Version, Pool: o, Why: overflowWhy(why)})
		rd.reason(j, why)
		return
	}
	if c.capacityFits(cpu, mem, pool) {
		rd.wait(j, "") // the reason first: it names the largest free slot
		if p.timeToCapacity(j, ctx) != never {
			// Capacity is on its way or a pool can launch it: holding a
			// node back would only delay the jobs behind.
			return
		}
		if s := c.closest(cpu, mem, pool); s >= 0 {
			c.reserve(s)
			rd.held = append(rd.held, s)
		}
		return
	}
	if l, ok := p.launchingFor(j.ID); ok {
		rd.wait(j, fmt.Sprintf("waiting for capacity: launching a %s for it, ready at %s", l.InstanceType, l.ReadyAt.UTC().Format(time.TimeOnly)))
		return
	}
	if c.anySchedulableFits(cpu, mem, pool) {
		rd.wait(j, "") // held for earlier jobs
		return
	}
	if l, in, ok := p.launchingFit(j, ctx); ok {
		why := ""
		if !rd.r.SkipReasons {
			why = fmt.Sprintf("waiting for capacity: job needs %s; a %s is booting in pool %s, ready at %s",
				Shape(j.CPU, j.MemoryMB), l.InstanceType, in, l.ReadyAt.UTC().Format(time.TimeOnly))
		}
		rd.wait(j, why)
		return
	}
	if c.schedulable(pool) > 0 || p.launchingAny() {
		if h, ok := p.host(j, ctx); ok {
			rd.plan.Hosts = append(rd.plan.Hosts, h)
			rd.wait(j, fmt.Sprintf("waiting for capacity: job needs %s, larger than any node; launching a %s %s in pool %s for it",
				Shape(j.CPU, j.MemoryMB), h.Market, h.InstanceType, h.Pool))
			return
		}
	}
	if in := p.growing(j, ctx); in != "" && !rd.r.SkipReasons {
		rd.wait(j, fmt.Sprintf("waiting for capacity: job needs %s; pool %s is to launch a host for it", Shape(j.CPU, j.MemoryMB), in))
		return
	}
	if rd.r.SkipReasons {
		rd.wait(j, "")
		return
	}
	why := c.waitReason(j)
	if stuck := p.stuck(j, ctx); stuck != "" {
		why += "; " + stuck
	}
	rd.wait(j, why)
}

// wait records that j waits, with why or the reason worked out now.
func (rd *round) wait(j *berth.Job, why string) {
	rd.plan.Waiting = append(rd.plan.Waiting, j.ID)
	if why == "" && !rd.r.SkipReasons {
		why = rd.c.waitReason(j)
	}
	rd.reason(j, why)
}

func (rd *round) reason(j *berth.Job, why string) {
	if !rd.r.SkipReasons {
		rd.plan.Reasons[j.ID] = why
	}
}

// waitReason says why j waits, in words a user acts on.
func (c *Cluster) waitReason(j *berth.Job) string {
	need := Shape(j.CPU, j.MemoryMB)
	pool := j.Pool
	in := ""
	if pool != "" {
		in = " in pool " + pool
	}
	if len(c.byID) == 0 {
		return "waiting for capacity: no node has joined"
	}
	if c.schedulable(pool) == 0 {
		if pool != "" {
			return "waiting for capacity: no node of pool " + pool + " is ready"
		}
		return "waiting for capacity: no node is ready (" + c.notReadyReason() + ")"
	}
	cpu, mem := jobCPU(j.CPU), j.MemoryMB
	if !c.anySchedulableFits(cpu, mem, pool) {
		bc, bm := c.largestSchedulable(pool)
		return fmt.Sprintf("waiting for capacity: job needs %s, larger than any node%s (largest %s)", need, in, Shape(float64(bc)/cpuUnit, bm))
	}
	held := ""
	s := c.largestFree(pool)
	if s < 0 {
		held = "; the nodes that could fit it are held for earlier jobs"
		s = c.largestHeld(pool)
	}
	e := &c.nodes[s]
	return fmt.Sprintf("waiting for capacity: largest free slot%s %s, job needs %s%s", in, Shape(float64(e.freeC())/cpuUnit, e.freeM()), need, held)
}

// notReadyReason summarises why the nodes take no work.
func (c *Cluster) notReadyReason() string {
	for s := range c.nodes {
		n := &c.nodes[s].node
		if c.nodes[s].live && (n.State == berth.NodeReady || n.State == berth.NodeJoining) && !n.Healthy {
			if n.Reason != "" {
				return n.Name + ": " + n.Reason
			}
			return n.Name + " is unhealthy"
		}
	}
	return fmt.Sprintf("%d node(s), none ready", len(c.byID))
}

// Shape formats a cpu and memory size: "1.5 vCPU/2 GiB", "0.5 vCPU/256 MiB".
func Shape(cpu float64, memoryMB int64) string {
	mem := fmt.Sprintf("%d MiB", memoryMB)
	switch {
	case memoryMB >= 1<<20:
		mem = decimal(float64(memoryMB)/(1<<20)) + " TiB"
	case memoryMB >= 1024:
		mem = decimal(float64(memoryMB)/1024) + " GiB"
	}
	return decimal(max(cpu, 0)) + " vCPU/" + mem
}

// decimal writes v with at most three significant digits below 100 and
// as a whole number above, never with an exponent: "0.5", "1.25", "1000".
func decimal(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
