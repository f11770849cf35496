// Package sim runs berth's placement and autoscaling against the fake
// cloud in virtual time, over a scenario's workload and Spot markets, and
// reports what it cost beside a lower bound and the policies users would
// otherwise pick: a fixed on-demand fleet for the peak, Fargate alone, ECS
// managed scaling and AWS Batch on Spot. A run is a discrete-event
// simulation: deterministic for a seed, a week of a 500-host fleet in
// seconds.
package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/config"
	"github.com/berth-run/berth/internal/cost"
	"github.com/berth-run/berth/internal/deadline"
	"github.com/berth-run/berth/internal/provider/fakecloud"
	"github.com/berth-run/berth/internal/scheduler"
)

// Options tune a run.
type Options struct {
	Seed uint64
	// SpotTraces, when set, replaces the scenario's traces, the instance
	// types' own spot_trace included: files, or folders whose .json files
	// are taken in name order. They are read as spot.inverted says;
	// relative paths start from the current folder, not the scenario's.
	SpotTraces []string
	// Workload, when set, is the path of the workload log of the
	// scenario's swf groups.
	Workload string
	// Progress, when set, is told the fraction of the horizon simulated so
	// far, now and then.
	Progress func(float64)
	// Baselines runs the baselines too.
	Baselines bool
	// DeadlinePolicy, when set, runs berth's jobs that have a deadline
	// through it, as the server does (their expected duration is their run
	// time): Spot, on-demand or wait, and moves to on-demand. Unset, berth
	// meets deadlines by capacity alone.
	DeadlinePolicy deadline.Policy
}

// Result is what one policy's run measured.
type Result struct {
	Name           string
	CostUSD        float64
	JobsTotal      int
	JobsSucceeded  int
	JobsLost       int
	DeadlineMisses int
	Interruptions  int
	WaitP50        time.Duration
	WaitP99        time.Duration
	// WarmStartP99 is the 99th percentile wait of the jobs that a ready
	// host had room for when they came.
	WarmStartP99  time.Duration
	IdleNodeHours float64
	Spend         Spend
	MaxHosts      int
	// BusyTerminations counts hosts terminated while they ran work: 0
	// for a correct policy.
	BusyTerminations int
	Overflowed       int
	// Overcommits and BadPlacements count placements on a host without
	// room, or on one that takes no work: 0 for a correct scheduler.
	Overcommits   int
	BadPlacements int
	Makespan      time.Duration // from the start to the last job's end
	Ledger        cost.Ledger
	Hosts         []HostRecord
	Attempts      []AttemptRecord // in the order they started
}

// Spend is where a run's host time and money went. The vCPU-hours paid
// for hosts are those of attempts that succeeded (Work), of attempts that
// Spot took back or a move ended (Lost), of boots, of idle time after a
// host's last attempt (the scale-in delay, or a whole life without work),
// and the rest: room left free beside running work.
type Spend struct {
	Paid, Work, Lost, Booting, IdleEnd  float64 // vCPU-hours
	SpotUSD, OnDemandUSD, ServerlessUSD float64
}

// Use is the share of the paid vCPU-hours that attempts ran (work Spot
// took back included), 0 with none paid.
func (s Spend) Use() float64 {
	if s.Paid == 0 {
		return 0
	}
	return (s.Work + s.Lost) / s.Paid
}

// Free is the paid vCPU-hours beside running work.
func (s Spend) Free() float64 { return max(s.Paid-s.Work-s.Lost-s.Booting-s.IdleEnd, 0) }

// HostRecord is one host of a run.
type HostRecord struct {
	ID, Pool, InstanceType string
	Launched, Ended        time.Time
	ForJob                 string // set for a host launched for one job
	Jobs                   int    // attempts it ran
	Ready                  time.Time
	LastBusy               time.Time // when its last attempt ended
	WorkCPUHours           float64   // vCPU-hours its attempts ran
}

// AttemptRecord is one attempt of a job in a run.
type AttemptRecord struct {
	JobID, Pool string
	Market      berth.Market // on-demand for the overflow runner
	Started     time.Time
	Ended       time.Time // zero when it still ran at the run's end
	End         AttemptEnd
}

// AttemptEnd says how an attempt ended.
type AttemptEnd string

// How attempts end.
const (
	AttemptSucceeded AttemptEnd = "succeeded"
	// AttemptRequeued: lost to the infrastructure (a Spot notice, a
	// reclaim, a termination) and queued again.
	AttemptRequeued AttemptEnd = "requeued"
	// AttemptMoved: stopped by the deadline policy and queued again for
	// on-demand.
	AttemptMoved AttemptEnd = "moved"
)

// Report is the outcome of a scenario.
type Report struct {
	Scenario      string
	Seed          uint64
	Berth         Result
	LowerBoundUSD float64
	Baselines     []Result // in a fixed order
}

// Run simulates the scenario with berth's policy and, if asked, the
// baselines. It stops early with ctx's error when ctx ends.
func Run(ctx context.Context, sc *Scenario, opt Options) (*Report, error) {
	sc, err := sc.withOptions(opt)
	if err != nil {
		return nil, err
	}
	jobs, err := sc.Workload(opt.Seed)
	if err != nil {
		return nil, err
	}
	if len(jobs) == 0 {
		return nil, fmt.Errorf("scenario %s: the workload has no jobs", sc.Name)
	}
	rep := &Report{Scenario: sc.Name, Seed: opt.Seed}
	progress := opt.Progress
	if progress != nil && opt.Baselines {
		// berth's run is the first of four simulated runs.
		progress = func(f float64) { opt.Progress(f / 4) }
	}
	b, cloud, err := simulate(ctx, sc, jobs, berthPolicy(opt.DeadlinePolicy), opt.Seed, progress)
	if err != nil {
		return nil, err
	}
	rep.Berth = b
	rep.LowerBoundUSD = lowerBound(sc, sc.Pools, jobs, cloud.SpotMarket)
	if !opt.Baselines {
		return rep, nil
	}
	for i, pol := range []*policy{fixedPolicy(), ecsPolicy(), batchPolicy()} {
		var pr func(float64)
		if opt.Progress != nil {
			k := float64(i + 1)
			pr = func(f float64) { opt.Progress((k + f) / 4) }
		}
		r, _, err := simulate(ctx, sc, jobs, pol, opt.Seed, pr)
		if err != nil {
			return nil, err
		}
		rep.Baselines = append(rep.Baselines, r)
	}
	rep.Baselines = append(rep.Baselines, fargateOnly(sc, jobs, opt.Seed))
	if opt.Progress != nil {
		opt.Progress(1)
	}
	return rep, nil
}

// withOptions returns a copy of sc with the traces and the workload log
// of opt in place of its own. A flag's paths are the caller's: they are
// made absolute, and the scenario's own paths still start from its folder.
func (sc *Scenario) withOptions(opt Options) (*Scenario, error) {
	c := *sc
	if len(opt.SpotTraces) > 0 {
		files, err := traceFiles(opt.SpotTraces)
		if err != nil {
			return nil, err
		}
		c.Spot.Traces = files
		// The traces replace the types' own too.
		c.Pools = slices.Clone(sc.Pools)
		for i := range c.Pools {
			p := &c.Pools[i]
			p.InstanceTypes = slices.Clone(p.InstanceTypes)
			for j := range p.InstanceTypes {
				p.InstanceTypes[j].SpotTrace, p.InstanceTypes[j].SpotTraceInverted = "", false
			}
		}
	}
	if opt.Workload != "" {
		path, err := filepath.Abs(opt.Workload)
		if err != nil {
			return nil, fmt.Errorf("workload: %w", err)
		}
		c.Jobs = slices.Clone(sc.Jobs)
		for i := range c.Jobs {
			if c.Jobs[i].SWF != nil {
				s := *c.Jobs[i].SWF
				s.Path = path
				c.Jobs[i].SWF = &s
			}
		}
	}
	return &c, nil
}

// traceFiles expands folders into their .json files, as absolute paths.
func traceFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		p, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("spot trace: %w", err)
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("spot trace: %w", err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		m, err := filepath.Glob(filepath.Join(p, "*.json"))
		if err != nil || len(m) == 0 {
			return nil, fmt.Errorf("spot trace: no .json file in %s", p)
		}
		sort.Strings(m)
		out = append(out, m...)
	}
	return out, nil
}

// simulate runs pol over jobs.
func simulate(ctx context.Context, sc *Scenario, jobs []Job, pol *policy, seed uint64, progress func(float64)) (Result, *fakecloud.Cloud, error) {
	e, err := newEngine(sc, jobs, pol, seed, progress)
	if err != nil {
		return Result{}, nil, err
	}
	if err := e.run(ctx); err != nil {
		return Result{}, nil, err
	}
	return e.result(), e.cloud, nil
}

// newEngine sets up a run of pol over jobs at the scenario's start: its
// cloud and pools, and the jobs, none submitted yet.
func newEngine(sc *Scenario, jobs []Job, pol *policy, seed uint64, progress func(float64)) (*engine, error) {
	e := &engine{sc: sc, pol: pol, rng: rand.New(rand.NewPCG(seed, 0x51e)), progress: progress,
		byName: map[string]*spool{}, byID: map[string]*host{}, notices: map[string][]time.Time{},
		jobByID: make(map[string]*sjob, len(jobs)), cluster: scheduler.NewCluster(nil)}
	e.now = sc.Start
	if pol.deadlines != nil {
		e.dl = newDeadlines(pol.deadlines)
	}
	boot := time.Duration(sc.BootTime)
	if pol.bootTime != 0 {
		boot = pol.bootTime
	}
	e.cloud = fakecloud.New(fakecloud.Config{Clock: func() time.Time { return e.now }, BootTime: boot, RebalanceLead: 0})
	pools := pol.pools(sc, jobs)
	if err := setMarkets(e.cloud, sc, pools, seed); err != nil {
		return nil, err
	}
	for _, spec := range pools {
		p := &spool{spec: spec}
		if spec.Window != nil {
			w, err := config.ParseWindow(*spec.Window)
			if err != nil {
				return nil, err
			}
			p.window = &w
		}
		if !spec.IsServerless() {
			p.api = e.cloud.Pool(spec)
		}
		e.pools = append(e.pools, p)
		e.byName[spec.Name] = p
	}
	names := map[string]bool{}
	for _, p := range pools {
		names[p.Name] = true
	}
	e.jobs = make([]*sjob, len(jobs))
	for i, j := range jobs {
		if !names[j.Pool] {
			j.Pool = "" // the policy has no such pool: any of its pools will do
		}
		sj := &sjob{Job: j}
		sj.bj = berth.Job{ID: j.ID, JobSpec: berth.JobSpec{CPU: j.CPU, MemoryMB: j.MemoryMB, Priority: j.Priority, Pool: j.Pool}, State: berth.Queued}
		if j.StartBudget != nil {
			b := berth.Duration(*j.StartBudget)
			sj.bj.StartBudget = &b
		}
		if pol.dueJobs && !j.Deadline.IsZero() {
			// As its user would give it: the deadline, and the run time
			// as the expected duration.
			dl := j.Deadline
			sj.bj.Deadline, sj.bj.ExpectedDuration = &dl, berth.Duration(j.Run)
		}
		e.jobs[i] = sj
		e.jobByID[j.ID] = sj
	}
	e.remaining = len(jobs)
	e.limit = sc.Start.Add(time.Duration(sc.Horizon) + overtime)
	return e, nil
}

// setMarkets gives every Spot type of pools its market: its own trace,
// the scenario's traces round robin, or the seeded generator; the mean
// price is the type's spot_price, or 35% of on-demand.
func setMarkets(c *fakecloud.Cloud, sc *Scenario, pools []berth.PoolSpec, seed uint64) error {
	var types []berth.InstanceType
	for _, p := range sc.Pools {
		if p.Market != berth.Spot {
			continue
		}
		for _, t := range p.InstanceTypes {
			if !slices.ContainsFunc(types, func(x berth.InstanceType) bool { return x.Name == t.Name }) {
				types = append(types, t)
			}
		}
	}
	for _, p := range pools { // the baselines' pools may list more types
		for _, t := range p.InstanceTypes {
			if !slices.ContainsFunc(types, func(x berth.InstanceType) bool { return x.Name == t.Name }) {
				types = append(types, t)
			}
		}
	}
	traces := map[string]fakecloud.Trace{}
	load := func(path string, inverted bool) (fakecloud.Trace, error) {
		if tr, ok := traces[path]; ok {
			return tr, nil
		}
		tr, err := fakecloud.LoadTrace(path, inverted)
		if err != nil {
			return tr, err
		}
		traces[path] = tr
		return tr, nil
	}
	start := sc.Start.Add(-time.Duration(sc.Spot.Offset))
	horizon := time.Duration(sc.Horizon) + overtime
	for i, t := range types {
		mean := t.SpotPrice
		if mean == 0 {
			mean = 0.35 * t.Price
		}
		var tr fakecloud.Trace
		var err error
		switch {
		case t.SpotTrace != "":
			tr, err = load(sc.path(t.SpotTrace), t.SpotTraceInverted)
		case len(sc.Spot.Traces) > 0:
			tr, err = load(sc.path(sc.Spot.Traces[i%len(sc.Spot.Traces)]), sc.Spot.Inverted)
		case sc.Spot.Generator != nil:
			g := fakecloud.Generator{MeanUp: time.Duration(sc.Spot.Generator.MeanUp), MeanDown: time.Duration(sc.Spot.Generator.MeanDown)}
			tr = g.Generate(seed*1000+uint64(i), horizon)
		default:
			c.SetSpotMarket(t.Name, fakecloud.AlwaysAvailable(mean))
			continue
		}
		if err != nil {
			return err
		}
		c.SetSpotMarket(t.Name, fakecloud.NewSpotMarket(tr, start, mean))
	}
	return nil
}

// pricer returns the price of t in p over time.
func (e *engine) pricer(p *spool, t berth.InstanceType) cost.Price {
	if p.spec.Market == berth.Spot {
		if m := e.cloud.SpotMarket(t.Name); m != nil {
			return m
		}
	}
	return cost.Fixed(t.Price)
}

// result summarises the run.
func (e *engine) result() Result {
	r := Result{Name: e.pol.name, JobsTotal: len(e.jobs), Interruptions: e.st.interruptions, MaxHosts: e.st.maxHosts,
		BusyTerminations: e.st.busyTerminations, Overflowed: e.st.overflowed, Ledger: e.st.ledger, Attempts: e.st.attempts,
		Overcommits: e.st.overcommits, BadPlacements: e.st.badPlacements}
	r.CostUSD = e.st.hostUSD + e.st.serverlessUSD
	var waits, warm []time.Duration
	var last time.Time
	for _, j := range e.jobs {
		switch j.state {
		case jobDone:
			r.JobsSucceeded++
			if j.finished.After(last) {
				last = j.finished
			}
			if !j.Deadline.IsZero() && j.finished.After(j.Deadline) {
				r.DeadlineMisses++
			}
		default:
			r.JobsLost++
			if !j.Deadline.IsZero() {
				r.DeadlineMisses++
			}
		}
		if !j.firstStart.IsZero() {
			w := j.firstStart.Sub(j.Submit)
			waits = append(waits, w)
			if j.warm {
				warm = append(warm, w)
			}
		}
	}
	sp := &r.Spend
	for _, h := range e.hosts {
		r.IdleNodeHours += h.idleHours
		c := h.typ.CPU
		ready := h.readyAt // a host that never became ready booted all its life
		if ready.IsZero() || ready.After(h.endAt) {
			ready = h.endAt
		}
		idleFrom := h.lastBusy // a host that ran nothing idled from its boot
		if idleFrom.IsZero() {
			idleFrom = ready
		}
		sp.Paid += c * h.endAt.Sub(h.launchedAt).Hours()
		sp.Work += h.workCPU - h.lostCPU
		sp.Lost += h.lostCPU
		sp.Booting += c * ready.Sub(h.launchedAt).Hours()
		sp.IdleEnd += c * max(h.endAt.Sub(idleFrom), 0).Hours()
		rec := HostRecord{ID: h.id, Pool: h.pool.spec.Name, InstanceType: h.typ.Name, Launched: h.launchedAt, Ended: h.endAt, Jobs: h.attempts,
			Ready: h.readyAt, LastBusy: h.lastBusy, WorkCPUHours: h.workCPU}
		if h.forJob != nil {
			rec.ForJob = h.forJob.ID
		}
		r.Hosts = append(r.Hosts, rec)
	}
	sp.SpotUSD = e.st.ledger.By(cost.ByMarket)[string(berth.Spot)] // serverless lines are on-demand
	sp.OnDemandUSD, sp.ServerlessUSD = e.st.hostUSD-sp.SpotUSD, e.st.serverlessUSD
	r.WaitP50, r.WaitP99 = percentile(waits, 0.5), percentile(waits, 0.99)
	r.WarmStartP99 = percentile(warm, 0.99)
	if !last.IsZero() {
		r.Makespan = last.Sub(e.sc.Start)
	}
	return r
}

// percentile returns the q-quantile of ds (nearest rank), 0 for none.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}
