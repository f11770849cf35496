package scheduler

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
)

// benchCluster is n empty nodes of the usual instance shapes.
func benchCluster(n int) []berth.Node {
	shapes := [][2]float64{{2, 8192}, {4, 16384}, {8, 32768}, {16, 65536}, {4, 8192}, {8, 65536}}
	nodes := make([]berth.Node, n)
	for i := range nodes {
		s := shapes[i%len(shapes)]
		nodes[i] = node(fmt.Sprintf("node_%05d", i), s[0], int64(s[1]))
	}
	return nodes
}

// benchJobs is n jobs of mixed shapes, 0.25 to 4 vCPU and 256 MiB to 16 GiB.
func benchJobs(n int, seed uint64) []berth.Job {
	r := rand.New(rand.NewPCG(seed, 1))
	cpus := []float64{0.25, 0.5, 0.5, 1, 1, 1, 2, 2, 4, 1.5}
	mems := []int64{256, 512, 1024, 1024, 2048, 2048, 4096, 8192, 16384, 3000}
	jobs := make([]berth.Job, n)
	for i := range jobs {
		jobs[i] = job(fmt.Sprintf("job_%06d", i), cpus[r.IntN(len(cpus))], mems[r.IntN(len(mems))])
	}
	return jobs
}

// BenchmarkPlace100kOn10k places 100,000 queued jobs onto 10,000 empty
// nodes in one round, from the snapshot (the index is built in the
// timing). The cluster holds about 60% of the queue; the rest waits,
// reserving nodes, as a deep queue does.
func BenchmarkPlace100kOn10k(b *testing.B) {
	nodes, jobs := benchCluster(10000), benchJobs(100000, 1)
	var p Plan
	for b.Loop() {
		p = Place(Snapshot{Nodes: nodes, Queued: jobs, SkipReasons: true})
	}
	b.ReportMetric(float64(len(p.Placements)), "placed")
}

// BenchmarkPlace100kOn10kReasons is the same round with the reasons of the
// waiting jobs written, as the dispatch loop asks.
func BenchmarkPlace100kOn10kReasons(b *testing.B) {
	nodes, jobs := benchCluster(10000), benchJobs(100000, 1)
	for b.Loop() {
		Place(Snapshot{Nodes: nodes, Queued: jobs})
	}
}

// BenchmarkPlaceServerRound is the dispatch loop's largest round: its
// window of 10,000 queued jobs onto 10,000 empty nodes, from the snapshot,
// with reasons.
func BenchmarkPlaceServerRound(b *testing.B) {
	nodes, jobs := benchCluster(10000), benchJobs(10000, 1)
	var p Plan
	for b.Loop() {
		p = Place(Snapshot{Nodes: nodes, Queued: jobs})
	}
	b.ReportMetric(float64(len(p.Placements)), "placed")
}

// BenchmarkPlaceServerRoundDurations is the server's largest round with
// every job's expected duration known (1–60 minutes): the placements are
// regrouped, longest first.
func BenchmarkPlaceServerRoundDurations(b *testing.B) {
	nodes, jobs := benchCluster(10000), benchJobs(10000, 1)
	for i := range jobs {
		jobs[i].ExpectedDuration = berth.Duration(time.Duration(1+i*7919%60) * time.Minute)
	}
	var p Plan
	for b.Loop() {
		p = Place(Snapshot{Nodes: nodes, Queued: jobs})
	}
	b.ReportMetric(float64(len(p.Placements)), "placed")
}

// BenchmarkPlaceOne places one more job on a 10,000-node cluster that is
// about 70% full, and reports the 99th percentile of the time it takes.
// The job's attempt ends at once (Release), so the cluster stays as full.
func BenchmarkPlaceOne(b *testing.B) {
	c := NewCluster(benchCluster(10000))
	c.Place(Round{Queued: benchJobs(45000, 2), SkipReasons: true})
	one := benchJobs(4096, 3)
	times := make([]time.Duration, 0, 1<<16)
	i := 0
	for b.Loop() {
		j := one[i%len(one)]
		i++
		start := time.Now()
		p := c.Place(Round{Queued: []berth.Job{j}, SkipReasons: true})
		times = append(times, time.Since(start))
		for _, pl := range p.Placements {
			c.Release(pl.NodeID, j.CPU, j.MemoryMB)
		}
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds())/1000, "p99-µs")
}

// BenchmarkPlaceOneSnapshot is one more job placed by Place from a
// 10,000-node snapshot, building the index: what a dispatch round that
// reads its nodes from the store pays.
func BenchmarkPlaceOneSnapshot(b *testing.B) {
	c := NewCluster(benchCluster(10000))
	c.Place(Round{Queued: benchJobs(45000, 2), SkipReasons: true})
	nodes := make([]berth.Node, 0, c.Len())
	for _, e := range c.nodes {
		n, _ := c.Node(e.node.ID)
		nodes = append(nodes, n)
	}
	j := benchJobs(1, 3)
	for b.Loop() {
		Place(Snapshot{Nodes: nodes, Queued: j})
	}
}
