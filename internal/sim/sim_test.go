package sim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func parse(t *testing.T, doc string) *Scenario {
	t.Helper()
	sc, err := ParseScenario([]byte(doc), "")
	if err != nil {
		t.Fatalf("ParseScenario() = %v", err)
	}
	return sc
}

func runBerth(t *testing.T, sc *Scenario, seed uint64) (*Report, Result) {
	t.Helper()
	rep, err := Run(context.Background(), sc, Options{Seed: seed})
	if err != nil {
		t.Fatalf("Run() = %v", err)
	}
	return rep, rep.Berth
}

// checkInvariants fails the test if the run broke what a correct control
// plane never does.
func checkInvariants(t *testing.T, r Result) {
	t.Helper()
	if r.BusyTerminations != 0 || r.Overcommits != 0 || r.BadPlacements != 0 {
		t.Errorf("%s: %d hosts terminated under work, %d placements without room, %d on hosts that take no work",
			r.Name, r.BusyTerminations, r.Overcommits, r.BadPlacements)
	}
}

// maxLive is the most hosts of pool ("" for all) alive at once.
func maxLive(r Result, pool string) int {
	type edge struct {
		t time.Time
		d int
	}
	var es []edge
	for _, h := range r.Hosts {
		if pool == "" || h.Pool == pool {
			es = append(es, edge{h.Launched, 1}, edge{h.Ended, -1})
		}
	}
	slices.SortFunc(es, func(a, b edge) int {
		if c := a.t.Compare(b.t); c != 0 {
			return c
		}
		return a.d - b.d
	})
	n, top := 0, 0
	for _, e := range es {
		n += e.d
		top = max(top, n)
	}
	return top
}

// TestStorySpotReclaimed: 500 jobs on a Spot pool of at most 12 hosts; at
// +10 minutes a fifth of the Spot hosts is reclaimed. Every job succeeds
// within the hour, the pool never has more than 12 hosts, and no host is
// terminated while it runs work.
func TestStorySpotReclaimed(t *testing.T) {
	sc := parse(t, `
name: reclaim
horizon: 2h
pools:
  - name: spot
    provider: fake
    market: spot
    instance_types:
      - {name: c6i.4xlarge, cpu: 16, memory_mb: 32768, price: 0.68}
      - {name: c6a.4xlarge, cpu: 16, memory_mb: 32768, price: 0.612}
    max: 12
    scale_in_delay: 2m
jobs:
  - name: work
    count: 500
    shapes: [{cpu: 1, memory_mb: 2048}]
    run: {min: 2m, max: 6m}
reclaims:
  - {at: 10m, fraction: 0.2}
`)
	_, r := runBerth(t, sc, 1)
	checkInvariants(t, r)
	if r.JobsSucceeded != 500 || r.JobsLost != 0 {
		t.Errorf("%d of 500 jobs succeeded, %d lost", r.JobsSucceeded, r.JobsLost)
	}
	if r.Makespan > time.Hour {
		t.Errorf("the last job ended at +%s, want within the hour", r.Makespan)
	}
	if n := maxLive(r, "spot"); n > 12 {
		t.Errorf("the pool had %d hosts at once, max 12", n)
	}
	if r.Interruptions < 2 {
		t.Errorf("%d interruptions, want the reclaim of 2 of the 12 hosts", r.Interruptions)
	}
	// The hosts ran every job's work once to success, and some more that
	// the reclaim ended.
	jobs, err := sc.Workload(1)
	if err != nil {
		t.Fatal(err)
	}
	work := 0.0
	for _, j := range jobs {
		work += j.CPU * j.Run.Hours()
	}
	if math.Abs(r.Spend.Work-work) > 1e-6 || r.Spend.Lost <= 0 {
		t.Errorf("Spend: %.3f vCPU-hours of work that succeeded, %.3f lost; want %.3f and some lost", r.Spend.Work, r.Spend.Lost, work)
	}
	if end := sc.Start.Add(time.Duration(sc.Horizon)); slices.ContainsFunc(r.Hosts, func(h HostRecord) bool { return h.Ended.After(end) }) {
		t.Errorf("hosts outlived the horizon: the pool did not scale back to zero")
	}
}

// TestStoryWeeklyBurst: the shipped weekly burst. The Spot pool grows from
// zero, every configuration is done by its deadline, the pools are back
// to zero within minutes of the last job, and berth costs less than every
// baseline.
func TestStoryWeeklyBurst(t *testing.T) {
	sc, err := LoadScenario("../../scenarios/weekly-burst.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), sc, Options{Seed: 1, Baselines: true})
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Berth
	checkInvariants(t, r)
	if r.JobsSucceeded != 100 || r.DeadlineMisses != 0 {
		t.Errorf("%d of 100 succeeded, %d missed their deadline", r.JobsSucceeded, r.DeadlineMisses)
	}
	last := time.Time{}
	for _, h := range r.Hosts {
		if h.Launched.Before(sc.Start) {
			t.Errorf("host %s launched before the burst", h.ID)
		}
		if h.Ended.After(last) {
			last = h.Ended
		}
	}
	if gap := last.Sub(sc.Start.Add(r.Makespan)); gap > 2*time.Minute {
		t.Errorf("the last host went %s after the last job, want within the scale-in delay", gap)
	}
	if !(rep.LowerBoundUSD > 0 && rep.LowerBoundUSD <= r.CostUSD) {
		t.Errorf("lower bound %.2f, berth %.2f: want 0 < bound ≤ cost", rep.LowerBoundUSD, r.CostUSD)
	}
	for _, b := range rep.Baselines {
		checkInvariants(t, b)
		if b.CostUSD <= r.CostUSD {
			t.Errorf("%s costs %.2f, berth %.2f: want berth below", b.Name, b.CostUSD, r.CostUSD)
		}
	}
}

// TestStoryNightlyWindow: the Spot pool of the nightly window has hosts
// only from 02:00 (plus their boot) until the batch is done, never after
// its close but to finish the work already running; the two baseline hosts
// run all along.
func TestStoryNightlyWindow(t *testing.T) {
	sc, err := LoadScenario("../../scenarios/nightly-window.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc.Horizon /= 3 // one night is enough
	_, r := runBerth(t, sc, 2)
	checkInvariants(t, r)
	if r.JobsLost != 0 || r.DeadlineMisses != 0 {
		t.Errorf("%d jobs lost, %d deadline misses", r.JobsLost, r.DeadlineMisses)
	}
	opens, closes := sc.Start.Add(2*time.Hour), sc.Start.Add(6*time.Hour)
	longest := 90 * time.Minute
	baseline := 0
	for _, h := range r.Hosts {
		switch h.Pool {
		case "nightly":
			if h.Launched.Before(opens) || !h.Launched.Before(closes) || h.Ended.After(closes.Add(longest)) {
				t.Errorf("nightly host %s lived %s–%s, outside its window", h.ID, h.Launched.Format("15:04"), h.Ended.Format("15:04"))
			}
		case "baseline":
			baseline++
		}
	}
	if baseline != 2 || maxLive(r, "baseline") != 2 {
		t.Errorf("%d baseline hosts, want the same 2 all along", baseline)
	}
	if r.WarmStartP99 > time.Second {
		t.Errorf("jobs that fit a warm host waited %s at p99, want at most 1s", r.WarmStartP99)
	}
}

// TestStorySparseDay: jobs larger than any warm host run on hosts launched
// for them alone, gone when their job is done; small jobs that fit a warm
// host start at once.
func TestStorySparseDay(t *testing.T) {
	sc, err := LoadScenario("../../scenarios/sparse-day.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, r := runBerth(t, sc, 1)
	checkInvariants(t, r)
	if r.JobsLost != 0 {
		t.Errorf("%d jobs lost", r.JobsLost)
	}
	own := 0
	for _, h := range r.Hosts {
		if h.ForJob == "" {
			continue
		}
		own++
		if h.Jobs > 1 {
			t.Errorf("host %s, launched for %s, ran %d attempts", h.ID, h.ForJob, h.Jobs)
		}
	}
	if own == 0 {
		t.Errorf("no host was launched for a large job")
	}
	if r.WarmStartP99 > time.Second {
		t.Errorf("jobs that fit a warm host waited %s at p99, want at most 1s", r.WarmStartP99)
	}
	// The warm hosts live through the work's day, and only then.
	opens, closes := sc.Start.Add(5*time.Hour+55*time.Minute), sc.Start.Add(22*time.Hour)
	for _, h := range r.Hosts {
		if h.Pool == "warm" && (h.Launched.Before(opens) || h.Ended.After(closes.Add(15*time.Minute))) {
			t.Errorf("warm host %s lived %s–%s, outside the window 05:55–22:00 (and the last jobs' end)", h.ID, h.Launched.Format("15:04"), h.Ended.Format("15:04"))
		}
	}
}

// TestUtilization: one job of 1 vCPU for 30 minutes on a host of 2 vCPU
// uses half the host while it runs, and less of the time it is paid for.
func TestUtilization(t *testing.T) {
	sc := parse(t, `
name: one job
horizon: 2h
boot_time: 60s
pools:
  - {name: od, provider: fake, market: on-demand, instance_types: [{name: x.large, cpu: 2, memory_mb: 4096, price: 0.10}], max: 1, scale_in_delay: 1m}
jobs:
  - {name: g, count: 1, shapes: [{cpu: 1, memory_mb: 1024}], run: {min: 30m, max: 30m}}
`)
	_, r := runBerth(t, sc, 1)
	if len(r.Hosts) != 1 {
		t.Fatalf("%d hosts, want 1", len(r.Hosts))
	}
	h := r.Hosts[0]
	if math.Abs(h.WorkCPUHours-0.5) > 1e-9 {
		t.Errorf("host ran %.4f vCPU-hours, want 0.5", h.WorkCPUHours)
	}
	paid := h.Ended.Sub(h.Launched)
	if paid < 32*time.Minute || paid > 33*time.Minute {
		t.Errorf("host paid for %s, want the boot, the run and the scale-in delay (32–33m)", paid)
	}
	if want := 0.5 / (2 * paid.Hours()); math.Abs(r.Spend.Use()-want) > 1e-9 {
		t.Errorf("Spend.Use() = %.4f, want %.4f", r.Spend.Use(), want)
	}
	// Where the host's time went: the boot, the job on one of its two
	// vCPUs (the other free), then idle until scale-in.
	boot := h.Ready.Sub(h.Launched)
	want := Spend{Paid: 2 * paid.Hours(), Work: 0.5, Booting: 2 * boot.Hours(), IdleEnd: 2 * h.Ended.Sub(h.LastBusy).Hours(), OnDemandUSD: 0.10 * paid.Hours()}
	if diff := cmp.Diff(want, r.Spend, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("Spend (-want +got):\n%s", diff)
	}
	if boot != time.Minute || h.Ended.Sub(h.LastBusy) < time.Minute {
		t.Errorf("boot %s, idle after the job %s; want 1m and at least the 1m scale-in delay", boot, h.Ended.Sub(h.LastBusy))
	}
	if got := r.Spend.Free(); math.Abs(got-0.5) > 1e-9 {
		t.Errorf("Free() = %.4f vCPU-hours, want 0.5 (the second vCPU while the job ran)", got)
	}
}

// TestDeterministic: a seed gives one result; another seed another.
func TestDeterministic(t *testing.T) {
	sc, err := LoadScenario("../../scenarios/sparse-day.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, a := runBerth(t, sc, 7)
	_, b := runBerth(t, sc, 7)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("two runs of seed 7 differ (-first +second):\n%s", diff)
	}
	_, c := runBerth(t, sc, 8)
	if a.CostUSD == c.CostUSD {
		t.Errorf("seeds 7 and 8 cost the same %.4f", a.CostUSD)
	}
}

// TestRandomScenarios is a property test: over random scenarios (pools,
// windows, Spot markets, workloads, reclaims), no policy terminates a host
// that runs work, over-commits a host, places on one that takes no work,
// or has more hosts in a pool than its max; and the lower bound is below
// the cost of berth and of every baseline that runs all the work on the
// scenario's pools.
func TestRandomScenarios(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	compared := 0
	for round := range 60 {
		doc := randomScenario(r)
		sc := parse(t, doc)
		rep, err := Run(context.Background(), sc, Options{Seed: uint64(round), Baselines: true})
		if err != nil {
			t.Fatalf("round %d: Run() = %v\n%s", round, err, doc)
		}
		for _, res := range append([]Result{rep.Berth}, rep.Baselines...) {
			checkInvariants(t, res)
		}
		b := rep.Berth
		for _, p := range sc.Pools {
			if p.Max > 0 {
				if n := maxLive(b, p.Name); n > p.Max {
					t.Errorf("round %d: pool %s had %d hosts, max %d\n%s", round, p.Name, n, p.Max, doc)
				}
			}
		}
		minHosts, pinned := false, false
		for _, p := range sc.Pools {
			minHosts = minHosts || p.Min > 0
		}
		for _, g := range sc.Jobs {
			pinned = pinned || g.Pool != ""
		}
		for _, res := range append([]Result{b}, rep.Baselines...) {
			// The bound is over fleets on the scenario's pools that run
			// every job by its deadline, each in its pool: Fargate alone
			// pays no pool's minimum; the Batch-like fleet drops the pool
			// of jobs bound to the elastic pools it replaces, buys every
			// type of those pools on Spot and keeps no window; and a run
			// that lost jobs or missed deadlines is not such a fleet.
			if res.JobsLost > 0 || res.DeadlineMisses > 0 || (res.Name == "fargate-only" && minHosts) ||
				(res.Name == "aws-batch" && (pinned || !spotAsScenario(sc))) {
				continue
			}
			compared++
			if rep.LowerBoundUSD > res.CostUSD*(1+1e-9) {
				t.Errorf("round %d: lower bound %.4f above %s's %.4f\n%s", round, rep.LowerBoundUSD, res.Name, res.CostUSD, doc)
			}
		}
	}
	if compared < 100 {
		t.Errorf("the bound was compared with %d runs, want at least 100", compared)
	}
}

// spotAsScenario reports whether the Batch-like fleet's one Spot pool buys
// only what the scenario's pools offer: every type of an elastic pool is
// sold on Spot by a pool that is always open.
func spotAsScenario(sc *Scenario) bool {
	spot := map[string]bool{}
	for _, p := range sc.Pools {
		if p.Market == berth.Spot && p.Window == nil {
			for _, t := range p.InstanceTypes {
				spot[t.Name] = true
			}
		}
	}
	for _, p := range nodePools(sc) {
		for _, t := range p.InstanceTypes {
			if p.Min == 0 && !spot[t.Name] {
				return false
			}
		}
	}
	return true
}

// randomScenario writes a random small scenario.
func randomScenario(r *rand.Rand) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: random\nhorizon: %dh\nboot_time: %ds\n", 2+r.IntN(6), 20+r.IntN(100))
	if r.IntN(2) == 0 {
		fmt.Fprintf(&b, "spot:\n  generator: {mean_up: %dm, mean_down: %dm}\n", 30+r.IntN(300), 5+r.IntN(40))
	}
	b.WriteString("pools:\n")
	types := []string{
		"{name: a.large, cpu: 2, memory_mb: 4096, price: 0.08}",
		"{name: b.large, cpu: 2, memory_mb: 8192, price: 0.09}",
		"{name: a.xlarge, cpu: 4, memory_mb: 8192, price: 0.16}",
		"{name: b.2xlarge, cpu: 8, memory_mb: 32768, price: 0.37}",
		"{name: a.4xlarge, cpu: 16, memory_mb: 32768, price: 0.64}",
	}
	pick := func() string {
		n := 1 + r.IntN(len(types))
		return "[" + strings.Join(types[:n], ", ") + "]"
	}
	fmt.Fprintf(&b, "  - {name: base, provider: fake, market: on-demand, instance_types: %s, min: %d, max: %d, scale_in_delay: %dm}\n",
		pick(), r.IntN(2), 2+r.IntN(4), 1+r.IntN(5))
	window := ""
	if r.IntN(3) == 0 {
		window = `, window: {opens: "0 1 * * *", closes: "0 3 * * *"}`
	}
	fmt.Fprintf(&b, "  - {name: spot, provider: fake, market: spot, instance_types: %s, max: %d, start_budget: %ds, overflow: fargate%s}\n",
		pick(), 1+r.IntN(15), r.IntN(240), window)
	b.WriteString("  - {name: fargate, provider: fake-serverless, serverless: {vcpu_second_usd: 0.0000112444, gb_second_usd: 0.0000012347}}\n")
	b.WriteString("jobs:\n")
	for range 1 + r.IntN(3) {
		pool := ""
		if r.IntN(3) == 0 {
			pool = ", pool: spot"
		}
		deadline := ""
		if r.IntN(2) == 0 {
			deadline = fmt.Sprintf(", deadline: %dm", 60+r.IntN(120))
		}
		fmt.Fprintf(&b, "  - {name: g, count: %d, count_max: %d, bursts: %d, from: 0s, until: 90m, shapes: [{cpu: %g, memory_mb: %d}, {cpu: 0.5, memory_mb: 512}], run: {min: %dm, max: %dm}%s%s}\n",
			1+r.IntN(20), 20+r.IntN(30), 1+r.IntN(5), []float64{0.5, 1, 2, 4, 12}[r.IntN(5)], []int{512, 2048, 8192, 24576}[r.IntN(4)],
			1+r.IntN(5), 6+r.IntN(40), deadline, pool)
	}
	if r.IntN(2) == 0 {
		fmt.Fprintf(&b, "reclaims:\n  - {at: %dm, fraction: %.2f}\n", 5+r.IntN(60), 0.1+0.9*r.Float64())
	}
	return b.String()
}

func TestLowerBoundLP(t *testing.T) {
	// Demand of 2 vCPU and 6000 MiB over offers of 2 vCPU/4 GiB at 0.10
	// and 2 vCPU/8 GiB at 0.12: the mix x of the first, 1−x of the second
	// with 4096x + 8192(1−x) = 6000.
	vs := vertices([]offer{{C: 2, M: 4096, P: 0.10}, {C: 2, M: 8192, P: 0.12}})
	best := 0.0
	for _, v := range vs {
		best = max(best, v[0]*2+v[1]*6000)
	}
	x := (8192.0 - 6000) / 4096
	want := 0.10*x + 0.12*(1-x)
	if math.Abs(best-want) > 1e-9 {
		t.Errorf("LP value = %v, want %v", best, want)
	}
	// Serverless prices bound each resource alone.
	vs = vertices([]offer{{C: 1, P: 0.04}, {M: 1, P: 0.004 / 1024}})
	best = 0
	for _, v := range vs {
		best = max(best, v[0]*3+v[1]*2048)
	}
	if want := 3*0.04 + 2*0.004; math.Abs(best-want) > 1e-12 {
		t.Errorf("serverless LP value = %v, want %v", best, want)
	}
}

func TestParseScenarioErrors(t *testing.T) {
	tests := []struct{ doc, field string }{
		{"name: x\npools: []\njobs: []", "horizon"},
		{"name: x\nhorizon: 1h\njobs: [{name: g, count: 1, shapes: [{cpu: 1, memory_mb: 512}], run: {min: 1m, max: 2m}}]", "pools"},
		{"name: x\nhorizon: 1h\npools: [{name: p, provider: fake, max: 1, instance_types: [{name: t, cpu: 1, memory_mb: 512, price: 1}]}]\njobs: [{name: g, count: 1, shapes: [{cpu: 1, memory_mb: 512}], run: {min: 2m, max: 1m}}]", "jobs[0].run"},
		{"name: x\nhorizon: 1h\npools: [{name: p, provider: fake, max: 1, instance_types: [{name: t, cpu: 1, memory_mb: 512, price: 1}]}]\njobs: [{name: g, count: 1, pool: q, shapes: [{cpu: 1, memory_mb: 512}], run: {min: 1m, max: 2m}}]", "jobs[0].pool"},
		{"name: x\nhorizon: 1h\npools: [{name: p, provider: local}]\njobs: [{name: g, count: 1, shapes: [{cpu: 1, memory_mb: 512}], run: {min: 1m, max: 2m}}]", "pools[0].provider"},
		// Serverless pools alone leave the baselines no host to run on.
		{"name: x\nhorizon: 1h\npools: [{name: f, provider: fake-serverless, serverless: {vcpu_second_usd: 0.00001, gb_second_usd: 0.000001}}]\njobs: [{name: g, count: 1, shapes: [{cpu: 1, memory_mb: 512}], run: {min: 1m, max: 2m}}]", "pools"},
		{"name: x\nhorizon: 1h\nfleet: 3", "fleet"},
		{"name: x\nhorizon: 1h\nspot: {generator: {mean_up: 1ns, mean_down: 20m}}\npools: [{name: p, provider: fake, max: 1, instance_types: [{name: t, cpu: 1, memory_mb: 512, price: 1}]}]\njobs: [{name: g, count: 1, shapes: [{cpu: 1, memory_mb: 512}], run: {min: 1m, max: 2m}}]", "spot.generator.mean_up"},
		{"name: x\nhorizon: 1h\nspot: {offset: -1h}\npools: [{name: p, provider: fake, max: 1, instance_types: [{name: t, cpu: 1, memory_mb: 512, price: 1}]}]\njobs: [{name: g, count: 1, shapes: [{cpu: 1, memory_mb: 512}], run: {min: 1m, max: 2m}}]", "spot.offset"},
	}
	for _, tt := range tests {
		_, err := ParseScenario([]byte(tt.doc), "")
		if err == nil || !strings.HasPrefix(err.Error(), tt.field+":") {
			t.Errorf("ParseScenario(%q) = %v, want an error on %s", tt.doc, err, tt.field)
		}
	}
}

func TestWorkload(t *testing.T) {
	sc := parse(t, `
name: w
horizon: 48h
pools: [{name: p, provider: fake, max: 1, instance_types: [{name: t, cpu: 4, memory_mb: 8192, price: 1}]}]
jobs:
  - {name: daily, count: 10, at: 2h, every: 24h, shapes: [{cpu: 1, memory_mb: 512}], run: {min: 1m, max: 2m}, deadline: 1h}
  - {name: steady, rate: 60, from: 0s, until: 10h, shapes: [{cpu: 2, memory_mb: 1024}], run: {min: 5m, max: 5m}}
`)
	jobs, err := sc.Workload(1)
	if err != nil {
		t.Fatal(err)
	}
	daily, steady := 0, 0
	for _, j := range jobs {
		switch j.Group {
		case "daily":
			daily++
			if h := j.Submit.Sub(sc.Start) % (24 * time.Hour); h != 2*time.Hour || j.Deadline.Sub(j.Submit) != time.Hour {
				t.Errorf("daily job at +%s due +%s", j.Submit.Sub(sc.Start), j.Deadline.Sub(j.Submit))
			}
		case "steady":
			steady++
			if j.Run != 5*time.Minute || j.Submit.Sub(sc.Start)%(24*time.Hour) >= 10*time.Hour {
				t.Errorf("steady job at +%s runs %s", j.Submit.Sub(sc.Start), j.Run)
			}
		}
	}
	if daily != 20 || steady < 450 || steady > 750 {
		t.Errorf("%d daily jobs (want 20), %d steady (want about 600)", daily, steady)
	}
	if !slices.IsSortedFunc(jobs, func(a, b Job) int { return a.Submit.Compare(b.Submit) }) {
		t.Errorf("jobs are not in order of submission")
	}
	again, _ := sc.Workload(1)
	if diff := cmp.Diff(jobs, again, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Workload(1) twice differs:\n%s", diff)
	}
}

// TestLowerBoundDelays: the bound lets work wait for the minimum hosts'
// capacity, which is paid for anyway, but not past its deadline, nor onto
// hosts it does not fit or a pool it is not bound to; and no work runs
// before the first boot ends.
func TestLowerBoundDelays(t *testing.T) {
	sc := parse(t, `
name: bound
horizon: 2h
boot_time: 60s
pools:
  - {name: base, provider: fake, market: on-demand, instance_types: [{name: a.large, cpu: 2, memory_mb: 4096, price: 0.08}], min: 1, max: 1}
  - {name: od, provider: fake, market: on-demand, instance_types: [{name: x.large, cpu: 2, memory_mb: 4096, price: 0.10}, {name: x.4xlarge, cpu: 16, memory_mb: 65536, price: 0.80}], max: 5}
jobs:
  - {name: g, count: 1, shapes: [{cpu: 1, memory_mb: 1024}], run: {min: 1m, max: 1m}}
`)
	mandatory := 0.08 * 2 // the base host for the horizon
	job := func(cpu float64, run time.Duration, pool string, deadline time.Duration) Job {
		j := Job{Submit: sc.Start, CPU: cpu, MemoryMB: 1024, Run: run, Pool: pool}
		if deadline > 0 {
			j.Deadline = sc.Start.Add(deadline)
		}
		return j
	}
	// Free capacity from the first boot's end (slot 2) to the deadline's
	// slot (30), both included: 29 half-minutes of 2 vCPU.
	free := 29 * boundSlot.Hours() * 2
	tests := []struct {
		name string
		jobs []Job
		want float64
	}{
		{"waits for the base host", []Job{job(2, 30*time.Minute, "", 0)}, mandatory},
		// Work bound to a pool pays its pool's price: 0.05 per vCPU-hour.
		{"bound to a pool without a minimum", []Job{job(2, 30*time.Minute, "od", 0)}, mandatory + 2*0.5*0.05},
		// A job larger than x.large pays x.4xlarge's price per vCPU.
		{"larger than the base host", []Job{job(8, 30*time.Minute, "", 0)}, mandatory + 8*0.5*0.05},
		// Memory-heavy work pays by memory: a 1 vCPU / 16 GiB job takes a
		// quarter of x.4xlarge, not half a vCPU-priced x.large's worth.
		{"memory decides", []Job{{Submit: sc.Start, CPU: 1, MemoryMB: 16384, Run: 30 * time.Minute, Pool: "od"}}, mandatory + 0.5*0.80/4},
		{"the deadline limits the wait", []Job{job(2, 10*time.Minute, "", 15*time.Minute), job(2, 10*time.Minute, "", 15*time.Minute),
			job(2, 10*time.Minute, "", 15*time.Minute), job(2, 10*time.Minute, "", 15*time.Minute)}, mandatory + (4*2.0/6-free)*0.04},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := lowerBound(sc, sc.Pools, tt.jobs, nil)
			if math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("lowerBound() = %.6f, want %.6f", got, tt.want)
			}
		})
	}
}

// TestTableSummary: the summary says above when berth costs more than a
// baseline, below when less; a run that lost jobs did less work, so its
// cost is not set beside the others' as if it had not, and no ratio is
// ever infinite.
func TestTableSummary(t *testing.T) {
	base := []Result{
		{Name: "ecs-managed-scaling", CostUSD: 5.72, JobsTotal: 100},
		{Name: "fargate-only", CostUSD: 11.56, JobsTotal: 100},
		{Name: "aws-batch", CostUSD: 5.781, JobsTotal: 100},
	}
	tests := []struct {
		name      string
		berth     Result
		baselines []Result
		bound     float64
		want      string
	}{
		{"every job done", Result{Name: "berth", CostUSD: 5.78, JobsTotal: 100}, base, 2.89,
			"lower bound 2.89 USD: berth costs 2.00× the bound; 1% above ecs-managed-scaling; 50% below fargate-only; even with aws-batch\n"},
		{"a baseline lost every job", Result{Name: "berth", CostUSD: 5.78, JobsTotal: 100},
			[]Result{{Name: "aws-batch", CostUSD: 0, JobsTotal: 100, JobsLost: 100}}, 2.89,
			"lower bound 2.89 USD: berth costs 2.00× the bound; aws-batch lost 100 of 100 jobs: its cost is not comparable\n"},
		{"a cheaper baseline lost some", Result{Name: "berth", CostUSD: 5.78, JobsTotal: 100},
			[]Result{{Name: "aws-batch", CostUSD: 4, JobsTotal: 100, JobsLost: 3}}, 2.89,
			"; aws-batch lost 3 of 100 jobs: its cost is not comparable\n"},
		{"a dearer baseline lost some", Result{Name: "berth", CostUSD: 3273.76, JobsTotal: 18066},
			[]Result{{Name: "aws-batch", CostUSD: 3919.71, JobsTotal: 18066, JobsLost: 67}}, 1445.72,
			"; 16% below aws-batch, which lost 67 of 18066 jobs\n"},
		{"berth lost every job", Result{Name: "berth", CostUSD: 0, JobsTotal: 100, JobsLost: 100}, base, 2.89,
			"\nberth lost 100 of 100 jobs: its cost is not comparable with the lower bound (2.89 USD) or the baselines\n"},
		{"no bound", Result{Name: "berth", CostUSD: 5.78, JobsTotal: 100}, base[:1], 0,
			"\nlower bound 0.00 USD; 1% above ecs-managed-scaling\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := &Report{Berth: tt.berth, Baselines: tt.baselines, LowerBoundUSD: tt.bound}
			var b strings.Builder
			if err := rep.WriteTable(&b); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), tt.want) {
				t.Errorf("WriteTable() =\n%s\nwant a line ending %q", b.String(), tt.want)
			}
			for _, bad := range []string{"Inf", "NaN", "0.00×"} {
				if strings.Contains(b.String(), bad) {
					t.Errorf("WriteTable() says %q:\n%s", bad, b.String())
				}
			}
		})
	}
}

// TestFargateOnlyTooLarge: the Fargate-only baseline prices a job larger
// than Fargate takes as if it took it, but does not count it done.
func TestFargateOnlyTooLarge(t *testing.T) {
	const pools = `
name: fargate
horizon: 1h
pools:
  - {name: p, provider: fake, max: 1, instance_types: [{name: t, cpu: 64, memory_mb: 262144, price: 1}]}
`
	job := func(cpu float64, mem int64) Job {
		return Job{Submit: DefaultStart, CPU: cpu, MemoryMB: mem, Run: time.Hour, Deadline: DefaultStart.Add(2 * time.Hour)}
	}
	jobs := []Job{job(4, 8192), job(32, 65536), job(8, 200<<10)}
	tests := []struct {
		name       string
		doc        string
		done, lost int
	}{
		{"Fargate's limits", pools, 1, 2},
		{"the serverless pool's limits", pools + "  - {name: f, provider: fake-serverless, serverless: {vcpu_second_usd: 0.0000112444, gb_second_usd: 0.0000012347, max_cpu: 2}}\n", 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := parse(t, tt.doc+"jobs: [{name: g, count: 1, shapes: [{cpu: 1, memory_mb: 512}], run: {min: 1m, max: 2m}}]\n")
			r := fargateOnly(sc, jobs, 1)
			if r.JobsSucceeded != tt.done || r.JobsLost != tt.lost || r.DeadlineMisses != tt.lost {
				t.Errorf("fargateOnly() = %d succeeded, %d lost, %d deadlines missed; want %d, %d, %d",
					r.JobsSucceeded, r.JobsLost, r.DeadlineMisses, tt.done, tt.lost, tt.lost)
			}
			// Priced as if it took them all: more than an hour of 32 vCPU.
			if floor := 32 * 3600 * berth.FargateVCPUSecond; r.CostUSD < floor {
				t.Errorf("fargateOnly() cost %.2f USD, want the large jobs priced too: at least %.2f", r.CostUSD, floor)
			}
		})
	}
}
