package sim

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/autoscale"
	"github.com/berth-run/berth/internal/cost"
	"github.com/berth-run/berth/internal/provider/fakecloud"
)

// The baselines: what users run instead of berth, modelled on what each
// documents. They share berth's placement (binpack) so that the comparison
// is of fleet policies.
const (
	ecsScaleOutAfter = time.Minute      // one datapoint of the 1-minute CapacityProviderReservation alarm
	ecsScaleInAfter  = 15 * time.Minute // fifteen datapoints below target
	batchReactAfter  = 30 * time.Second
	batchIdleFor     = 5 * time.Minute
	batchStartDelay  = 20 * time.Second // RUNNABLE → RUNNING on a ready instance
)

// ecsPolicy is ECS with a capacity provider and managed scaling at a
// target capacity of 100%: one instance type per pool (its launch
// template), scale-out once the reservation has exceeded 100% for a
// minute, scale-in after fifteen minutes below it, never an instance that
// runs tasks (managed termination protection); no overflow and no host of
// its own for a large task.
func ecsPolicy() *policy {
	s := &ecsScaler{since: map[string]time.Time{}}
	return &policy{
		name: "ecs-managed-scaling",
		pools: func(sc *Scenario, jobs []Job) []berth.PoolSpec {
			var out []berth.PoolSpec
			for _, p := range nodePools(sc) {
				c, m := largestFor(jobs, p.Name, sc)
				p.InstanceTypes = []berth.InstanceType{fittingType(p.InstanceTypes, c, m)}
				p.Overflow, p.StartBudget = "", 0
				out = append(out, p)
			}
			return out
		},
		scale: s.decide,
		start: noStart,
	}
}

// largestFor is the largest job that pool may run: those pinned to it, and
// the unpinned ones.
func largestFor(jobs []Job, pool string, sc *Scenario) (float64, int64) {
	var c float64
	var m int64
	for _, j := range jobs {
		if j.Pool == "" || j.Pool == pool {
			c, m = max(c, j.CPU), max(m, j.MemoryMB)
		}
	}
	return c, m
}

type ecsScaler struct {
	since map[string]time.Time // pool+direction → since when the alarm holds
}

func (s *ecsScaler) decide(snap autoscale.Snapshot) autoscale.Plan {
	var plan autoscale.Plan
	waiting := assignFirstFit(snap)
	for i := range snap.Pools {
		p := &snap.Pools[i]
		act := func(a autoscale.Action) { a.Pool = p.Spec.Name; plan.Actions = append(plan.Actions, a) }
		terminateDrained(p, act)
		if !p.Open {
			closeAll(p, act)
			continue
		}
		t := p.Offerings[0]
		n, busy := 0, 0
		for _, h := range p.Hosts {
			if h.State != autoscale.Draining {
				n++
				if h.Busy() {
					busy++
				}
			}
		}
		m := max(busy, p.Spec.Min)
		if ws := waiting[i]; len(ws) > 0 {
			var c, mem float64
			for _, w := range ws {
				c, mem = c+w.CPU, mem+float64(w.MemoryMB)
			}
			m = n + max(1, int(math.Ceil(max(c/t.CPU, mem/float64(t.MemoryMB)))))
		}
		m = min(m, p.Spec.Max)
		out, in := p.Spec.Name+"/out", p.Spec.Name+"/in"
		switch {
		case m > n:
			delete(s.since, in)
			if held(s.since, out, snap.Now, ecsScaleOutAfter) && !t.Unavailable {
				for range m - n {
					act(autoscale.Action{Kind: autoscale.Launch, InstanceType: t.InstanceType, Market: p.Spec.Market})
				}
				delete(s.since, out)
			}
		case m < n:
			delete(s.since, out)
			if held(s.since, in, snap.Now, ecsScaleInAfter) {
				removeIdle(p, n-m, act)
				delete(s.since, in)
			}
		default:
			delete(s.since, out)
			delete(s.since, in)
		}
	}
	return plan
}

// held reports whether the alarm key has held for d, starting it now if
// it was not holding.
func held(since map[string]time.Time, key string, now time.Time, d time.Duration) bool {
	t, ok := since[key]
	if !ok {
		since[key] = now
		return d == 0
	}
	return now.Sub(t) >= d
}

// assignFirstFit gives each waiting job to its pool, or to the first open
// pool whose type fits it.
func assignFirstFit(snap autoscale.Snapshot) [][]autoscale.Waiting {
	out := make([][]autoscale.Waiting, len(snap.Pools))
	for _, w := range snap.Waiting {
		for i := range snap.Pools {
			p := &snap.Pools[i]
			if (w.Pool == "" || w.Pool == p.Spec.Name) && p.Open && fitsAny(p.Offerings, w) {
				out[i] = append(out[i], w)
				break
			}
		}
	}
	return out
}

func fitsAny(os []autoscale.Offering, w autoscale.Waiting) bool {
	for _, o := range os {
		if w.CPU <= o.CPU+1e-9 && w.MemoryMB <= o.MemoryMB {
			return true
		}
	}
	return false
}

// terminateDrained terminates draining hosts that run nothing.
func terminateDrained(p *autoscale.Pool, act func(autoscale.Action)) {
	for _, h := range p.Hosts {
		if h.State == autoscale.Draining && !h.Busy() {
			act(autoscale.Action{Kind: autoscale.Terminate, Host: h.ID})
		}
	}
}

// closeAll drains a closed pool and terminates its idle hosts.
func closeAll(p *autoscale.Pool, act func(autoscale.Action)) {
	for _, h := range p.Hosts {
		if h.State != autoscale.Draining {
			act(autoscale.Action{Kind: autoscale.Drain, Host: h.ID, Reason: autoscale.DrainWindow})
			if !h.Busy() {
				act(autoscale.Action{Kind: autoscale.Terminate, Host: h.ID})
			}
		}
	}
}

// removeIdle terminates up to n idle ready hosts.
func removeIdle(p *autoscale.Pool, n int, act func(autoscale.Action)) {
	for _, h := range p.Hosts {
		if n == 0 {
			return
		}
		if h.State == autoscale.Ready && !h.Busy() {
			act(autoscale.Action{Kind: autoscale.Drain, Host: h.ID, Reason: autoscale.DrainScaleIn})
			act(autoscale.Action{Kind: autoscale.Terminate, Host: h.ID})
			n--
		}
	}
}

// batchPolicy is AWS Batch with a managed Spot compute environment in
// place of the scenario's elastic pools (those with no minimum; always-on
// pools stay, as the user's warm capacity): Spot only, the elastic pools'
// instance types ("optimal"), capacity for the vCPUs of the queue on the
// largest available type after half a minute, idle instances gone after
// five minutes, and a Spot reclaim spending one of the job's three
// attempts.
func batchPolicy() *policy {
	s := &batchScaler{since: map[string]time.Time{}}
	return &policy{
		name: "aws-batch",
		pools: func(sc *Scenario, jobs []Job) []berth.PoolSpec {
			p := berth.PoolSpec{Name: "batch", Provider: berth.ProviderFake, Market: berth.Spot}
			var out []berth.PoolSpec
			for _, q := range nodePools(sc) {
				if q.Min > 0 {
					out = append(out, q) // always-on hosts are the user's, not the policy's
					continue
				}
				for _, t := range q.InstanceTypes {
					if !slices.ContainsFunc(p.InstanceTypes, func(x berth.InstanceType) bool { return x.Name == t.Name }) {
						p.InstanceTypes = append(p.InstanceTypes, t)
					}
				}
				p.Max += q.Max
			}
			return append([]berth.PoolSpec{p.WithDefaults()}, out...)
		},
		scale:              s.decide,
		start:              noStart,
		reclaimSpendsRetry: true,
		startDelay:         batchStartDelay,
	}
}

type batchScaler struct {
	since map[string]time.Time
}

func (s *batchScaler) decide(snap autoscale.Snapshot) autoscale.Plan {
	var plan autoscale.Plan
	for i := 1; i < len(snap.Pools); i++ { // the always-on pools keep their hosts while open
		q := &snap.Pools[i]
		if !q.Open {
			act := func(a autoscale.Action) { a.Pool = q.Spec.Name; plan.Actions = append(plan.Actions, a) }
			terminateDrained(q, act)
			closeAll(q, act)
			continue
		}
		for n := len(q.Hosts); n < q.Spec.Min; n++ {
			plan.Actions = append(plan.Actions, autoscale.Action{Kind: autoscale.Launch, Pool: q.Spec.Name, InstanceType: q.Offerings[0].InstanceType, Market: q.Spec.Market})
		}
	}
	p := &snap.Pools[0]
	act := func(a autoscale.Action) { a.Pool = p.Spec.Name; plan.Actions = append(plan.Actions, a) }
	terminateDrained(p, act)
	var want, have float64
	n := len(p.Hosts)
	for _, h := range p.Hosts {
		if h.State != autoscale.Draining {
			have += h.CPU
			want += h.UsedCPU
		}
	}
	for _, w := range snap.Waiting {
		if w.Pool == "" || w.Pool == p.Spec.Name || !slices.ContainsFunc(snap.Pools[1:], func(q autoscale.Pool) bool { return q.Spec.Name == w.Pool }) {
			want += w.CPU
		}
	}
	if want > have+1e-9 {
		if held(s.since, "out", snap.Now, batchReactAfter) {
			delete(s.since, "out")
			var big *autoscale.Offering
			for i := range p.Offerings {
				o := &p.Offerings[i]
				if !o.Unavailable && (big == nil || o.CPU > big.CPU) {
					big = o
				}
			}
			if big != nil {
				for k := int(math.Ceil((want - have) / big.CPU)); k > 0 && n < p.Spec.Max; k-- {
					act(autoscale.Action{Kind: autoscale.Launch, InstanceType: big.InstanceType, Market: berth.Spot})
					n++
				}
			}
		}
	} else {
		delete(s.since, "out")
	}
	for _, h := range p.Hosts {
		if h.State == autoscale.Ready && !h.Busy() && !h.IdleSince.IsZero() && snap.Now.Sub(h.IdleSince) >= batchIdleFor {
			act(autoscale.Action{Kind: autoscale.Drain, Host: h.ID, Reason: autoscale.DrainScaleIn})
			act(autoscale.Action{Kind: autoscale.Terminate, Host: h.ID})
		}
	}
	return plan
}

// fargateOnly is every job on Fargate: each pays its start latency and run
// at Fargate's prices and within its limits (the scenario's serverless
// pool's, if it has one). Jobs larger than those limits are priced as if
// it took them, but Fargate refuses them: they count as lost, and as
// deadlines missed.
func fargateOnly(sc *Scenario, jobs []Job, seed uint64) Result {
	price := berth.Serverless{VCPUSecond: berth.FargateVCPUSecond, GBSecond: berth.FargateGBSecond,
		MaxCPU: berth.FargateMaxCPU, MaxMemoryMB: berth.FargateMaxMemoryMB}
	for _, p := range sc.Pools {
		if p.IsServerless() {
			price = *p.WithDefaults().Serverless
			break
		}
	}
	r := rand.New(rand.NewPCG(seed, 0xfa6))
	res := Result{Name: "fargate-only", JobsTotal: len(jobs)}
	var waits, warm []time.Duration
	for _, j := range jobs {
		lat := fakecloud.DrawLatency(r, fakecloud.DefaultMinStartLatency, fakecloud.DefaultMaxStartLatency)
		res.CostUSD += cost.Serverless(price, j.CPU, j.MemoryMB, lat+j.Run)
		if j.CPU > price.MaxCPU+1e-9 || j.MemoryMB > price.MaxMemoryMB {
			res.JobsLost++
			if !j.Deadline.IsZero() {
				res.DeadlineMisses++
			}
			continue
		}
		res.JobsSucceeded++
		waits = append(waits, lat)
		if !j.Deadline.IsZero() && j.Submit.Add(lat+j.Run).After(j.Deadline) {
			res.DeadlineMisses++
		}
	}
	res.WaitP50, res.WaitP99 = percentile(waits, 0.5), percentile(waits, 0.99)
	res.WarmStartP99 = percentile(warm, 0.99)
	return res
}
