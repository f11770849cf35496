package scheduler

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	berth "github.com/berth-run/berth"
)

func TestBuckets(t *testing.T) {
	for u := int64(0); u < 1<<21; u += 1 + u/64 {
		b := bucket(u)
		if edge(b) > u || (b+1 < nBuckets && edge(b+1) <= u) {
			t.Fatalf("bucket(%d) = %d with edges [%d, %d)", u, b, edge(b), edge(b+1))
		}
	}
	for _, cpu := range []float64{0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 64, 96} {
		if u := jobCPU(cpu); edge(bucket(u)) != u {
			t.Errorf("%v vCPU is not a bucket edge", cpu)
		}
	}
	var m mask
	for _, i := range []int{0, 63, 64, 130, 191} {
		m.set(i)
	}
	if m.next(1) != 63 || m.next(64) != 64 || m.next(65) != 130 || m.next(131) != 191 || m.prev(190) != 130 || m.prev(63) != 63 || m.prev(62) != 0 {
		t.Errorf("mask next/prev disagree with its members")
	}
}

func randomNodes(r *rand.Rand, n int) []berth.Node {
	shapes := [][2]float64{{2, 4096}, {2, 8192}, {4, 16384}, {8, 32768}, {16, 65536}, {16, 131072}, {3, 6000}}
	nodes := make([]berth.Node, n)
	for i := range nodes {
		s := shapes[r.IntN(len(shapes))]
		nodes[i] = node(fmt.Sprintf("n%05d", i), s[0], int64(s[1]))
		nodes[i].UsedCPU = float64(r.IntN(int(s[0])*4)) / 4
		nodes[i].UsedMemoryMB = int64(r.IntN(int(s[1])))
	}
	return nodes
}

func randomJob(r *rand.Rand, id string) berth.Job {
	cpus := []float64{0.1, 0.25, 0.5, 1, 1.5, 2, 4, 0.3}
	mems := []int64{128, 256, 512, 1000, 1024, 2048, 4096, 8192}
	return job(id, cpus[r.IntN(len(cpus))], mems[r.IntN(len(mems))])
}

// cellOf is the grid cell a node's free capacity falls in, dominant
// dimension first.
func cellOf(c *Cluster, e *entry, cpuDom bool) [2]int {
	r, k := bucket(e.freeC()), bucket(e.freeM())
	if cpuDom {
		return [2]int{r, k}
	}
	return [2]int{k, r}
}

func less(a, b [2]int) bool { return a[0] < b[0] || (a[0] == b[0] && a[1] < b[1]) }

// TestFindIsBestFit: the node find picks is, among all nodes where the job
// fits, one whose free capacity is in the lowest bucket of the job's
// dominant resource, then of the other.
func TestFindIsBestFit(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 200 {
		c := NewCluster(randomNodes(r, 1+r.IntN(300)))
		for i := range 50 {
			j := randomJob(r, fmt.Sprint(i))
			cpu, mem := jobCPU(j.CPU), j.MemoryMB
			dom := c.cpuDominant(cpu, mem)
			want, found := [2]int{}, false
			for s := range c.nodes {
				e := &c.nodes[s]
				if e.live && e.fits(cpu, mem) {
					if cl := cellOf(c, e, dom); !found || less(cl, want) {
						want, found = cl, true
					}
				}
			}
			s := c.find(cpu, mem, "")
			if !found {
				if s >= 0 {
					t.Fatalf("round %d: find(%v) = %s, but no node fits", round, j.JobSpec, c.nodes[s].node.ID)
				}
				continue
			}
			if s < 0 {
				t.Fatalf("round %d: find(%d/%d) = none, want a node in cell %v", round, cpu, mem, want)
			}
			e := &c.nodes[s]
			if !e.fits(cpu, mem) || cellOf(c, e, dom) != want {
				t.Fatalf("round %d: find(%d/%d) = %s in cell %v (fits %v), want cell %v", round, cpu, mem, e.node.ID, cellOf(c, e, dom), e.fits(cpu, mem), want)
			}
			c.assign(s, cpu, mem)
		}
	}
}

// TestClusterFollowsChanges: a cluster told of every change places as one
// built afresh from the same nodes.
func TestClusterFollowsChanges(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	nodes := randomNodes(r, 200)
	live := map[string]berth.Node{}
	c := NewCluster(nil)
	for _, n := range nodes[:100] {
		c.Set(n, "")
		live[n.ID] = n
	}
	released := 0
	for step := range 3000 {
		switch op := r.IntN(5); op {
		case 0: // a node joins or changes
			n := nodes[r.IntN(len(nodes))]
			if r.IntN(4) == 0 {
				n.State = berth.NodeDraining
			}
			c.Set(n, "")
			live[n.ID] = n
		case 1: // a node leaves
			n := nodes[r.IntN(len(nodes))]
			c.Remove(n.ID)
			delete(live, n.ID)
		case 2, 3: // a round places a job
			j := randomJob(r, fmt.Sprint(step))
			p := c.Place(Round{Queued: []berth.Job{j}, SkipReasons: true})
			for _, pl := range p.Placements {
				n := live[pl.NodeID]
				n.UsedCPU += float64(jobCPU(j.CPU)) / cpuUnit
				n.UsedMemoryMB += j.MemoryMB
				live[pl.NodeID] = n
			}
		case 4: // an attempt ends on a node chosen by the seed
			var busy []string
			for _, id := range slices.Sorted(maps.Keys(live)) {
				if n := live[id]; n.UsedCPU >= 0.25 && n.UsedMemoryMB >= 128 {
					busy = append(busy, id)
				}
			}
			if len(busy) == 0 {
				break
			}
			id := busy[r.IntN(len(busy))]
			n := live[id]
			c.Release(id, 0.25, 128)
			n.UsedCPU -= 0.25
			n.UsedMemoryMB -= 128
			live[id] = n
			released++
		}
		if step%100 != 0 {
			continue
		}
		var all []berth.Node
		for _, id := range slices.Sorted(maps.Keys(live)) {
			all = append(all, live[id])
		}
		fresh := NewCluster(all)
		for i := range 20 {
			j := randomJob(r, fmt.Sprint(i))
			cpu, mem := jobCPU(j.CPU), j.MemoryMB
			a, b := c.find(cpu, mem, ""), fresh.find(cpu, mem, "")
			if (a < 0) != (b < 0) {
				t.Fatalf("step %d: find(%d/%d) = %d on the followed cluster, %d on a fresh one", step, cpu, mem, a, b)
			}
			if a >= 0 && cellOf(c, &c.nodes[a], true) != cellOf(fresh, &fresh.nodes[b], true) {
				t.Fatalf("step %d: find(%d/%d) picks different cells", step, cpu, mem)
			}
		}
		if c.Len() != len(live) {
			t.Fatalf("step %d: Len() = %d, want %d", step, c.Len(), len(live))
		}
	}
	if released == 0 {
		t.Fatalf("no attempt ended: the test did not exercise Release")
	}
}

// TestLargestHeldIsFullScan: the largest reserved node the cluster keeps
// as a round reserves nodes is the one a scan of every node finds, for
// each pool and for any pool, and there is none once the round ends.
func TestLargestHeldIsFullScan(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	pools := []string{"", "spot", "ondemand"}
	scan := func(c *Cluster, pool string) int32 {
		best := int32(-1)
		for s := range c.nodes {
			e := &c.nodes[s]
			if !e.live || !e.reserved || (pool != "" && e.node.Pool != pool) {
				continue
			}
			if best < 0 || e.freeC() > c.nodes[best].freeC() || (e.freeC() == c.nodes[best].freeC() && e.freeM() > c.nodes[best].freeM()) {
				best = int32(s)
			}
		}
		return best
	}
	for round := range 100 {
		nodes := randomNodes(r, 1+r.IntN(300))
		for i := range nodes {
			nodes[i].Pool = pools[r.IntN(len(pools))]
			if round%2 == 0 { // empty nodes: many of the same size
				nodes[i].UsedCPU, nodes[i].UsedMemoryMB = 0, 0
			}
		}
		c := NewCluster(nodes)
		var held []int32
		for range 1 + r.IntN(len(nodes)) {
			j := randomJob(r, "j")
			s := c.closest(jobCPU(j.CPU)*4, j.MemoryMB*4, pools[r.IntN(len(pools))])
			if s < 0 {
				continue
			}
			c.reserve(s)
			held = append(held, s)
			for _, pool := range append(pools, "none") {
				if got, want := c.largestHeld(pool), scan(c, pool); got != want {
					t.Fatalf("round %d, %d held: largestHeld(%q) = %d, a scan finds %d", round, len(held), pool, got, want)
				}
			}
		}
		c.unreserve(held)
		for _, pool := range pools {
			if got := c.largestHeld(pool); got != -1 {
				t.Fatalf("round %d: largestHeld(%q) = %d after the round, want -1", round, pool, got)
			}
		}
	}
}
