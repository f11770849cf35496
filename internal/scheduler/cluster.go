package scheduler

import (
	berth "github.com/berth-run/berth"
)

// Cluster is an index of nodes by free capacity that places one job in
// microseconds on ten thousand nodes. Place builds one per round from a
// snapshot; a caller that follows the cluster's changes (the simulator)
// keeps one and tells it what changed with Set, Remove and Release.
//
// Schedulable nodes sit in a grid of buckets of free CPU × free memory
// (logarithmic, eight buckets per doubling), with a bit mask per row and
// per column of the non-empty buckets. Best fit on a job's dominant
// resource scans the rows (or columns) upwards from the job's size and
// takes the first bucket where it fits, to within a bucket's width.
//
// A Cluster is not safe for concurrent use.
type Cluster struct {
	nodes []entry
	byID  map[string]int32
	spare []int32 // free slots of nodes

	buckets map[int32]*cell
	rows    [nBuckets]mask // rows[cpu bucket] = the memory buckets in use
	cols    [nBuckets]mask // cols[memory bucket] = the cpu buckets in use
	anyRow  mask
	anyCol  mask

	// Totals of the schedulable capacity, to judge a job's dominant
	// resource against.
	totCPU, totMem int64
	// shapes counts the grid's nodes by capacity; sched counts every
	// schedulable node that is not dedicated, reserved ones included.
	shapes map[[2]int64]int
	sched  map[[2]int64]int
	// forJob maps a job to the node launched for it.
	forJob map[string]int32
	// notReady counts the nodes that take no work.
	notReady int
}

// entry is one node of the cluster.
type entry struct {
	node       berth.Node
	capC, capM int64
	useC, useM int64
	cell       int32 // the grid cell holding it, or -1
	pos        int32 // its index in the cell
	forJob     string
	reserved   bool
	live       bool
}

func (e *entry) freeC() int64 { return e.capC - e.useC }
func (e *entry) freeM() int64 { return e.capM - e.useM }
func (e *entry) fits(c, m int64) bool {
	return e.useC+c <= e.capC && e.useM+m <= e.capM
}

// cell is one bucket of the grid: the nodes in it, and upper bounds of
// their free capacity (tightened when a scan finds no fit).
type cell struct {
	slots      []int32
	hintC      int64
	hintM      int64
	row, col   int
	lowC, lowM int64 // the bucket's lower edges
}

// NewCluster returns a cluster of nodes. Nodes that are not schedulable are
// kept (for reasons) but take no work.
func NewCluster(nodes []berth.Node) *Cluster {
	c := &Cluster{
		byID:    make(map[string]int32, len(nodes)),
		buckets: make(map[int32]*cell),
		shapes:  make(map[[2]int64]int),
		sched:   make(map[[2]int64]int),
		forJob:  make(map[string]int32),
		nodes:   make([]entry, 0, len(nodes)),
	}
	for _, n := range nodes {
		c.Set(n, "")
	}
	return c
}

// Len returns the number of nodes.
func (c *Cluster) Len() int { return len(c.byID) }

// Node returns the node called id as the cluster sees it: its UsedCPU and
// UsedMemoryMB include what Place assigned.
func (c *Cluster) Node(id string) (berth.Node, bool) {
	s, ok := c.byID[id]
	if !ok {
		return berth.Node{}, false
	}
	e := &c.nodes[s]
	n := e.node
	n.UsedCPU, n.UsedMemoryMB = float64(e.useC)/cpuUnit, e.useM
	return n, true
}

// Set adds node n or replaces what the cluster knows of it. forJob, when
// not empty, makes n a host of that job alone.
func (c *Cluster) Set(n berth.Node, forJob string) {
	s, ok := c.byID[n.ID]
	if ok {
		c.unlink(s)
	} else {
		if k := len(c.spare); k > 0 {
			s, c.spare = c.spare[k-1], c.spare[:k-1]
		} else {
			s = int32(len(c.nodes))
			c.nodes = append(c.nodes, entry{})
		}
		c.byID[n.ID] = s
	}
	c.nodes[s] = entry{
		node: n, capC: capCPU(n.CPU), capM: n.MemoryMB,
		useC: jobCPU(n.UsedCPU), useM: n.UsedMemoryMB,
		cell: -1, forJob: forJob, live: true,
	}
	c.link(s)
}

// Remove forgets node id.
func (c *Cluster) Remove(id string) {
	s, ok := c.byID[id]
	if !ok {
		return
	}
	c.unlink(s)
	delete(c.byID, id)
	c.nodes[s] = entry{cell: -1}
	c.spare = append(c.spare, s)
}

// SetState changes the state and health of node id, keeping what the
// cluster counts as used on it.
func (c *Cluster) SetState(id string, state berth.NodeState, healthy bool) {
	s, ok := c.byID[id]
	if !ok {
		return
	}
	c.unlink(s)
	e := &c.nodes[s]
	e.node.State, e.node.Healthy = state, healthy
	c.link(s)
}

// Release gives back to node id what a finished attempt of cpu and
// memoryMB held.
func (c *Cluster) Release(id string, cpu float64, memoryMB int64) {
	s, ok := c.byID[id]
	if !ok {
		return
	}
	e := &c.nodes[s]
	c.ungrid(s)
	e.useC = max(e.useC-jobCPU(cpu), 0)
	e.useM = max(e.useM-memoryMB, 0)
	c.grid(s)
}

// link accounts for node s being in the cluster. unlink undoes it.
func (c *Cluster) link(s int32) {
	e := &c.nodes[s]
	if e.forJob != "" {
		c.forJob[e.forJob] = s
		return
	}
	if !e.node.Schedulable() {
		c.notReady++
		return
	}
	c.totCPU += e.capC
	c.totMem += e.capM
	c.sched[[2]int64{e.capC, e.capM}]++
	c.grid(s)
}

func (c *Cluster) unlink(s int32) {
	e := &c.nodes[s]
	if e.forJob != "" {
		if c.forJob[e.forJob] == s {
			delete(c.forJob, e.forJob)
		}
		return
	}
	if !e.node.Schedulable() {
		c.notReady--
		return
	}
	c.totCPU -= e.capC
	c.totMem -= e.capM
	key := [2]int64{e.capC, e.capM}
	if c.sched[key]--; c.sched[key] == 0 {
		delete(c.sched, key)
	}
	c.ungrid(s)
}

// grid puts schedulable, unreserved node s into its cell.
func (c *Cluster) grid(s int32) {
	e := &c.nodes[s]
	if e.forJob != "" || e.reserved || !e.node.Schedulable() || e.cell >= 0 {
		return
	}
	r, k := bucket(e.freeC()), bucket(e.freeM())
	key := int32(r*nBuckets + k)
	cl := c.buckets[key]
	if cl == nil {
		cl = &cell{row: r, col: k, lowC: edge(r), lowM: edge(k)}
		c.buckets[key] = cl
	}
	if len(cl.slots) == 0 {
		c.rows[r].set(k)
		c.cols[k].set(r)
		c.anyRow.set(r)
		c.anyCol.set(k)
		cl.hintC, cl.hintM = 0, 0
	}
	cl.hintC, cl.hintM = max(cl.hintC, e.freeC()), max(cl.hintM, e.freeM())
	e.cell, e.pos = key, int32(len(cl.slots))
	cl.slots = append(cl.slots, s)
	c.shapes[[2]int64{e.capC, e.capM}]++
}

// ungrid takes node s out of its cell, if it is in one.
func (c *Cluster) ungrid(s int32) {
	e := &c.nodes[s]
	if e.cell < 0 {
		return
	}
	cl := c.buckets[e.cell]
	last := cl.slots[len(cl.slots)-1]
	cl.slots[e.pos] = last
	c.nodes[last].pos = e.pos
	cl.slots = cl.slots[:len(cl.slots)-1]
	if len(cl.slots) == 0 {
		c.rows[cl.row].clear(cl.col)
		c.cols[cl.col].clear(cl.row)
		if c.rows[cl.row].empty() {
			c.anyRow.clear(cl.row)
		}
		if c.cols[cl.col].empty() {
			c.anyCol.clear(cl.col)
		}
	}
	e.cell = -1
	key := [2]int64{e.capC, e.capM}
	if c.shapes[key]--; c.shapes[key] == 0 {
		delete(c.shapes, key)
	}
}

// assign puts a job of c×m on node s.
func (c *Cluster) assign(s int32, cpu, mem int64) {
	c.ungrid(s)
	e := &c.nodes[s]
	e.useC += cpu
	e.useM += mem
	c.grid(s)
}

// cpuDominant reports whether a job of c×m needs more of the cluster's CPU
// than of its memory.
func (c *Cluster) cpuDominant(cpu, mem int64) bool {
	return float64(cpu)*float64(c.totMem) >= float64(mem)*float64(c.totCPU)
}

// find returns the unreserved schedulable node where a job of cpu×mem fits
// best, leaving the least free of its dominant resource and then of the
// other, or -1.
func (c *Cluster) find(cpu, mem int64) int32 {
	bc, bm := bucket(cpu), bucket(mem)
	if c.cpuDominant(cpu, mem) {
		for r := c.anyRow.next(bc); r >= 0; r = c.anyRow.next(r + 1) {
			row := &c.rows[r]
			for k := row.next(bm); k >= 0; k = row.next(k + 1) {
				if s := c.pick(int32(r*nBuckets+k), cpu, mem); s >= 0 {
					return s
				}
			}
		}
		return -1
	}
	for k := c.anyCol.next(bm); k >= 0; k = c.anyCol.next(k + 1) {
		col := &c.cols[k]
		for r := col.next(bc); r >= 0; r = col.next(r + 1) {
			if s := c.pick(int32(r*nBuckets+k), cpu, mem); s >= 0 {
				return s
			}
		}
	}
	return -1
}

// pick returns a node of cell key where the job fits, or -1.
func (c *Cluster) pick(key int32, cpu, mem int64) int32 {
	cl := c.buckets[key]
	if cl.hintC < cpu || cl.hintM < mem {
		return -1
	}
	if cl.lowC >= cpu && cl.lowM >= mem {
		return cl.slots[len(cl.slots)-1] // every node of the cell fits
	}
	var topC, topM int64
	for i := len(cl.slots) - 1; i >= 0; i-- {
		s := cl.slots[i]
		e := &c.nodes[s]
		if e.fits(cpu, mem) {
			return s
		}
		topC, topM = max(topC, e.freeC()), max(topM, e.freeM())
	}
	cl.hintC, cl.hintM = topC, topM
	return -1
}

// capacityFits reports whether some unreserved schedulable node would fit
// a job of cpu×mem if it were empty.
func (c *Cluster) capacityFits(cpu, mem int64) bool {
	for k := range c.shapes {
		if k[0] >= cpu && k[1] >= mem {
			return true
		}
	}
	return false
}

// closestLimit bounds the nodes closest examines.
const closestLimit = 32

// closest returns a node whose capacity fits a job of cpu×mem and that is
// near to having room for it, or -1: among the first nodes met scanning
// from the most free of the job's dominant resource down, the one short of
// the least.
func (c *Cluster) closest(cpu, mem int64) int32 {
	best, bestShort, seen := int32(-1), 0.0, 0
	consider := func(key int32) bool {
		for _, s := range c.buckets[key].slots {
			e := &c.nodes[s]
			if e.capC < cpu || e.capM < mem {
				continue
			}
			short := max(float64(e.useC+cpu-e.capC)/float64(e.capC), float64(e.useM+mem-e.capM)/float64(e.capM))
			if best < 0 || short < bestShort {
				best, bestShort = s, short
			}
			if seen++; seen >= closestLimit {
				return true
			}
		}
		return false
	}
	if c.cpuDominant(cpu, mem) {
		for r := c.anyRow.prev(nBuckets - 1); r >= 0; r = c.anyRow.prev(r - 1) {
			row := &c.rows[r]
			for k := row.prev(nBuckets - 1); k >= 0; k = row.prev(k - 1) {
				if consider(int32(r*nBuckets + k)) {
					return best
				}
			}
		}
		return best
	}
	for k := c.anyCol.prev(nBuckets - 1); k >= 0; k = c.anyCol.prev(k - 1) {
		col := &c.cols[k]
		for r := col.prev(nBuckets - 1); r >= 0; r = col.prev(r - 1) {
			if consider(int32(r*nBuckets + k)) {
				return best
			}
		}
	}
	return best
}

// reserve takes node s out of the grid until unreserveAll.
func (c *Cluster) reserve(s int32) {
	c.ungrid(s)
	c.nodes[s].reserved = true
}

func (c *Cluster) unreserve(held []int32) {
	for _, s := range held {
		if c.nodes[s].live && c.nodes[s].reserved {
			c.nodes[s].reserved = false
			c.grid(s)
		}
	}
}

// largestFree returns the unreserved node with the most free CPU (then
// memory), or -1.
func (c *Cluster) largestFree() int32 {
	r := c.anyRow.prev(nBuckets - 1)
	if r < 0 {
		return -1
	}
	best := int32(-1)
	row := &c.rows[r]
	for k := row.prev(nBuckets - 1); k >= 0; k = row.prev(k - 1) {
		for _, s := range c.buckets[int32(r*nBuckets+k)].slots {
			e := &c.nodes[s]
			if best < 0 || e.freeC() > c.nodes[best].freeC() || (e.freeC() == c.nodes[best].freeC() && e.freeM() > c.nodes[best].freeM()) {
				best = s
			}
		}
	}
	return best
}
