package autoscale

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func offerings() []Offering {
	return []Offering{
		{InstanceType: "m5.large", CPU: 2, MemoryMB: 8192, Price: 0.034},
		{InstanceType: "m5a.large", CPU: 2, MemoryMB: 8192, Price: 0.033},
		{InstanceType: "m5.xlarge", CPU: 4, MemoryMB: 16384, Price: 0.068},
		{InstanceType: "m5.2xlarge", CPU: 8, MemoryMB: 32768, Price: 0.14},
	}
}

func pool(name string, market berth.Market, min, max int, hosts ...Host) Pool {
	spec := berth.PoolSpec{Name: name, Provider: berth.ProviderFake, Market: market, Min: min, Max: max,
		ScaleInDelay: berth.Duration(2 * time.Minute)}.WithDefaults()
	return Pool{Spec: spec, Open: true, Offerings: offerings(), Hosts: hosts}
}

// cheapSpot is a Spot pool whose m5a.large costs a third of the
// on-demand price.
func cheapSpot() Pool {
	p := pool("spot", berth.Spot, 0, 10)
	p.Offerings[1].Price = 0.01
	return p
}

func host(id, typ string, cpu float64, mem int64) Host {
	return Host{ID: id, InstanceType: typ, CPU: cpu, MemoryMB: mem, State: Ready, LaunchedAt: now.Add(-time.Hour), IdleSince: now.Add(-time.Hour)}
}

func busy(h Host) Host {
	h.Attempts, h.UsedCPU, h.UsedMemoryMB, h.IdleSince = 1, 1, 1024, time.Time{}
	return h
}

func waiting(n int, cpu float64, mem int64) []Waiting {
	ws := make([]Waiting, n)
	for i := range ws {
		ws[i] = Waiting{JobID: fmt.Sprintf("job%d", i), CPU: cpu, MemoryMB: mem}
	}
	return ws
}

// summary lists actions as "kind host-or-type".
func summary(p Plan) []string {
	var out []string
	for _, a := range p.Actions {
		target := a.Host
		if a.Kind == Launch {
			target = a.InstanceType
		}
		out = append(out, fmt.Sprintf("%s %s/%s", a.Kind, a.Pool, target))
	}
	return out
}

func TestDecide(t *testing.T) {
	closed := pool("spot", berth.Spot, 0, 10, busy(host("h1", "m5.large", 2, 8192)), host("h2", "m5.large", 2, 8192),
		Host{ID: "h3", InstanceType: "m5.large", CPU: 2, MemoryMB: 8192, State: Launching})
	closed.Open = false
	drained := host("h1", "m5.large", 2, 8192)
	drained.State, drained.DrainReason = Draining, DrainScaleIn
	reclaimed := drained
	reclaimed.DrainReason = DrainInterruption
	forJob := host("big", "m5.2xlarge", 8, 32768)
	forJob.ForJob, forJob.JobDone = "j9", true
	noLarge := pool("spot", berth.Spot, 0, 10)
	noLarge.Offerings[0].Unavailable, noLarge.Offerings[1].Unavailable = true, true
	tests := []struct {
		name    string
		pools   []Pool
		waiting []Waiting
		want    []string
	}{
		{"from zero on queue depth, packed into the cheapest per unit of work",
			[]Pool{pool("spot", berth.OnDemand, 0, 10)}, waiting(4, 1, 2048),
			[]string{"launch spot/m5a.large", "launch spot/m5a.large"}},
		{"capacity on its way is counted",
			[]Pool{pool("spot", berth.OnDemand, 0, 10, Host{ID: "h1", InstanceType: "m5.xlarge", CPU: 4, MemoryMB: 16384, State: Launching})}, waiting(4, 1, 2048),
			nil},
		{"never above max: hosts sized to the jobs, the rest waits for their room",
			[]Pool{pool("spot", berth.OnDemand, 0, 3, busy(host("h1", "m5.large", 2, 8192)))}, waiting(20, 2, 2048),
			[]string{"launch spot/m5a.large", "launch spot/m5a.large"}},
		{"never above max: with a start budget, hosts large enough for the work to fit",
			[]Pool{func() Pool {
				p := pool("spot", berth.OnDemand, 0, 3, busy(host("h1", "m5.large", 2, 8192)))
				p.Spec.StartBudget = berth.Duration(2 * time.Minute)
				return p
			}()}, waiting(20, 2, 2048),
			[]string{"launch spot/m5.2xlarge", "launch spot/m5.2xlarge"}},
		{"with a start budget, hosts no larger than the work needs to fit",
			[]Pool{func() Pool {
				p := pool("spot", berth.OnDemand, 0, 3)
				p.Spec.StartBudget = berth.Duration(2 * time.Minute)
				return p
			}()}, waiting(6, 2, 2048),
			[]string{"launch spot/m5.xlarge", "launch spot/m5.xlarge", "launch spot/m5.xlarge"}},
		{"the minimum is kept",
			[]Pool{pool("base", berth.OnDemand, 2, 4)}, nil,
			[]string{"launch base/m5a.large", "launch base/m5a.large"}},
		{"idle past the delay: drained and terminated, down to the minimum",
			[]Pool{pool("spot", berth.OnDemand, 1, 10, host("h1", "m5.large", 2, 8192), host("h2", "m5.large", 2, 8192), busy(host("h3", "m5.large", 2, 8192)))}, nil,
			[]string{"drain spot/h1", "terminate spot/h1", "drain spot/h2", "terminate spot/h2"}},
		{"idle within the delay: kept",
			[]Pool{pool("spot", berth.OnDemand, 0, 10, func() Host { h := host("h1", "m5.large", 2, 8192); h.IdleSince = now.Add(-time.Minute); return h }())}, nil,
			nil},
		{"an idle host the waiting work needs is kept",
			[]Pool{pool("spot", berth.OnDemand, 0, 1, host("h1", "m5.large", 2, 8192))}, waiting(1, 2, 4096),
			nil},
		{"at the pool's max, an idle host no waiting job fits gives its slot to one the work needs",
			[]Pool{pool("spot", berth.OnDemand, 0, 2, host("h1", "m5.large", 2, 8192), busy(host("h2", "m5.large", 2, 8192)))}, waiting(1, 4, 4096),
			[]string{"drain spot/h1", "terminate spot/h1", "launch spot/m5.xlarge"}},
		{"window closed: busy hosts drain, idle ones go",
			[]Pool{closed}, waiting(3, 1, 1024),
			[]string{"drain spot/h1", "drain spot/h2", "terminate spot/h2", "terminate spot/h3"}},
		{"a host launched for a job goes when the job is done",
			[]Pool{pool("spot", berth.OnDemand, 0, 10, forJob)}, nil,
			[]string{"terminate spot/big"}},
		{"a reclaimed host goes once empty", []Pool{pool("spot", berth.Spot, 0, 10, reclaimed)}, nil,
			[]string{"terminate spot/h1"}},
		{"a host drained for scale-in comes back when work waits",
			[]Pool{pool("spot", berth.OnDemand, 0, 10, drained)}, waiting(2, 1, 1024),
			[]string{"undrain spot/h1"}},
		{"Spot is spread over the near-cheapest types",
			[]Pool{pool("spot", berth.Spot, 0, 10)}, waiting(4, 2, 8192),
			[]string{"launch spot/m5a.large", "launch spot/m5.large", "launch spot/m5a.large", "launch spot/m5.large"}},
		{"a type Spot keeps taking back is avoided",
			[]Pool{func() Pool { p := pool("spot", berth.Spot, 0, 10); p.Offerings[1].InterruptionRate = 0.5; return p }()}, waiting(2, 2, 8192),
			[]string{"launch spot/m5.large", "launch spot/m5.large"}},
		{"unavailable types are skipped",
			[]Pool{noLarge}, waiting(1, 2, 8192),
			[]string{"launch spot/m5.xlarge"}},
		{"the cheaper pool grows; a pinned job grows its own",
			[]Pool{pool("od", berth.OnDemand, 0, 10), func() Pool { p := pool("spot", berth.Spot, 0, 10); p.Offerings[1].Price = 0.01; return p }()},
			append(waiting(1, 2, 8192), Waiting{JobID: "pinned", CPU: 2, MemoryMB: 8192, Pool: "od"}),
			[]string{"launch od/m5a.large", "launch spot/m5a.large"}},
		{"on-demand hosts yield to a cheaper Spot pool: the busy one drains, the idle one waits out the scale-in delay",
			[]Pool{pool("od", berth.OnDemand, 0, 10, busy(host("h1", "m5.large", 2, 8192)),
				func() Host { h := host("h2", "m5.large", 2, 8192); h.IdleSince = now.Add(-time.Minute); return h }()), cheapSpot()},
			nil,
			[]string{"drain od/h1"}},
		{"an on-demand host younger than the scale-in delay, or running a job pinned to its pool, does not yield",
			[]Pool{pool("od", berth.OnDemand, 0, 10,
				func() Host {
					h := busy(host("young", "m5.large", 2, 8192))
					h.LaunchedAt = now.Add(-time.Minute)
					return h
				}(),
				func() Host { h := busy(host("pinned", "m5.large", 2, 8192)); h.Pinned = 1; return h }()), cheapSpot()},
			nil,
			nil},
		{"on-demand hosts stay while work waits for their pool, or down to its minimum",
			[]Pool{pool("od", berth.OnDemand, 1, 10, busy(host("h1", "m5.large", 2, 8192))), cheapSpot()},
			nil,
			nil},
		{"a job goes to the pool cheaper per unit of work, not per host",
			[]Pool{func() Pool { p := pool("od", berth.OnDemand, 0, 10); p.Offerings = p.Offerings[:1]; return p }(),
				func() Pool {
					p := pool("spot", berth.Spot, 0, 10)
					p.Offerings = []Offering{{InstanceType: "m5.2xlarge", CPU: 8, MemoryMB: 32768, Price: 0.05}}
					return p
				}()},
			waiting(1, 2, 8192),
			[]string{"launch spot/m5.2xlarge"}},
		{"a job Spot took back twice grows the on-demand pool",
			[]Pool{pool("od", berth.OnDemand, 0, 10), cheapSpot()},
			[]Waiting{{JobID: "once", CPU: 2, MemoryMB: 8192, Reclaimed: 1}, {JobID: "twice", CPU: 2, MemoryMB: 8192, Reclaimed: SpotRetreatAfter}},
			[]string{"launch od/m5a.large", "launch spot/m5a.large"}},
		{"a job Spot took back twice stays on Spot when no on-demand pool fits it",
			[]Pool{pool("od", berth.OnDemand, 0, 10), func() Pool {
				p := cheapSpot()
				p.Offerings = append(p.Offerings, Offering{InstanceType: "m5.16xlarge", CPU: 64, MemoryMB: 262144, Price: 0.9})
				return p
			}()},
			[]Waiting{{JobID: "big", CPU: 64, MemoryMB: 8192, Reclaimed: SpotRetreatAfter}},
			[]string{"launch spot/m5.16xlarge"}},
		{"a job no type fits launches nothing",
			[]Pool{pool("spot", berth.OnDemand, 0, 10)}, waiting(1, 64, 1024),
			nil},
	}
	for _, tt := range tests {
		got := summary(Decide(Snapshot{Now: now, Pools: tt.pools, Waiting: tt.waiting}))
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: Decide() (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestMetric(t *testing.T) {
	p := pool("spot", berth.OnDemand, 0, 10, busy(host("h1", "m5.xlarge", 4, 16384)), host("h2", "m5.large", 2, 8192),
		Host{ID: "h3", InstanceType: "m5.large", CPU: 2, MemoryMB: 8192, State: Launching})
	plan := Decide(Snapshot{Now: now, Pools: []Pool{p}, Waiting: []Waiting{{CPU: 0.5, MemoryMB: 512}, {CPU: 1.5, MemoryMB: 6000}}})
	// The largest waiting shape is 1.5 vCPU/6000 MiB: none in h1's 3 vCPU/15 GiB free? two by CPU, two by
	// memory: 2; h2 and h3 one each: 4.
	want := Metric{Pool: "spot", Schedulable: 4, ShapeCPU: 1.5, ShapeMemoryMB: 6000, Waiting: 2, Hosts: 3}
	if diff := cmp.Diff([]Metric{want}, plan.Metrics); diff != "" {
		t.Errorf("Metrics (-want +got):\n%s", diff)
	}
}

func TestOnNotice(t *testing.T) {
	at := now.Add(2 * time.Minute)
	running := []Running{{JobID: "a", AttemptID: "a1"}, {JobID: "b", AttemptID: "b1", Requeued: 10}}
	r := OnNotice(Notice{Host: "i-1", InstanceType: "m5.large", InterruptAt: at}, now, 3*time.Minute, running, 10)
	want := Response{
		Drain: true, Reason: DrainInterruption, Avoid: "m5.large", Replace: true,
		Stop:    []Stop{{"a1", 115 * time.Second}, {"b1", 115 * time.Second}},
		Requeue: []Requeue{{"a", "a1", "spot reclaimed on i-1, re-queued"}},
		Fail:    []Fail{{"b", "b1", "spot reclaimed on i-1; re-queued 10 times already, the limit"}},
	}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("OnNotice() (-want +got):\n%s", diff)
	}
	if r := OnNotice(Notice{Host: "i-1"}, now, time.Minute, running, 10); !r.Drain || len(r.Stop)+len(r.Requeue)+len(r.Fail) != 0 || r.Reason != DrainRebalance {
		t.Errorf("OnNotice(rebalance) = %+v, want a drain only", r)
	}
	if r := OnNotice(Notice{Host: "i-1", InstanceType: "t", InterruptAt: now}, now, time.Minute, running[:1], 10); r.Stop[0].Grace != 0 {
		t.Errorf("grace at the reclaim = %v, want 0", r.Stop[0].Grace)
	}
}

// TestDecideProperties: over random pools, Decide never terminates a host
// that runs work, never plans more hosts than max, never drains below min
// for scale-in, and does not flap: applied, the next decision at the same
// moment launches and removes nothing more.
func TestDecideProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	types := offerings()
	for round := range 2000 {
		lo := r.IntN(3)
		p := pool("p", []berth.Market{berth.OnDemand, berth.Spot}[r.IntN(2)], lo, lo+1+r.IntN(8))
		p.Open = r.IntN(5) > 0
		for i := range r.IntN(p.Spec.Max + 2) {
			o := types[r.IntN(len(types))]
			h := host(fmt.Sprintf("h%d", i), o.InstanceType, o.CPU, o.MemoryMB)
			h.IdleSince = now.Add(-time.Duration(r.IntN(300)) * time.Second)
			switch r.IntN(6) {
			case 0:
				h = busy(h)
			case 1:
				h.State, h.IdleSince = Launching, time.Time{}
			case 2:
				h.State, h.DrainReason = Draining, []string{DrainScaleIn, DrainInterruption, DrainWindow}[r.IntN(3)]
				if r.IntN(2) == 0 {
					h = busy(h)
				}
			}
			p.Hosts = append(p.Hosts, h)
		}
		ws := waiting(r.IntN(30), []float64{0.5, 1, 2, 4}[r.IntN(4)], []int64{512, 2048, 8192}[r.IntN(3)])
		plan := Decide(Snapshot{Now: now, Pools: []Pool{p}, Waiting: ws})
		byID := map[string]Host{}
		for _, h := range p.Hosts {
			byID[h.ID] = h
		}
		hosts := len(p.Hosts)
		launched := 0
		for _, a := range plan.Actions {
			switch a.Kind {
			case Terminate:
				if h := byID[a.Host]; h.Busy() {
					t.Fatalf("round %d: terminates busy host %+v", round, h)
				}
				hosts--
			case Launch:
				hosts++
				launched++
			}
		}
		if launched > 0 && hosts > p.Spec.Max {
			t.Fatalf("round %d: plans %d hosts, max %d: %v", round, hosts, p.Spec.Max, summary(plan))
		}
		if p.Open {
			active := 0
			for _, h := range applied(p, plan).Hosts {
				if h.State != Draining && h.ForJob == "" {
					active++
				}
			}
			if active < min(p.Spec.Min, p.Spec.Max) && !hasLaunch(plan) && len(p.Hosts) < p.Spec.Max {
				t.Fatalf("round %d: leaves %d active hosts, min %d: %v", round, active, p.Spec.Min, summary(plan))
			}
		}
		again := Decide(Snapshot{Now: now, Pools: []Pool{applied(p, plan)}, Waiting: ws})
		for _, a := range again.Actions {
			if a.Kind == Launch || (a.Kind == Drain && a.Reason == DrainScaleIn) || a.Kind == Undrain {
				t.Fatalf("round %d: flaps: %v after %v", round, summary(again), summary(plan))
			}
		}
	}
}

func hasLaunch(p Plan) bool {
	for _, a := range p.Actions {
		if a.Kind == Launch {
			return true
		}
	}
	return false
}

// applied is p after plan: launches are on their way, drains drain,
// terminations are gone.
func applied(p Pool, plan Plan) Pool {
	q := p
	q.Hosts = nil
	gone := map[string]bool{}
	state := map[string]Action{}
	for _, a := range plan.Actions {
		switch a.Kind {
		case Terminate:
			gone[a.Host] = true
		case Drain, Undrain:
			state[a.Host] = a
		}
	}
	for _, h := range p.Hosts {
		if gone[h.ID] {
			continue
		}
		if a, ok := state[h.ID]; ok {
			if a.Kind == Drain {
				h.State, h.DrainReason = Draining, a.Reason
			} else {
				h.State, h.DrainReason = Ready, ""
			}
		}
		q.Hosts = append(q.Hosts, h)
	}
	for i, a := range plan.Actions {
		if a.Kind != Launch {
			continue
		}
		for _, o := range p.Offerings {
			if o.InstanceType == a.InstanceType {
				q.Hosts = append(q.Hosts, Host{ID: fmt.Sprintf("new%d", i), InstanceType: o.InstanceType, CPU: o.CPU, MemoryMB: o.MemoryMB, State: Launching})
			}
		}
	}
	return q
}

func TestReasonsNameTheCause(t *testing.T) {
	plan := Decide(Snapshot{Now: now, Pools: []Pool{pool("spot", berth.OnDemand, 0, 10)}, Waiting: waiting(3, 1, 1024)})
	if len(plan.Actions) == 0 || !strings.Contains(plan.Actions[0].Reason, "3 job(s) waiting") {
		t.Errorf("Decide() = %+v, want a launch that says why", plan.Actions)
	}
}

// TestLaunchAlternatives: a launch names, besides its type, the available
// types at least as large and within spreadMargin of its price, for a
// provider that weighs capacity to launch instead.
func TestLaunchAlternatives(t *testing.T) {
	offerings := []Offering{
		{InstanceType: "m5.large", CPU: 2, MemoryMB: 8192, Price: 0.100},
		{InstanceType: "m5a.large", CPU: 2, MemoryMB: 8192, Price: 0.104},                    // as large, 4% dearer: an alternative
		{InstanceType: "m6i.large", CPU: 2, MemoryMB: 8192, Price: 0.104, Unavailable: true}, // out of capacity
		{InstanceType: "c5.large", CPU: 2, MemoryMB: 4096, Price: 0.101},                     // too little memory
		{InstanceType: "m5.xlarge", CPU: 4, MemoryMB: 16384, Price: 0.2},                     // twice the price
	}
	for i, want := range map[int][]string{0: {"m5a.large"}, 1: {"m5.large"}, 4: nil} {
		if got := alternatives(offerings, i); !slices.Equal(got, want) {
			t.Errorf("alternatives of %s = %v, want %v", offerings[i].InstanceType, got, want)
		}
	}
	p := pool("spot", berth.Spot, 0, 10)
	p.Offerings = offerings
	plan := Decide(Snapshot{Now: now, Pools: []Pool{p}, Waiting: waiting(1, 1, 2048)})
	if len(plan.Actions) != 1 || plan.Actions[0].Kind != Launch || plan.Actions[0].InstanceType != "m5.large" ||
		!slices.Equal(plan.Actions[0].Alternatives, []string{"m5a.large"}) {
		t.Errorf("Decide() = %+v, want one launch of m5.large with m5a.large as its alternative", plan.Actions)
	}
}
