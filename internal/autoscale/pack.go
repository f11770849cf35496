package autoscale

import (
	"fmt"
	"time"

	berth "github.com/berth-run/berth"
	"math"
	"slices"
)

// bin is free capacity waiting work is packed into.
type bin struct {
	cpu float64
	mem int64
}

func (b *bin) take(w Waiting) bool {
	if !fits(w.CPU, w.MemoryMB, b.cpu, b.mem) {
		return false
	}
	b.cpu -= w.CPU
	b.mem -= w.MemoryMB
	return true
}

// packLimit bounds the jobs weighed when choosing a new host's type.
const packLimit = 256

// tieMargin is how close two prices per unit of work count as equal: the
// smaller host is then chosen, since a burst's jobs of unlike lengths
// leave the room of early finishers idle on a shared host.
const tieMargin = 0.02

// spreadMargin is how much dearer per unit of work a Spot type may be and
// still be chosen to spread the pool over several types.
const spreadMargin = 0.05

// scaleOut grows the pool when its waiting work does not fit its free
// capacity: the work is packed, largest first, into the free room of its
// hosts (hosts on their way included, hosts drained for scale-in taken
// back), and what is left opens new hosts; the minimum is kept.
func (d *decider) scaleOut() {
	p := d.p
	var bins []bin
	for _, h := range p.Hosts {
		if takesWork(&h) {
			bins = append(bins, bin{h.CPU - h.UsedCPU, h.MemoryMB - h.UsedMemoryMB})
		}
	}
	left := slices.Clone(d.waiting)
	slices.SortStableFunc(left, func(a, b Waiting) int { return -cmpFloat(d.size(a), d.size(b)) })
	left = packInto(bins, left)
	// Hosts drained for scale-in come back before new ones are bought.
	for _, h := range p.Hosts {
		if len(left) == 0 {
			break
		}
		if h.State == Draining && (h.DrainReason == DrainScaleIn || h.DrainReason == DrainCheaper) && h.ForJob == "" {
			b := []bin{{h.CPU - h.UsedCPU, h.MemoryMB - h.UsedMemoryMB}}
			if rest := packInto(b, left); len(rest) < len(left) {
				left = rest
				d.planned = append(d.planned, bin{h.CPU - h.UsedCPU, h.MemoryMB - h.UsedMemoryMB})
				d.act(Action{Kind: Undrain, Host: h.ID, Reason: "work is waiting"})
			}
		}
	}
	n := live(p) - d.count(Terminate)
	count := d.typeCounts()
	for len(left) > 0 {
		// At the max, idle hosts that no waiting job fits give up their
		// slots to hosts the work needs, down to the minimum.
		for n >= p.Spec.Max && d.activeAfter() > p.Spec.Min {
			id := d.unfitHost()
			if id == "" {
				break
			}
			d.release(id)
			n--
		}
		if n >= p.Spec.Max {
			break
		}
		o := d.chooseType(left, count, p.Spec.Max-n)
		if o < 0 {
			break // nothing the pool offers fits the largest waiting job
		}
		of := p.Offerings[o]
		d.planned = append(d.planned, bin{of.CPU, of.MemoryMB})
		left = packInto([]bin{{of.CPU, of.MemoryMB}}, left)
		count[of.InstanceType]++
		n++
		d.act(Action{Kind: Launch, InstanceType: of.InstanceType, Market: p.Spec.Market, Alternatives: alternatives(p.Offerings, o),
			Reason: fmt.Sprintf("%d job(s) waiting; room for %.0f of the largest", len(d.waiting), d.metric.Schedulable)})
	}
	for active := d.activeHosts(); active < p.Spec.Min && n < p.Spec.Max; active++ {
		o := cheapestFit(p.Offerings, 0, 0)
		if o < 0 {
			return
		}
		n++
		d.planned = append(d.planned, bin{p.Offerings[o].CPU, p.Offerings[o].MemoryMB})
		d.act(Action{Kind: Launch, InstanceType: p.Offerings[o].InstanceType, Market: p.Spec.Market,
			Reason: fmt.Sprintf("below the minimum of %d", p.Spec.Min)})
	}
}

// activeHosts counts the hosts that are not draining and not launched for
// one job, plus those undrained in this plan.
func (d *decider) activeHosts() int {
	n := 0
	for _, h := range d.p.Hosts {
		if h.State != Draining && h.ForJob == "" {
			n++
		}
	}
	for _, a := range d.actions {
		if a.Kind == Undrain {
			n++
		}
	}
	return n
}

// activeAfter counts the hosts that will be active once the plan so far
// is applied: those not draining and not launched for one job, less those
// released, plus those launched or taken back.
func (d *decider) activeAfter() int {
	n := 0
	for _, h := range d.p.Hosts {
		if h.State != Draining && h.ForJob == "" && !d.unfit[h.ID] {
			n++
		}
	}
	return n + len(d.planned)
}

// count counts the actions of kind k planned so far.
func (d *decider) count(k ActionKind) int {
	n := 0
	for _, a := range d.actions {
		if a.Kind == k {
			n++
		}
	}
	return n
}

// typeCounts counts the pool's live hosts by type.
func (d *decider) typeCounts() map[string]int {
	m := make(map[string]int)
	for _, h := range d.p.Hosts {
		m[h.InstanceType]++
	}
	return m
}

// chooseType returns the offering for a new host for the waiting work
// left (largest first), of the available types that fit the first job:
// the one with the lowest price per unit of work it would take when packed
// (the smaller on a tie; for Spot, among those within spreadMargin of it,
// the one the pool has fewest hosts of); or, when that type would need
// more hosts than the slots left under max and the pool has a start
// budget, the cheapest of those that take enough work each to fit, else
// the one that takes the most. -1 if none fits.
func (d *decider) chooseType(left []Waiting, count map[string]int, slotsLeft int) int {
	p := d.p
	first := left[0]
	score := make([]float64, len(p.Offerings))
	work := make([]float64, len(p.Offerings))
	best := -1
	total := 0.0
	for _, w := range left {
		total += workOf(w)
	}
	for i, o := range p.Offerings {
		score[i] = math.Inf(1)
		if o.Unavailable || !fits(first.CPU, first.MemoryMB, o.CPU, o.MemoryMB) {
			continue
		}
		b := bin{o.CPU, o.MemoryMB}
		k := 0
		for _, w := range left[:min(len(left), packLimit)] {
			if b.take(w) {
				work[i] += workOf(w)
				k++
			}
		}
		score[i] = o.Price / (work[i] * shared(k)) * (1 + o.InterruptionRate*interruptionCost.Hours())
		if best < 0 || score[i] < score[best]*(1-tieMargin) || (score[i] <= score[best]*(1+tieMargin) && o.CPU < p.Offerings[best].CPU) {
			best = i
		}
	}
	if best < 0 {
		return -1
	}
	if total/work[best] > float64(slotsLeft) && p.Spec.StartBudget > 0 {
		// Too few slots for hosts this size, and the work may not wait
		// long: the cheapest per unit of those that take enough work
		// each to fit the rest in the slots left, or else the one that
		// takes the most. (Without a start budget the work waits for the
		// room that right-sized hosts leave as their jobs end: no room
		// is left idle on a shared host by its early finishers.)
		need := total / float64(slotsLeft)
		most, enough := best, -1
		for i := range p.Offerings {
			if math.IsInf(score[i], 1) {
				continue
			}
			if work[i] > work[most] || (work[i] == work[most] && score[i] < score[most]) {
				most = i
			}
			if work[i] >= need*(1-1e-9) && (enough < 0 || score[i] < score[enough]*(1-tieMargin) ||
				(score[i] <= score[enough]*(1+tieMargin) && work[i] < work[enough])) {
				enough = i
			}
		}
		if enough >= 0 {
			return enough
		}
		return most
	}
	if p.Spec.Market != berth.Spot {
		return best
	}
	pick := best
	for i, o := range p.Offerings {
		if score[i] <= score[best]*(1+spreadMargin) && count[o.InstanceType] < count[p.Offerings[pick].InstanceType] {
			pick = i
		}
	}
	return pick
}

// interruptionCost is the host time a Spot interruption is assumed to
// waste: the progress of the jobs it ends and the boot of a replacement.
const interruptionCost = time.Hour

// runSpread is the assumed spread of the run times of jobs that share a
// host: from runSpread of the longest to the longest, evenly.
const runSpread = 0.4

// shared is the part of a host's time that k jobs packed into it together
// are expected to use, the host being held until the last of them ends:
// with run times spread evenly over [s·T, T], the mean over the expected
// longest, (1+s)/2 ÷ (s + (1−s)·k/(k+1)). One job uses all of it. Weighing
// it keeps a burst of jobs of unlike lengths on right-sized hosts unless a
// larger one is cheaper by more than the room its early finishers leave.
func shared(k int) float64 {
	if k <= 1 {
		return 1
	}
	f := float64(k) / float64(k+1)
	return (1 + runSpread) / 2 / (runSpread + (1-runSpread)*f)
}

// workOf weighs a job in vCPU-equivalents, a vCPU being worth 4 GiB.
func workOf(w Waiting) float64 { return max(w.CPU, float64(w.MemoryMB)/4096) }

// packInto packs ws, in order, best fit into bins, and returns those that
// did not fit.
func packInto(bins []bin, ws []Waiting) []Waiting {
	var rest []Waiting
	for _, w := range ws {
		best := -1
		for i := range bins {
			b := &bins[i]
			if fits(w.CPU, w.MemoryMB, b.cpu, b.mem) && (best < 0 || b.cpu < bins[best].cpu || (b.cpu == bins[best].cpu && b.mem < bins[best].mem)) {
				best = i
			}
		}
		if best < 0 {
			rest = append(rest, w)
			continue
		}
		bins[best].take(w)
	}
	return rest
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// alternatives are the types a provider may launch instead of offering o,
// for the same work at about its price: available, at least as large in
// vCPUs and memory, and priced within spreadMargin of it. A provider that
// weighs capacity (EC2 Fleet) then finds room where o has none.
func alternatives(offerings []Offering, o int) []string {
	of := offerings[o]
	var out []string
	for i, x := range offerings {
		if i == o || x.Unavailable || x.CPU+1e-9 < of.CPU || x.MemoryMB < of.MemoryMB || x.Price > of.Price*(1+spreadMargin) {
			continue
		}
		out = append(out, x.InstanceType)
	}
	return out
}
