package scheduler

import (
	berth "github.com/berth-run/berth"
)

// Cluster is an index of nodes by free capacity that places one job in
// microseconds on ten thousand nodes. Place builds one per round from a
// snapshot; a caller that follows the cluster's changes (the simulator)
// keeps one and tells it what changed with Set, SetState, Remove and
// Release.
//
// The schedulable nodes of each pool sit in a grid of buckets of free CPU
// × free memory (logarithmic, eight buckets per doubling), with a bit mask
// per row and per column of the non-empty buckets. Best fit on a job's
// dominant resource scans the rows (or columns) upwards from the job's size
// and takes the first bucket where it fits, to within a bucket's width; a
// job pinned to a pool (its Pool) looks in that pool's grid only, others
// in every grid.
//
// A Cluster is not safe for concurrent use.
type Cluster struct {
	nodes []entry
	byID  map[string]int32
	spare []int32 // free slots of nodes

	grids  []*grid // in the order their pools were first seen
	gridOf map[string]int32

	// Totals of the schedulable capacity, to judge a job's dominant
	// resource against.
	totCPU, totMem int64
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
	grid       int32 // its pool's grid
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

// grid indexes the schedulable nodes of one pool.
type grid struct {
	pool    string
	buckets map[int32]*cell
	rows    [nBuckets]mask // rows[cpu bucket] = the memory buckets in use
	cols    [nBuckets]mask // cols[memory bucket] = the cpu buckets in use
	anyRow  mask
	anyCol  mask
	// shapes counts the grid's nodes by capacity; sched counts every
	// schedulable node of the pool that is not dedicated, reserved ones
	// included.
	shapes map[[2]int64]int
	sched  map[[2]int64]int
	// held is the grid's reserved node with the most free CPU (then
	// memory, then the lowest slot), or -1. Reserved nodes do not change
	// within a round, so reserve keeps it and unreserve clears it.
	held int32
}

// cell is one bucket of a grid: the nodes in it, and upper bounds of
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
		byID:   make(map[string]int32, len(nodes)),
		gridOf: make(map[string]int32),
		forJob: make(map[string]int32),
		nodes:  make([]entry, 0, len(nodes)),
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

// gridFor returns the index of pool's grid, making it if need be.
func (c *Cluster) gridFor(pool string) int32 {
	if g, ok := c.gridOf[pool]; ok {
		return g
	}
	g := int32(len(c.grids))
	c.grids = append(c.grids, &grid{pool: pool, buckets: make(map[int32]*cell), shapes: make(map[[2]int64]int), sched: make(map[[2]int64]int), held: -1})
	c.gridOf[pool] = g
	return g
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
		grid: c.gridFor(n.Pool), cell: -1, forJob: forJob, live: true,
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
	c.release(s, jobCPU(cpu), memoryMB)
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
	c.grids[e.grid].sched[[2]int64{e.capC, e.capM}]++
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
	g := c.grids[e.grid]
	key := [2]int64{e.capC, e.capM}
	if g.sched[key]--; g.sched[key] == 0 {
		delete(g.sched, key)
	}
	c.ungrid(s)
}

// grid puts schedulable, unreserved node s into its cell.
func (c *Cluster) grid(s int32) {
	e := &c.nodes[s]
	if e.forJob != "" || e.reserved || !e.node.Schedulable() || e.cell >= 0 {
		return
	}
	g := c.grids[e.grid]
	r, k := bucket(e.freeC()), bucket(e.freeM())
	key := int32(r*nBuckets + k)
	cl := g.buckets[key]
	if cl == nil {
		cl = &cell{row: r, col: k, lowC: edge(r), lowM: edge(k)}
		g.buckets[key] = cl
	}
	if len(cl.slots) == 0 {
		g.rows[r].set(k)
		g.cols[k].set(r)
		g.anyRow.set(r)
		g.anyCol.set(k)
		cl.hintC, cl.hintM = 0, 0
	}
	cl.hintC, cl.hintM = max(cl.hintC, e.freeC()), max(cl.hintM, e.freeM())
	e.cell, e.pos = key, int32(len(cl.slots))
	cl.slots = append(cl.slots, s)
	g.shapes[[2]int64{e.capC, e.capM}]++
}

// ungrid takes node s out of its cell, if it is in one.
func (c *Cluster) ungrid(s int32) {
	e := &c.nodes[s]
	if e.cell < 0 {
		return
	}
	g := c.grids[e.grid]
	cl := g.buckets[e.cell]
	last := cl.slots[len(cl.slots)-1]
	cl.slots[e.pos] = last
	c.nodes[last].pos = e.pos
	cl.slots = cl.slots[:len(cl.slots)-1]
	if len(cl.slots) == 0 {
		g.rows[cl.row].clear(cl.col)
		g.cols[cl.col].clear(cl.row)
		if g.rows[cl.row].empty() {
			g.anyRow.clear(cl.row)
		}
		if g.cols[cl.col].empty() {
			g.anyCol.clear(cl.col)
		}
	}
	e.cell = -1
	key := [2]int64{e.capC, e.capM}
	if g.shapes[key]--; g.shapes[key] == 0 {
		delete(g.shapes, key)
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

// grids returns the grids a job of pool may use: that pool's, or every
// one for "".
func (c *Cluster) poolGrids(pool string) []*grid {
	if pool == "" {
		return c.grids
	}
	if g, ok := c.gridOf[pool]; ok {
		return c.grids[g : g+1]
	}
	return nil
}

// find returns the unreserved schedulable node of pool ("" for any) where
// a job of cpu×mem fits best, leaving the least free of its dominant
// resource and then of the other, or -1.
func (c *Cluster) find(cpu, mem int64, pool string) int32 {
	dom := c.cpuDominant(cpu, mem)
	best, bestKey := int32(-1), [2]int{}
	for _, g := range c.poolGrids(pool) {
		s := g.find(c, cpu, mem, dom)
		if s < 0 {
			continue
		}
		e := &c.nodes[s]
		key := [2]int{bucket(e.freeC()), bucket(e.freeM())}
		if !dom {
			key[0], key[1] = key[1], key[0]
		}
		if best < 0 || key[0] < bestKey[0] || (key[0] == bestKey[0] && key[1] < bestKey[1]) {
			best, bestKey = s, key
		}
	}
	return best
}

func (g *grid) find(c *Cluster, cpu, mem int64, cpuDom bool) int32 {
	bc, bm := bucket(cpu), bucket(mem)
	if cpuDom {
		for r := g.anyRow.next(bc); r >= 0; r = g.anyRow.next(r + 1) {
			row := &g.rows[r]
			for k := row.next(bm); k >= 0; k = row.next(k + 1) {
				if s := g.pick(c, int32(r*nBuckets+k), cpu, mem); s >= 0 {
					return s
				}
			}
		}
		return -1
	}
	for k := g.anyCol.next(bm); k >= 0; k = g.anyCol.next(k + 1) {
		col := &g.cols[k]
		for r := col.next(bc); r >= 0; r = col.next(r + 1) {
			if s := g.pick(c, int32(r*nBuckets+k), cpu, mem); s >= 0 {
				return s
			}
		}
	}
	return -1
}

// pick returns a node of cell key where the job fits, or -1.
func (g *grid) pick(c *Cluster, key int32, cpu, mem int64) int32 {
	cl := g.buckets[key]
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

// capacityFits reports whether some unreserved schedulable node of pool
// would fit a job of cpu×mem if it were empty.
func (c *Cluster) capacityFits(cpu, mem int64, pool string) bool {
	for _, g := range c.poolGrids(pool) {
		for k := range g.shapes {
			if k[0] >= cpu && k[1] >= mem {
				return true
			}
		}
	}
	return false
}

// closestLimit bounds the nodes closest examines per grid.
const closestLimit = 32

// closest returns a node of pool whose capacity fits a job of cpu×mem and
// that is near to having room for it, or -1: among the first nodes met
// scanning each grid from the most free of the job's dominant resource
// down, the one short of the least.
func (c *Cluster) closest(cpu, mem int64, pool string) int32 {
	best, bestShort := int32(-1), 0.0
	dom := c.cpuDominant(cpu, mem)
	for _, g := range c.poolGrids(pool) {
		seen := 0
		g.scanDown(dom, func(key int32) bool {
			for _, s := range g.buckets[key].slots {
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
		})
	}
	return best
}

// scanDown calls visit on the grid's non-empty cells from the most free of
// the dominant resource down, until it returns true.
func (g *grid) scanDown(cpuDom bool, visit func(key int32) bool) {
	if cpuDom {
		for r := g.anyRow.prev(nBuckets - 1); r >= 0; r = g.anyRow.prev(r - 1) {
			row := &g.rows[r]
			for k := row.prev(nBuckets - 1); k >= 0; k = row.prev(k - 1) {
				if visit(int32(r*nBuckets + k)) {
					return
				}
			}
		}
		return
	}
	for k := g.anyCol.prev(nBuckets - 1); k >= 0; k = g.anyCol.prev(k - 1) {
		col := &g.cols[k]
		for r := col.prev(nBuckets - 1); r >= 0; r = col.prev(r - 1) {
			if visit(int32(r*nBuckets + k)) {
				return
			}
		}
	}
}

// reserve takes node s out of its grid until unreserve.
func (c *Cluster) reserve(s int32) {
	c.ungrid(s)
	e := &c.nodes[s]
	e.reserved = true
	if g := c.grids[e.grid]; c.larger(s, g.held) {
		g.held = s
	}
}

func (c *Cluster) unreserve(held []int32) {
	for _, s := range held {
		if c.nodes[s].live && c.nodes[s].reserved {
			c.nodes[s].reserved = false
			c.grid(s)
		}
	}
	for _, g := range c.grids {
		g.held = -1
	}
}

// larger reports whether node s has more free CPU than node t (then
// memory, then a lower slot); any node is larger than -1.
func (c *Cluster) larger(s, t int32) bool {
	if t < 0 {
		return true
	}
	a, b := &c.nodes[s], &c.nodes[t]
	if a.freeC() != b.freeC() {
		return a.freeC() > b.freeC()
	}
	if a.freeM() != b.freeM() {
		return a.freeM() > b.freeM()
	}
	return s < t
}

// largestHeld returns the reserved node of pool ("" for any) with the most
// free CPU (then memory), or -1. There is one when some schedulable node
// of pool exists and none is unreserved.
func (c *Cluster) largestHeld(pool string) int32 {
	best := int32(-1)
	for _, g := range c.poolGrids(pool) {
		if g.held >= 0 && c.larger(g.held, best) {
			best = g.held
		}
	}
	return best
}

// largestFree returns the unreserved node of pool with the most free CPU
// (then memory), or -1.
func (c *Cluster) largestFree(pool string) int32 {
	best := int32(-1)
	for _, g := range c.poolGrids(pool) {
		r := g.anyRow.prev(nBuckets - 1)
		if r < 0 {
			continue
		}
		row := &g.rows[r]
		for k := row.prev(nBuckets - 1); k >= 0; k = row.prev(k - 1) {
			for _, s := range g.buckets[int32(r*nBuckets+k)].slots {
				e := &c.nodes[s]
				if best < 0 || e.freeC() > c.nodes[best].freeC() || (e.freeC() == c.nodes[best].freeC() && e.freeM() > c.nodes[best].freeM()) {
					best = s
				}
			}
		}
	}
	return best
}

// schedulable counts the nodes of pool that take work (dedicated ones
// aside).
func (c *Cluster) schedulable(pool string) int {
	n := 0
	for _, g := range c.poolGrids(pool) {
		for _, k := range g.sched {
			n += k
		}
	}
	return n
}

// anySchedulableFits reports whether some schedulable node of pool,
// reserved or not, would fit a job of cpu×mem when empty.
func (c *Cluster) anySchedulableFits(cpu, mem int64, pool string) bool {
	for _, g := range c.poolGrids(pool) {
		for k := range g.sched {
			if k[0] >= cpu && k[1] >= mem {
				return true
			}
		}
	}
	return false
}

func (c *Cluster) largestSchedulable(pool string) (cpu, mem int64) {
	for _, g := range c.poolGrids(pool) {
		for k := range g.sched {
			if k[0] > cpu || (k[0] == cpu && k[1] > mem) {
				cpu, mem = k[0], k[1]
			}
		}
	}
	return cpu, mem
}
