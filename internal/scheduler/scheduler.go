// Package scheduler decides where queued jobs run. It is pure: Place takes
// a snapshot of nodes and queued jobs and returns a plan; it does no I/O,
// starts no goroutines and reads no clock. The dispatch loop in
// internal/control applies the plan, which the store re-checks.
package scheduler

import (
	"fmt"

	berth "github.com/berth-run/berth"
)

// Snapshot is what Place decides from.
type Snapshot struct {
	// Nodes, with the capacity their active attempts use. Nodes that are
	// not schedulable take nothing but still count for "could ever fit".
	Nodes []berth.Node
	// Queued jobs in dispatch order: priority descending, then oldest first.
	Queued []berth.Job
}

// Placement puts one job on one node.
type Placement struct {
	JobID      string
	JobVersion int64
	NodeID     string
}

// Plan is the outcome of one round of placement.
type Plan struct {
	Placements []Placement
	// Reasons says, for each job left waiting, why.
	Reasons map[string]string
}

// Place assigns queued jobs, in order, to the schedulable node where each
// fits best (the least free capacity left on the job's dominant resource).
// A job that fits no node now but would fit an empty one reserves the node
// closest to fitting it: later jobs are not placed there, so small jobs
// cannot starve a large one. A job larger than every node waits with a
// reason saying so.
func Place(s Snapshot) Plan {
	plan := Plan{Reasons: make(map[string]string)}
	nodes := make([]berth.Node, 0, len(s.Nodes))
	reserved := make([]bool, 0, len(s.Nodes))
	for _, n := range s.Nodes {
		if n.Schedulable() {
			nodes = append(nodes, n)
			reserved = append(reserved, false)
		}
	}
	for _, j := range s.Queued {
		if i := bestFit(nodes, reserved, j); i >= 0 {
			nodes[i].UsedCPU += j.CPU
			nodes[i].UsedMemoryMB += j.MemoryMB
			plan.Placements = append(plan.Placements, Placement{JobID: j.ID, JobVersion: j.Version, NodeID: nodes[i].ID})
			continue
		}
		plan.Reasons[j.ID] = waitReason(s.Nodes, nodes, reserved, j)
		if i := closest(nodes, reserved, j); i >= 0 {
			reserved[i] = true
		}
	}
	return plan
}

// bestFit returns the index of the unreserved node where j fits leaving
// the least free capacity on j's dominant resource, or -1.
func bestFit(nodes []berth.Node, reserved []bool, j berth.Job) int {
	best, bestLeft := -1, 0.0
	for i := range nodes {
		n := &nodes[i]
		if reserved[i] || !n.Fits(j.CPU, j.MemoryMB) {
			continue
		}
		left := dominantFree(n, j)
		if best < 0 || left < bestLeft {
			best, bestLeft = i, left
		}
	}
	return best
}

// dominantFree is the fraction of n's capacity left free, after placing j,
// on the resource j needs most of relative to n's size.
func dominantFree(n *berth.Node, j berth.Job) float64 {
	cpuShare, memShare := j.CPU/n.CPU, float64(j.MemoryMB)/float64(n.MemoryMB)
	if cpuShare >= memShare {
		return (n.CPU - n.UsedCPU - j.CPU) / n.CPU
	}
	return float64(n.MemoryMB-n.UsedMemoryMB-j.MemoryMB) / float64(n.MemoryMB)
}

// closest returns the unreserved schedulable node whose total capacity fits
// j and that is nearest to having room for it, or -1.
func closest(nodes []berth.Node, reserved []bool, j berth.Job) int {
	best, bestShort := -1, 0.0
	for i := range nodes {
		n := &nodes[i]
		if reserved[i] || j.CPU > n.CPU+1e-9 || j.MemoryMB > n.MemoryMB {
			continue
		}
		short := max((n.UsedCPU+j.CPU-n.CPU)/n.CPU, float64(n.UsedMemoryMB+j.MemoryMB-n.MemoryMB)/float64(n.MemoryMB))
		if best < 0 || short < bestShort {
			best, bestShort = i, short
		}
	}
	return best
}

// waitReason says why j waits, in words a user acts on.
func waitReason(all, usable []berth.Node, reserved []bool, j berth.Job) string {
	need := Shape(j.CPU, j.MemoryMB)
	if len(all) == 0 {
		return "waiting for capacity: no node has joined"
	}
	if len(usable) == 0 {
		return "waiting for capacity: no node is ready (" + notReady(all) + ")"
	}
	var big *berth.Node
	fitsSomewhere := false
	for i := range usable {
		n := &usable[i]
		if big == nil || n.CPU > big.CPU || (n.CPU == big.CPU && n.MemoryMB > big.MemoryMB) {
			big = n
		}
		if j.CPU <= n.CPU+1e-9 && j.MemoryMB <= n.MemoryMB {
			fitsSomewhere = true
		}
	}
	if !fitsSomewhere {
		return fmt.Sprintf("waiting for capacity: job needs %s, larger than any node (largest %s)", need, Shape(big.CPU, big.MemoryMB))
	}
	var free *berth.Node
	for i := range usable {
		n := &usable[i]
		if reserved[i] {
			continue
		}
		if free == nil || n.CPU-n.UsedCPU+float64(n.MemoryMB-n.UsedMemoryMB)/1024 > free.CPU-free.UsedCPU+float64(free.MemoryMB-free.UsedMemoryMB)/1024 {
			free = n
		}
	}
	if free == nil {
		return fmt.Sprintf("waiting for capacity: job needs %s; every node that could fit it is held for an earlier job", need)
	}
	return fmt.Sprintf("waiting for capacity: largest free slot %s, job needs %s", Shape(free.CPU-free.UsedCPU, free.MemoryMB-free.UsedMemoryMB), need)
}

// notReady summarises why the nodes take no work.
func notReady(nodes []berth.Node) string {
	for _, n := range nodes {
		if n.State == berth.NodeReady && !n.Healthy {
			if n.Reason != "" {
				return n.Name + ": " + n.Reason
			}
			return n.Name + " is unhealthy"
		}
	}
	return fmt.Sprintf("%d node(s), none ready", len(nodes))
}

// Shape formats a cpu and memory size: "1.5 vCPU/2 GiB", "0.5 vCPU/256 MiB".
func Shape(cpu float64, memoryMB int64) string {
	mem := fmt.Sprintf("%d MiB", memoryMB)
	if memoryMB >= 1024 {
		mem = fmt.Sprintf("%.3g GiB", float64(memoryMB)/1024)
	}
	return fmt.Sprintf("%.3g vCPU/%s", max(cpu, 0), mem)
}
