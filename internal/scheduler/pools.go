package scheduler

import (
	"fmt"
	"strings"
	"time"

	berth "github.com/berth-run/berth"
)

// pools is the round's view of the pools: host requests made in the round
// count against the pools' sizes.
type pools struct {
	list   []PoolState
	byName map[string]int
	added  []int // hosts requested this round, per pool
	now    time.Time
}

func newPools(list []PoolState, now time.Time) *pools {
	p := &pools{list: list, byName: make(map[string]int, len(list)), added: make([]int, len(list)), now: now}
	for i := range list {
		p.byName[list[i].Spec.Name] = i
	}
	return p
}

// jobContext is what the pools say of one job: the pools that may grow for
// it, its start budget and its overflow runner.
type jobContext struct {
	eligible []int
	budget   time.Duration
	overflow int // index of the serverless pool, or -1
	// direct is set for a job pinned to a serverless pool: it goes there
	// at once, whatever its budget.
	direct bool
}

func (p *pools) context(j *berth.Job) jobContext {
	ctx := jobContext{overflow: -1}
	if len(p.list) == 0 {
		return ctx
	}
	if name := j.Pool; name != "" {
		i, ok := p.byName[name]
		switch {
		case ok && p.list[i].Spec.IsServerless():
			ctx.overflow, ctx.direct = i, true
			return ctx
		case ok:
			ctx.eligible = []int{i}
		}
	} else {
		for i := range p.list {
			if !p.list[i].Spec.IsServerless() {
				ctx.eligible = append(ctx.eligible, i)
			}
		}
	}
	var budgetSet bool
	if j.StartBudget != nil {
		ctx.budget, budgetSet = time.Duration(*j.StartBudget), true
	}
	for _, i := range ctx.eligible {
		s := &p.list[i].Spec
		if !budgetSet && s.StartBudget > 0 {
			ctx.budget, budgetSet = time.Duration(s.StartBudget), true
		}
		if ctx.overflow < 0 && s.Overflow != "" {
			if k, ok := p.byName[s.Overflow]; ok && p.list[k].Spec.IsServerless() {
				ctx.overflow = k
			}
		}
	}
	return ctx
}

// QueuedSince is when j joined the queue: its creation, its run_at or
// backoff, or the end of its last attempt.
func QueuedSince(j *berth.Job) time.Time {
	t := j.CreatedAt
	if j.NotBefore != nil && j.NotBefore.After(t) {
		t = *j.NotBefore
	}
	if a := j.CurrentAttempt(); a != nil && a.FinishedAt != nil && a.FinishedAt.After(t) {
		t = *a.FinishedAt
	}
	return t
}

// never stands for "no capacity is coming".
const never = time.Duration(1<<63 - 1)

// timeToCapacity estimates how long until a host with room for j exists:
// the boot of one on its way, or of one a pool could launch; never when no
// pool can grow for it.
func (p *pools) timeToCapacity(j *berth.Job, ctx jobContext) time.Duration {
	best := never
	for _, i := range ctx.eligible {
		ps := &p.list[i]
		for _, l := range ps.Launching {
			if (l.JobID == "" || l.JobID == j.ID) && fitsShape(j, l.CPU, l.MemoryMB) {
				best = min(best, max(l.ReadyAt.Sub(p.now), 0))
			}
		}
		if p.canGrow(i) && p.cheapestType(i, j) >= 0 {
			best = min(best, time.Duration(ps.Spec.BootTime))
		}
	}
	return best
}

// overflow returns the serverless pool j goes to, and why, or "" when j
// waits: it goes when it has waited so long that the wait for capacity
// would exceed its start budget.
func (p *pools) overflow(j *berth.Job, ctx jobContext) (string, string) {
	if ctx.overflow < 0 || (ctx.budget <= 0 && !ctx.direct) || p.now.IsZero() {
		return "", ""
	}
	o := &p.list[ctx.overflow].Spec
	if !o.Fits(j.CPU, j.MemoryMB) {
		return "", ""
	}
	if ctx.direct {
		return o.Name, fmt.Sprintf("sent to serverless pool %s, the pool it names", o.Name)
	}
	waited := max(p.now.Sub(QueuedSince(j)), 0)
	est := p.timeToCapacity(j, ctx)
	if est != never && waited+est <= ctx.budget {
		return "", ""
	}
	why := "no pool can add capacity for it"
	if est != never {
		why = fmt.Sprintf("waited %s, capacity in %s", waited.Round(time.Second), est.Round(time.Second))
	}
	return o.Name, fmt.Sprintf("overflow to %s: start budget %s would be exceeded (%s)", o.Name, ctx.budget, why)
}

// canGrow reports whether pool i may launch another instance now.
func (p *pools) canGrow(i int) bool {
	ps := &p.list[i]
	s := &ps.Spec
	return !s.IsServerless() && s.Provider != berth.ProviderLocal && ps.Open && ps.Size+p.added[i] < s.Max
}

// price is the current price of type t in pool i.
func (p *pools) price(i int, t berth.InstanceType) float64 {
	ps := &p.list[i]
	if v, ok := ps.Prices[t.Name]; ok {
		return v
	}
	if ps.Spec.Market == berth.Spot && t.SpotPrice > 0 {
		return t.SpotPrice
	}
	return t.Price
}

// cheapestType returns the index of pool i's cheapest available type that
// fits j, or -1.
func (p *pools) cheapestType(i int, j *berth.Job) int {
	ps := &p.list[i]
	best := -1
	for k, t := range ps.Spec.InstanceTypes {
		if ps.Unavailable[t.Name] || !fitsShape(j, t.CPU, t.MemoryMB) {
			continue
		}
		if best < 0 || p.price(i, t) < p.price(i, ps.Spec.InstanceTypes[best]) {
			best = k
		}
	}
	return best
}

// host returns a request for the cheapest host, among the pools that may
// grow for j, that fits it.
func (p *pools) host(j *berth.Job, ctx jobContext) (HostRequest, bool) {
	var h HostRequest
	pool := -1
	for _, i := range ctx.eligible {
		if !p.canGrow(i) {
			continue
		}
		k := p.cheapestType(i, j)
		if k < 0 {
			continue
		}
		t := p.list[i].Spec.InstanceTypes[k]
		if price := p.price(i, t); pool < 0 || price < h.Price {
			pool = i
			h = HostRequest{JobID: j.ID, JobVersion: j.Version, Pool: p.list[i].Spec.Name, InstanceType: t.Name, Market: p.list[i].Spec.Market, Price: price}
		}
	}
	if pool < 0 {
		return h, false
	}
	p.added[pool]++
	return h, true
}

// launchingFor returns the instance launching for job id.
func (p *pools) launchingFor(id string) (Launching, bool) {
	for i := range p.list {
		for _, l := range p.list[i].Launching {
			if l.JobID == id {
				return l, true
			}
		}
	}
	return Launching{}, false
}

// launchingFit returns the shared instance on its way, in a pool j may
// use, that would fit j and is ready first, and its pool.
func (p *pools) launchingFit(j *berth.Job, ctx jobContext) (Launching, string, bool) {
	var best Launching
	pool, ok := "", false
	for _, i := range ctx.eligible {
		for _, l := range p.list[i].Launching {
			if l.JobID == "" && fitsShape(j, l.CPU, l.MemoryMB) && (!ok || l.ReadyAt.Before(best.ReadyAt)) {
				best, pool, ok = l, p.list[i].Spec.Name, true
			}
		}
	}
	return best, pool, ok
}

// stuck says why none of the pools j may use can launch a host for it
// ("pool spot is outside its window; pool od is at its max of 4 hosts"),
// or "" when j may use no pool of the fleet.
func (p *pools) stuck(j *berth.Job, ctx jobContext) string {
	var why []string
	for _, i := range ctx.eligible {
		ps := &p.list[i]
		s := &ps.Spec
		switch {
		case s.IsServerless() || s.Provider == berth.ProviderLocal:
			continue
		case !ps.Open:
			why = append(why, "pool "+s.Name+" is outside its window")
		case ps.Size+p.added[i] >= s.Max:
			why = append(why, fmt.Sprintf("pool %s is at its max of %d hosts", s.Name, s.Max))
		case !s.Fits(j.CPU, j.MemoryMB):
			why = append(why, "pool "+s.Name+" has no instance type that fits it")
		case p.cheapestType(i, j) < 0:
			why = append(why, "pool "+s.Name+" has no instance type that fits it available now")
		}
	}
	return strings.Join(why, "; ")
}

// growing returns a pool j may use that can launch a host that fits it
// ("" if none): the autoscaler's to grow.
func (p *pools) growing(j *berth.Job, ctx jobContext) string {
	for _, i := range ctx.eligible {
		if p.canGrow(i) && p.cheapestType(i, j) >= 0 {
			return p.list[i].Spec.Name
		}
	}
	return ""
}

// launchingAny reports whether any shared instance is on its way.
func (p *pools) launchingAny() bool {
	for i := range p.list {
		for _, l := range p.list[i].Launching {
			if l.JobID == "" {
				return true
			}
		}
	}
	return false
}

func fitsShape(j *berth.Job, cpu float64, mem int64) bool {
	return jobCPU(j.CPU) <= capCPU(cpu) && j.MemoryMB <= mem
}

// overflowWhy turns the reason of an overflow (from overflow) into the
// clause after "because" in the job's reason while it starts and runs on
// the serverless pool.
func overflowWhy(reason string) string {
	if rest, ok := strings.CutPrefix(reason, "overflow to "); ok {
		if _, why, ok := strings.Cut(rest, ": "); ok {
			return "its " + why
		}
	}
	return "the job is pinned to that pool"
}
