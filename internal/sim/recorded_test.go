package sim

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/auth"
	"github.com/berth-run/berth/internal/control"
	"github.com/berth-run/berth/internal/deadline"
	"github.com/berth-run/berth/internal/logstore"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/fakecloud"
	"github.com/berth-run/berth/internal/store"
)

// A world is a fleet that one recorded history is replayed on: the
// server's loops over its store, or the simulator's engine. Each acts at
// the bubble's now.
type world interface {
	launch(pool, typ string) // a host the fleet had before the story
	join()                   // the hosts that finished booting join as nodes
	submit(j Job)
	dispatch()         // one placement round
	finish(job string) // the job's container exits 0
	autoscale()        // one autoscale round
	observe() observation
}

// observation is what the deciders did, as a world shows it. Hosts of
// one pool and type are alike: which of two empty ones a job lands on is
// a tie both worlds may break their own way (the server's node ids are
// random), so hosts are named by what they are, not by id.
type observation struct {
	// Calls are the cloud's launches and terminations, in order: the
	// method, the pool and the instance type.
	Calls []string
	// Hosts are the hosts that joined, sorted: pool, type, its node's
	// state (and why it drains) and the jobs it runs.
	Hosts []string
}

// seenHost is one host as a world shows it.
type seenHost struct {
	pool, typ, state string
	jobs             []string
}

func (h seenHost) String() string {
	slices.Sort(h.jobs)
	return fmt.Sprintf("%s %s %s %v", h.pool, h.typ, h.state, h.jobs)
}

// observe names hosts by what they are.
func observe(t *testing.T, c *fakecloud.Cloud, pools []*fakecloud.Pool, hosts []seenHost) observation {
	what := map[string]string{}
	for _, p := range pools {
		ins, err := p.List(context.Background()) // terminated ones too
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range ins {
			what[in.ID] = in.Pool + " " + in.InstanceType
		}
	}
	var o observation
	for _, call := range c.Calls() {
		switch call.Method {
		case fakecloud.Launch:
			o.Calls = append(o.Calls, fmt.Sprintf("Launch %s %s", call.Pool, call.Arg))
		case fakecloud.Terminate:
			o.Calls = append(o.Calls, "Terminate "+what[call.Arg])
		}
	}
	for _, h := range hosts {
		o.Hosts = append(o.Hosts, h.String())
	}
	slices.Sort(o.Hosts)
	return o
}

// TestServerAndSimulatorDecideAlike replays one recorded fleet history —
// hosts in a Spot and an on-demand pool, jobs that come, run and end, a
// host that idles past the scale-in delay, a job too large for the free
// room and one with a deadline — on the server's dispatcher and fleet loop
// (over a real store, with agents' reports made by hand) and on the
// simulator's engine, each over its own fake cloud with the same markets.
// After every placement and autoscale round both must have placed the same
// jobs on the same instances, made the same cloud calls and left every
// host in the same state.
func TestServerAndSimulatorDecideAlike(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		types := []berth.InstanceType{
			{Name: "m5.large", CPU: 2, MemoryMB: 8192, Price: 0.096, SpotPrice: 0.036},
			{Name: "m5.xlarge", CPU: 4, MemoryMB: 16384, Price: 0.192, SpotPrice: 0.072},
		}
		sc := &Scenario{Name: "recorded", Start: t0, Horizon: berth.Duration(24 * time.Hour), BootTime: berth.Duration(time.Minute),
			Pools: []berth.PoolSpec{
				berth.PoolSpec{Name: "spot", Provider: berth.ProviderFake, Market: berth.Spot, Max: 4, InstanceTypes: types,
					ScaleInDelay: berth.Duration(5 * time.Minute), BootTime: berth.Duration(time.Minute)}.WithDefaults(),
				berth.PoolSpec{Name: "od", Provider: berth.ProviderFake, Market: berth.OnDemand, Max: 3, InstanceTypes: types,
					ScaleInDelay: berth.Duration(5 * time.Minute), BootTime: berth.Duration(time.Minute)}.WithDefaults(),
			}}
		at := func(d time.Duration) time.Time { return t0.Add(d) }
		jobs := []Job{
			{ID: "long", Submit: at(2 * time.Minute), CPU: 2, MemoryMB: 4096, Run: 3 * time.Hour},
			{ID: "short", Submit: at(2*time.Minute + time.Second), CPU: 1, MemoryMB: 2048, Run: 5 * time.Minute},
			{ID: "wide", Submit: at(14*time.Minute + 29*time.Second), CPU: 4, MemoryMB: 16384, Run: time.Hour},
			{ID: "due", Submit: at(14*time.Minute + 30*time.Second), CPU: 1, MemoryMB: 2048, Run: 30 * time.Minute,
				Deadline: at(14*time.Minute + 30*time.Second + 45*time.Minute)},
			{ID: "later", Submit: at(30 * time.Minute), CPU: 1, MemoryMB: 1024, Run: 10 * time.Minute},
		}
		burst := []string{"b1", "b2", "b3"} // as wide as the largest type
		for i, id := range burst {
			jobs = append(jobs, Job{ID: id, Submit: at(50*time.Minute + time.Duration(i)*time.Second), CPU: 4, MemoryMB: 16384, Run: 20 * time.Minute})
		}
		job := func(id string) Job {
			i := slices.IndexFunc(jobs, func(j Job) bool { return j.ID == id })
			return jobs[i]
		}
		worlds := map[string]world{"server": newServerWorld(t, sc), "sim": newSimWorld(t, sc, jobs)}
		story := []struct {
			at   time.Duration
			what string
			do   func(w world)
		}{
			{0, "two Spot hosts launched", func(w world) { w.launch("spot", "m5.xlarge"); w.launch("spot", "m5.large") }},
			{time.Minute, "they join", func(w world) { w.join() }},
			{2 * time.Minute, "a long job comes", func(w world) { w.submit(job("long")) }},
			{2*time.Minute + time.Second, "a short job comes", func(w world) { w.submit(job("short")); w.dispatch() }},
			{7 * time.Minute, "the short one ends", func(w world) { w.finish("short"); w.dispatch() }},
			{14 * time.Minute, "an on-demand host launched", func(w world) { w.launch("od", "m5.large") }},
			{14*time.Minute + 29*time.Second, "a wide job comes", func(w world) { w.submit(job("wide")) }},
			{14*time.Minute + 30*time.Second, "a job with a deadline comes",
				func(w world) { w.submit(job("due")); w.dispatch(); w.autoscale() }},
			{16 * time.Minute, "the new hosts join", func(w world) { w.join(); w.dispatch(); w.autoscale() }},
			{30 * time.Minute, "a job comes", func(w world) { w.submit(job("later")); w.dispatch(); w.autoscale() }},
			{40 * time.Minute, "it ends", func(w world) { w.finish("later"); w.dispatch(); w.autoscale() }},
			{47 * time.Minute, "the idle hosts are weighed", func(w world) { w.autoscale() }},
			{50 * time.Minute, "a burst larger than the free room comes", func(w world) { w.submit(job("b1")) }},
			{50*time.Minute + time.Second, "", func(w world) { w.submit(job("b2")) }},
			{50*time.Minute + 2*time.Second, "", func(w world) { w.submit(job("b3")); w.dispatch(); w.autoscale() }},
			{52 * time.Minute, "the hosts launched for it join", func(w world) { w.join(); w.dispatch(); w.autoscale() }},
			{54 * time.Minute, "the on-demand host launched for the rest joins", func(w world) { w.join(); w.dispatch(); w.autoscale() }},
			{72 * time.Minute, "two of the burst end", func(w world) {
				w.finish("b1")
				w.finish("b2")
				w.dispatch()
				w.autoscale()
			}},
			{74 * time.Minute, "the last one ends", func(w world) { w.finish("b3"); w.dispatch(); w.autoscale() }},
			{82 * time.Minute, "the idle hosts are weighed again", func(w world) { w.autoscale() }},
		}
		for _, s := range story {
			time.Sleep(time.Until(at(s.at)))
			got := map[string]observation{}
			for name, w := range worlds {
				s.do(w)
				got[name] = w.observe()
			}
			if diff := cmp.Diff(got["server"], got["sim"]); diff != "" {
				t.Fatalf("+%s %s: the server and the simulator differ (-server +sim):\n%s", s.at, s.what, diff)
			}
			t.Logf("+%s %s: %+v", s.at, s.what, got["sim"])
		}
		// The story is worth comparing only if the deciders acted: the
		// autoscaler launched beyond the three hosts of the record, and
		// let some go.
		final := worlds["sim"].observe()
		launches := len(slices.DeleteFunc(slices.Clone(final.Calls), func(c string) bool { return !strings.HasPrefix(c, "Launch") }))
		if launches <= 3 || !slices.ContainsFunc(final.Calls, func(c string) bool { return strings.HasPrefix(c, "Terminate") }) {
			t.Errorf("the story decided too little to compare: %+v", final)
		}
	})
}

// serverWorld is the server's dispatcher, registry and fleet over a real
// store and a fake cloud; what agents would report is reported by hand.
type serverWorld struct {
	t      *testing.T
	ctx    context.Context
	st     *store.Store
	cloud  *fakecloud.Cloud
	pools  map[string]*fakecloud.Pool
	specs  map[string]berth.PoolSpec
	disp   *control.Dispatcher
	reg    *control.Registry
	fleet  *control.Fleet
	nodeOf map[string]string // instance → node
	jobIDs map[string]string // name → id
}

func newServerWorld(t *testing.T, sc *Scenario) *serverWorld {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w := &serverWorld{t: t, ctx: ctx, st: st, pools: map[string]*fakecloud.Pool{}, specs: map[string]berth.PoolSpec{}, nodeOf: map[string]string{}, jobIDs: map[string]string{},
		cloud: fakecloud.New(fakecloud.Config{BootTime: time.Duration(sc.BootTime), RebalanceLead: 0})}
	if err := setMarkets(w.cloud, sc, sc.Pools, 1); err != nil {
		t.Fatal(err)
	}
	var fp []control.FleetPool
	for _, s := range sc.Pools {
		w.pools[s.Name], w.specs[s.Name] = w.cloud.Pool(s), s
		fp = append(fp, control.FleetPool{Spec: s, Provider: w.pools[s.Name]})
	}
	keys, err := auth.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	logs, err := logstore.New(filepath.Join(t.TempDir(), "logs"), 0)
	if err != nil {
		t.Fatal(err)
	}
	// The loops do not run: the story runs their rounds.
	plane := control.NewPlane(control.PlaneConfig{Dispatch: control.DispatchConfig{Deadlines: control.DeadlineConfig{Policy: deadline.Adaptive{}}},
		Fleet: control.FleetConfig{AvoidFor: unavailableFor}, Pools: fp}, st, keys, logs, log)
	w.disp, w.reg, w.fleet = plane.Dispatcher, plane.Registry, plane.Fleet
	return w
}

func (w *serverWorld) launch(pool, typ string) {
	if _, err := w.pools[pool].Launch(w.ctx, provider.LaunchRequest{InstanceType: typ, Market: w.specs[pool].Market}); err != nil {
		w.t.Fatal(err)
	}
}

func (w *serverWorld) join() {
	for pool := range w.pools {
		for _, in := range w.cloud.Instances(pool) {
			if _, ok := w.nodeOf[in.ID]; ok || in.State != provider.InstanceRunning {
				continue
			}
			st := nodeapi.Status{Name: in.ID, CPU: in.CPU, MemoryMB: in.MemoryMB, Healthy: true,
				Facts: nodeapi.Facts{InstanceID: in.ID, InstanceType: in.InstanceType, Market: string(in.Market)}}
			n, _, err := w.reg.Join(w.ctx, pool, st)
			if err != nil {
				w.t.Fatal(err)
			}
			st.Ready = true
			if _, err := w.reg.Heartbeat(w.ctx, n.ID, st); err != nil {
				w.t.Fatal(err)
			}
			w.nodeOf[in.ID] = n.ID
		}
	}
}

func (w *serverWorld) submit(j Job) {
	spec := berth.JobSpec{Name: j.ID, Image: "busybox", CPU: j.CPU, MemoryMB: j.MemoryMB}
	if !j.Deadline.IsZero() {
		dl := j.Deadline
		spec.Deadline, spec.ExpectedDuration = &dl, berth.Duration(j.Run)
	}
	bj, _, err := w.st.CreateJob(w.ctx, spec.WithDefaults(), time.Now())
	if err != nil {
		w.t.Fatal(err)
	}
	w.jobIDs[j.ID] = bj.ID
}

// dispatch runs a placement round; the agents start what it placed at
// once, as the simulator's hosts do.
func (w *serverWorld) dispatch() {
	if _, err := w.disp.Round(w.ctx, time.Now()); err != nil {
		w.t.Fatal(err)
	}
	for _, id := range w.jobIDs {
		j, err := w.st.Job(w.ctx, id)
		if err != nil {
			w.t.Fatal(err)
		}
		if a := j.CurrentAttempt(); a != nil && a.Active() && a.StartedAt == nil {
			if _, err := w.st.AttemptStarted(w.ctx, a.ID, "c-"+a.ID, time.Now()); err != nil {
				w.t.Fatal(err)
			}
		}
	}
}

func (w *serverWorld) finish(name string) {
	j, err := w.st.Job(w.ctx, w.jobIDs[name])
	if err != nil {
		w.t.Fatal(err)
	}
	a := j.CurrentAttempt()
	if a == nil || !a.Active() {
		w.t.Fatalf("server: %s does not run", name)
	}
	zero := 0
	if _, err := w.st.FinishAttempt(w.ctx, a.ID, berth.Outcome{Kind: berth.Exited, ExitCode: &zero}, time.Now()); err != nil {
		w.t.Fatal(err)
	}
}

func (w *serverWorld) autoscale() {
	if err := w.fleet.Round(w.ctx, time.Now()); err != nil {
		w.t.Fatal(err)
	}
}

func (w *serverWorld) observe() observation {
	hosts := map[string]*seenHost{} // by node
	var pools []*fakecloud.Pool
	for p, api := range w.pools {
		pools = append(pools, api)
		ins, err := api.List(w.ctx)
		if err != nil {
			w.t.Fatal(err)
		}
		for _, in := range ins {
			node, ok := w.nodeOf[in.ID]
			if !ok {
				continue
			}
			n, err := w.st.NodeInfo(w.ctx, node)
			if err != nil {
				w.t.Fatal(err)
			}
			h := &seenHost{pool: p, typ: in.InstanceType, state: string(n.State)}
			if n.State == berth.NodeDraining {
				h.state += " (" + n.DrainReason + ")"
			}
			hosts[node] = h
		}
	}
	for name, id := range w.jobIDs {
		j, err := w.st.Job(w.ctx, id)
		if err != nil {
			w.t.Fatal(err)
		}
		if a := j.CurrentAttempt(); a != nil && a.Active() {
			hosts[a.Node].jobs = append(hosts[a.Node].jobs, name)
		}
	}
	var seen []seenHost
	for _, h := range hosts {
		seen = append(seen, *h)
	}
	return observe(w.t, w.cloud, pools, seen)
}

// simWorld is the simulator's engine, stepped by hand.
type simWorld struct {
	t *testing.T
	e *engine
}

func newSimWorld(t *testing.T, sc *Scenario, jobs []Job) *simWorld {
	e, err := newEngine(sc, jobs, berthPolicy(deadline.Adaptive{}), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &simWorld{t: t, e: e}
}

func (w *simWorld) launch(pool, typ string) {
	w.e.now = time.Now()
	if w.e.launch(w.e.byName[pool], typ, nil) == nil {
		w.t.Fatalf("sim: launch %s in %s refused", typ, pool)
	}
}

func (w *simWorld) join() {
	w.e.now = time.Now()
	w.e.sync()
}

func (w *simWorld) submit(j Job) {
	w.e.now = time.Now()
	w.e.enqueue(w.e.jobByID[j.ID])
}

func (w *simWorld) dispatch() {
	w.e.now = time.Now()
	w.e.dispatch()
}

func (w *simWorld) finish(name string) {
	w.e.now = time.Now()
	j := w.e.jobByID[name]
	if j.state != jobRunning {
		w.t.Fatalf("sim: %s does not run", name)
	}
	w.e.finish(j)
}

func (w *simWorld) autoscale() {
	w.e.now = time.Now()
	w.e.sync()
	w.e.autoscale()
}

func (w *simWorld) observe() observation {
	var seen []seenHost
	var pools []*fakecloud.Pool
	for _, p := range w.e.pools {
		pools = append(pools, p.api)
	}
	for _, h := range w.e.hosts {
		s := seenHost{pool: h.pool.spec.Name, typ: h.typ.Name}
		switch h.state {
		case hostLaunching:
			continue
		case hostReady:
			s.state = string(berth.NodeReady)
		case hostDraining:
			s.state = string(berth.NodeDraining) + " (" + h.drainReason + ")"
		case hostGone:
			if h.readyAt.After(h.endAt) {
				continue // it never joined
			}
			s.state = string(berth.NodeGone)
		}
		for _, j := range h.running {
			s.jobs = append(s.jobs, j.ID)
		}
		seen = append(seen, s)
	}
	return observe(w.t, w.e.cloud, pools, seen)
}
