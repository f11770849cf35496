package control

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/auth"
	"github.com/berth-run/berth/internal/autoscale"
	"github.com/berth-run/berth/internal/config"
	"github.com/berth-run/berth/internal/cost"
	"github.com/berth-run/berth/internal/fakehost"
	"github.com/berth-run/berth/internal/logstore"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/fakecloud"
	"github.com/berth-run/berth/internal/store"
)

// cloudPlane is the control plane (NewPlane, as berth server wires it)
// over fake pools whose machines run in-process agents, in a bubble.
type cloudPlane struct {
	store *store.Store
	logs  *logstore.Store
	keys  *auth.Keys
	cloud *fakecloud.Cloud
	pools map[string]*fakecloud.Pool
	specs []berth.PoolSpec
	log   *slog.Logger

	// mu guards the plane: a restart replaces it while the machines'
	// agents talk to it.
	mu    sync.Mutex
	plane *Plane
	// noticeless hides Spot notices from the pools' lists (see noticeless).
	noticeless bool
	// stopLoops stops the control loops but not the machines, as a
	// restart of the server would (the cloud lives on).
	stopLoops context.CancelFunc
	loopsDone chan struct{}
}

// current is the running plane.
func (c *cloudPlane) current() *Plane {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.plane
}

// The machines' agents reach whichever plane runs, as remote agents reach
// a restarted server.
type planeServer struct{ c *cloudPlane }

func (s planeServer) Register(ctx context.Context, nodeID string, st nodeapi.Status) (berth.Node, error) {
	return s.c.current().Local.Register(ctx, nodeID, st)
}

func (s planeServer) Assignments(ctx context.Context, nodeID string, since uint64, wait time.Duration) ([]berth.Assignment, uint64, error) {
	return s.c.current().Local.Assignments(ctx, nodeID, since, wait)
}

func (s planeServer) Started(ctx context.Context, attemptID, containerID string) error {
	return s.c.current().Local.Started(ctx, attemptID, containerID)
}

func (s planeServer) Finished(ctx context.Context, attemptID string, out berth.Outcome) error {
	return s.c.current().Local.Finished(ctx, attemptID, out)
}

func (s planeServer) Notice(ctx context.Context, nodeID string, n nodeapi.Notice) error {
	return s.c.current().Local.Notice(ctx, nodeID, n)
}

func (s planeServer) Ensure(ctx context.Context, id, pool, name string) error {
	return s.c.current().Registry.Ensure(ctx, id, pool, name)
}

func startCloudPlane(t *testing.T, specs ...berth.PoolSpec) *cloudPlane {
	t.Helper()
	return startCloudPlaneDead(t, nil, specs...)
}

// startCloudPlaneDead is startCloudPlane where the instances of the pools
// named in dead never join: their machines do not run.
func startCloudPlaneDead(t *testing.T, dead map[string]bool, specs ...berth.PoolSpec) *cloudPlane {
	t.Helper()
	return startCloudPlaneWith(t, cloudOptions{dead: dead}, specs...)
}

// cloudOptions change the cloud of startCloudPlaneWith.
type cloudOptions struct {
	// dead names the pools whose instances never join: their machines do
	// not run.
	dead map[string]bool
	// noticeless hides Spot notices from the pools' lists, as EC2 does:
	// only the hosts' agents hear them.
	noticeless bool
}

// startCloudPlaneWith is startCloudPlane with options.
func startCloudPlaneWith(t *testing.T, opts cloudOptions, specs ...berth.PoolSpec) *cloudPlane {
	t.Helper()
	dead := opts.dead
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	logs, err := logstore.New(filepath.Join(t.TempDir(), "logs"), 0)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := auth.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var w io.Writer = io.Discard
	if testing.Verbose() && os.Getenv("BERTH_TEST_LOG") != "" {
		w = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(w, nil))
	c := &cloudPlane{store: st, logs: logs, keys: keys, cloud: fakecloud.New(fakecloud.Config{BootTime: time.Minute}),
		pools: map[string]*fakecloud.Pool{}, log: log, noticeless: opts.noticeless}
	var machines []fakehost.Pool
	for i, s := range specs {
		s = s.WithDefaults()
		specs[i] = s
		if s.Provider == berth.ProviderFake {
			c.pools[s.Name] = c.cloud.Pool(s)
			if !dead[s.Name] {
				machines = append(machines, fakehost.Pool{Spec: s, Cloud: c.cloud})
			}
		} else if s.IsServerless() {
			machines = append(machines, fakehost.Pool{Spec: s})
		}
	}
	c.specs = specs
	c.startLoops()
	hosts := fakehost.New(fakehost.Config{Seed: 1}, machines, planeServer{c}, planeServer{c}, logs, log)
	ctx, cancel := context.WithCancel(context.Background())
	hostsDone := make(chan struct{})
	go func() {
		defer close(hostsDone)
		hosts.Run(ctx)
	}()
	t.Cleanup(func() {
		c.stopLoops()
		<-c.loopsDone
		cancel()
		<-hostsDone
		st.Close()
	})
	return c
}

// startLoops starts a control plane with no memory of earlier ones: a
// server (re)started over the same store and cloud.
func (c *cloudPlane) startLoops() {
	var fp []FleetPool
	for _, s := range c.specs {
		p := FleetPool{Spec: s}
		if cp := c.pools[s.Name]; cp != nil {
			p.Provider = cp
			if c.noticeless {
				p.Provider = noticeless{cp}
			}
		}
		if s.IsServerless() {
			p.Node = fakehost.ServerlessNode(s.Name)
		}
		if s.Window != nil {
			w, err := config.ParseWindow(*s.Window)
			if err != nil {
				panic(err)
			}
			p.Window = &w
		}
		fp = append(fp, p)
	}
	plane := NewPlane(PlaneConfig{Pools: fp}, c.store, c.keys, c.logs, c.log)
	c.mu.Lock()
	c.plane = plane
	c.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	c.stopLoops, c.loopsDone = cancel, make(chan struct{})
	go func() {
		defer close(c.loopsDone)
		plane.Run(ctx)
	}()
}

// noticeless is a pool whose lists do not show Spot notices, as EC2's
// DescribeInstances does not.
type noticeless struct{ provider.Pool }

func (p noticeless) List(ctx context.Context) ([]provider.Instance, error) {
	ins, err := p.Pool.List(ctx)
	for i := range ins {
		ins[i].InterruptAt, ins[i].Rebalance = time.Time{}, false
	}
	return ins, err
}

func (c *cloudPlane) submit(t *testing.T, spec berth.JobSpec) berth.Job {
	t.Helper()
	j, _, err := c.store.CreateJob(context.Background(), spec.WithDefaults(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c.current().Kick()
	return j
}

// live returns the pool's instances that are not terminated.
func (c *cloudPlane) live(t *testing.T, pool string) []provider.Instance {
	t.Helper()
	return c.cloud.Instances(pool)
}

// busyTerminations returns the attempts closed because berth terminated
// the host they ran on: a host that runs work must never be terminated.
func busyTerminations(t *testing.T, st *store.Store, jobs []berth.Job) []string {
	t.Helper()
	var bad []string
	for _, j := range jobs {
		got, err := st.Job(context.Background(), j.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range got.Attempts {
			if strings.Contains(a.Reason, "terminated:") {
				bad = append(bad, fmt.Sprintf("%s/%s: %s", j.ID, a.ID, a.Reason))
			}
		}
	}
	return bad
}

func spotPool() berth.PoolSpec {
	return berth.PoolSpec{Name: "spot", Provider: berth.ProviderFake, Market: berth.Spot, Max: 8,
		InstanceTypes: []berth.InstanceType{
			{Name: "m5.large", CPU: 2, MemoryMB: 8192, Price: 0.096, SpotPrice: 0.036},
			{Name: "m5.xlarge", CPU: 4, MemoryMB: 16384, Price: 0.192, SpotPrice: 0.072},
		},
		ScaleInDelay: berth.Duration(5 * time.Minute), BootTime: berth.Duration(time.Minute),
		InterruptionGrace: berth.Duration(30 * time.Second)}
}

// TestStorySpotFromZero: 12 jobs of 20 minutes come to a Spot pool with no
// host. Hosts are launched for them and the jobs run; at +10m Spot reclaims
// the host with the most work. Its jobs are re-queued without spending a
// retry, a replacement is launched, and every job succeeds by +1h. The pool
// never passes its maximum, no host is terminated while it runs work, it
// is back to zero once the scale-in delay has passed, and each job's cost
// is its share of its hosts at the Spot price.
func TestStorySpotFromZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := startCloudPlane(t, spotPool())
		start := time.Now()
		var jobs []berth.Job
		for i := range 12 {
			jobs = append(jobs, c.submit(t, berth.JobSpec{Name: fmt.Sprint("sim-", i), Image: "busybox", CPU: 1, MemoryMB: 2048,
				Env: map[string]string{"FAKE_RUN_FOR": "20m"}, Labels: map[string]string{"team": "ml"}}))
		}
		maxHosts := 0
		watch := func(until time.Duration) {
			for time.Since(start) < until {
				time.Sleep(time.Second)
				maxHosts = max(maxHosts, len(c.live(t, "spot")))
			}
		}
		watch(5 * time.Minute)
		if n := len(c.live(t, "spot")); n == 0 {
			t.Fatalf("at +5m the pool has no host for 12 waiting jobs")
		}
		for _, j := range jobs {
			if got, _ := c.store.Job(context.Background(), j.ID); got.State != berth.Running {
				t.Fatalf("at +5m job %s is %s (%q), want running", j.ID, got.State, got.Reason)
			}
		}

		watch(10 * time.Minute)
		victim, launchesBefore := c.busiest(t), c.launches()
		c.cloud.Reclaim(victim)
		watch(time.Hour)

		var requeued int
		for _, j := range jobs {
			got, _ := c.store.Job(context.Background(), j.ID)
			if got.State != berth.Succeeded || got.Retried != 0 {
				t.Errorf("job %s: %s (%q), %d retries spent; want succeeded, none spent", j.ID, got.State, got.Reason, got.Retried)
			}
			if got.Requeued > 0 {
				requeued++
				if a := got.Attempts[0]; !strings.HasPrefix(a.Reason, "spot reclaimed on "+victim) {
					t.Errorf("job %s: first attempt ended %q, want spot reclaimed on %s", j.ID, a.Reason, victim)
				}
			}
		}
		if requeued == 0 {
			t.Errorf("no job was re-queued after reclaiming %s", victim)
		}
		if c.launches() <= launchesBefore {
			t.Errorf("no replacement launched after the reclaim (%d launches before, %d after)", launchesBefore, c.launches())
		}
		if maxHosts > 8 {
			t.Errorf("the pool had %d hosts, above its maximum of 8", maxHosts)
		}
		if bad := busyTerminations(t, c.store, jobs); len(bad) > 0 {
			t.Errorf("hosts terminated under work: %v", bad)
		}
		watch(time.Hour + 10*time.Minute)
		if live := c.live(t, "spot"); len(live) != 0 {
			t.Errorf("at +1h10m, long after the last job, the pool has %d hosts, want 0", len(live))
		}
		nodes, err := c.store.NodeInfos(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes) != 0 {
			t.Errorf("nodes left after scale-in: %+v", nodes)
		}
		c.checkCosts(t, jobs)
	})
}

// TestStorySpotNoticeFromTheAgent: a Spot pool whose lists never show
// Spot notices, as EC2's do not: the interrupted host's agent tells
// berth. The type is avoided all the same: the job's replacement host is
// of the other type, and the pool offers the first as unavailable.
func TestStorySpotNoticeFromTheAgent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		spec := spotPool()
		spec.InstanceTypes[1].SpotPrice = 0.1 // m5.xlarge: dearer a vCPU, so m5.large goes first
		c := startCloudPlaneWith(t, cloudOptions{noticeless: true}, spec)
		j := c.submit(t, berth.JobSpec{Image: "busybox", CPU: 1, MemoryMB: 2048, Env: map[string]string{"FAKE_RUN_FOR": "20m"}})
		waitFor(t, 5*time.Minute, "the job running", func() bool { return c.job(t, j.ID).State == berth.Running })
		first := c.live(t, "spot")[0]
		if first.InstanceType != "m5.large" {
			t.Fatalf("the first host is a %s, want the cheaper m5.large", first.InstanceType)
		}
		c.cloud.Reclaim(first.ID)
		waitFor(t, 10*time.Minute, "the job running on a replacement", func() bool {
			got := c.job(t, j.ID)
			return got.State == berth.Running && got.Requeued == 1
		})
		for _, in := range c.live(t, "spot") {
			if in.ID != first.ID && in.InstanceType != "m5.xlarge" {
				t.Errorf("replacement %s is a %s, want an m5.xlarge: m5.large Spot capacity is being reclaimed", in.ID, in.InstanceType)
			}
		}
		for _, o := range c.current().Fleet.Pools(time.Now())[0].Offerings {
			if o.InstanceType == "m5.large" && !o.Unavailable {
				t.Errorf("m5.large is offered as available while Spot reclaims it")
			}
		}
	})
}

// TestStory500JobsFifthReclaimed: 500 jobs of 10 minutes come at once to a
// Spot pool from zero, of up to 12 hosts of 16 vCPU; at +10m Spot takes
// back a fifth of the live hosts. Through the server's own loops, store
// and agents: every job succeeds by +1h without spending a retry, the pool
// never has more than 12 hosts, no host is terminated while it runs work,
// and the pool is back to zero once the work is done.
func TestStory500JobsFifthReclaimed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pool := berth.PoolSpec{Name: "spot", Provider: berth.ProviderFake, Market: berth.Spot, Max: 12,
			InstanceTypes: []berth.InstanceType{{Name: "m5.4xlarge", CPU: 16, MemoryMB: 65536, Price: 0.768, SpotPrice: 0.29}},
			ScaleInDelay:  berth.Duration(2 * time.Minute), BootTime: berth.Duration(time.Minute), InterruptionGrace: berth.Duration(30 * time.Second)}
		c := startCloudPlane(t, pool)
		start := time.Now()
		jobs := make([]berth.Job, 500)
		for i := range jobs {
			jobs[i] = c.submit(t, berth.JobSpec{Image: "busybox", CPU: 1, MemoryMB: 2048, Env: map[string]string{"FAKE_RUN_FOR": "10m"}})
		}
		maxHosts := 0
		watch := func(until time.Duration) {
			for time.Since(start) < until {
				time.Sleep(5 * time.Second)
				maxHosts = max(maxHosts, len(c.live(t, "spot")))
			}
		}
		watch(10 * time.Minute)
		live := c.live(t, "spot")
		victims := make([]string, 0, len(live)/5)
		for _, in := range live[:len(live)/5] {
			victims = append(victims, in.ID)
		}
		if len(victims) == 0 {
			t.Fatalf("at +10m the pool has %d hosts: none to reclaim", len(live))
		}
		c.cloud.Reclaim(victims...)
		watch(time.Hour)
		requeued := 0
		for _, j := range jobs {
			got, _ := c.store.Job(context.Background(), j.ID)
			if got.State != berth.Succeeded || got.Retried != 0 {
				t.Errorf("job %s: %s (%q), %d retries spent; want succeeded by +1h, none spent", j.ID, got.State, got.Reason, got.Retried)
			}
			requeued += min(got.Requeued, 1)
		}
		if requeued == 0 {
			t.Errorf("no job was re-queued after reclaiming %v", victims)
		}
		if maxHosts > 12 {
			t.Errorf("the pool had %d hosts, above its maximum of 12", maxHosts)
		}
		if bad := busyTerminations(t, c.store, jobs); len(bad) > 0 {
			t.Errorf("hosts terminated under work: %v", bad)
		}
		waitFor(t, 30*time.Minute, "the pool is back to zero", func() bool { return len(c.live(t, "spot")) == 0 })
		t.Logf("%d hosts at most; %d of 500 jobs re-queued after %d of %d hosts were reclaimed", maxHosts, requeued, len(victims), len(live))
	})
}

// busiest returns the live instance whose node runs the most attempts.
func (c *cloudPlane) busiest(t *testing.T) string {
	t.Helper()
	nodes, err := c.store.NodeInfos(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	best, used := "", -1.0
	for _, n := range nodes {
		if n.UsedCPU > used {
			best, used = n.Facts.InstanceID, n.UsedCPU
		}
	}
	if used <= 0 {
		t.Fatal("no node runs work")
	}
	return best
}

func (c *cloudPlane) launches() int {
	n := 0
	for _, call := range c.cloud.Calls() {
		if call.Method == fakecloud.Launch && call.Err == nil {
			n++
		}
	}
	return n
}

// checkCosts checks that every attempt was priced as its share of a Spot
// host, and that the ledger adds them up by pool, market and label.
func (c *cloudPlane) checkCosts(t *testing.T, jobs []berth.Job) {
	t.Helper()
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	costs, err := c.store.AttemptCosts(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, id := range ids {
		for _, a := range costs[id] {
			if a.Pool != "spot" || a.Market != berth.Spot || (a.Price != 0.036 && a.Price != 0.072) || a.Share <= 0 || a.End == nil {
				t.Errorf("attempt %s of job %s held %+v, want a share of a Spot host of pool spot", a.AttemptID, id, a.Held)
			}
			want := a.Price * a.Share * a.End.Sub(a.Start).Hours()
			if got := a.USD(time.Now()); math.Abs(got-want) > 1e-12 || got <= 0 {
				t.Errorf("attempt %s costs %v, want %v", a.AttemptID, got, want)
			}
			total += a.USD(time.Now())
		}
	}
	l, err := c.store.Ledger(context.Background(), time.Time{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The pool costs its hosts' lives: the jobs' shares (all labelled
	// team=ml) and the hosts' idle time (boots, the scale-in delay, room
	// left beside work), which is never nothing.
	byPool, byLabel := l.By(cost.ByPool), l.By(cost.ByLabel("team"))
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if idle := byLabel[cost.IdleHosts]; !near(byLabel["ml"], total) || idle <= 0 || !near(byPool["spot"], total+idle) {
		t.Errorf("ledger: by pool %v, by team %v; want ml = %v, and spot = ml + idle hosts > ml", byPool, byLabel, total)
	}
}

// waitFor sleeps in virtual time until cond holds, failing after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(time.Second)
	}
}

func (c *cloudPlane) job(t *testing.T, id string) berth.Job {
	t.Helper()
	j, err := c.store.Job(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestStoryRestartConverges: the server restarts while a Spot pool runs
// work. The new autoscaler re-reads the pool's instances and their nodes:
// it launches nothing more, terminates nothing busy, and scales the pool
// to zero once the work is done.
func TestStoryRestartConverges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := startCloudPlane(t, spotPool())
		var jobs []berth.Job
		for range 4 {
			jobs = append(jobs, c.submit(t, berth.JobSpec{Image: "busybox", CPU: 1, MemoryMB: 2048, Env: map[string]string{"FAKE_RUN_FOR": "30m"}}))
		}
		time.Sleep(5 * time.Minute)
		hosts, launches := len(c.live(t, "spot")), c.launches()
		if hosts == 0 {
			t.Fatal("no host at +5m")
		}
		c.stopLoops()
		<-c.loopsDone
		c.startLoops()
		time.Sleep(10 * time.Minute)
		if got := c.launches(); got != launches || len(c.live(t, "spot")) != hosts {
			t.Errorf("after the restart: %d launches and %d hosts, want %d and %d as before", got, len(c.live(t, "spot")), launches, hosts)
		}
		waitFor(t, time.Hour, "every job succeeds", func() bool {
			for _, j := range jobs {
				if c.job(t, j.ID).State != berth.Succeeded {
					return false
				}
			}
			return true
		})
		waitFor(t, 15*time.Minute, "the pool scales to zero", func() bool { return len(c.live(t, "spot")) == 0 })
		if bad := busyTerminations(t, c.store, jobs); len(bad) > 0 {
			t.Errorf("hosts terminated under work: %v", bad)
		}
	})
}

// TestStoryRestartMidDrain: a host the fleet drained for scale-in still
// runs a long job when the server restarts. Work then arrives that fits
// beside it: the new autoscaler reads why the host drains from the store
// and takes it back rather than buying another; a host drained by an
// operator is left alone.
func TestStoryRestartMidDrain(t *testing.T) {
	for _, tt := range []struct {
		name   string
		reason string
		reused bool
	}{
		{"drained for scale-in", autoscale.DrainScaleIn, true},
		{"drained by an operator", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := startCloudPlane(t, spotPool())
				ctx := context.Background()
				long := c.submit(t, berth.JobSpec{Image: "busybox", CPU: 1, MemoryMB: 2048, Env: map[string]string{"FAKE_RUN_FOR": "3h"}})
				waitFor(t, 5*time.Minute, "the long job runs", func() bool { return c.job(t, long.ID).State == berth.Running })
				lj := c.job(t, long.ID)
				node := lj.CurrentAttempt().Node
				if _, err := c.current().Registry.Drain(ctx, node, nil, tt.reason); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Minute)
				c.stopLoops()
				<-c.loopsDone
				c.startLoops()
				launches := c.launches()
				next := c.submit(t, berth.JobSpec{Image: "busybox", CPU: 0.5, MemoryMB: 1024, Env: map[string]string{"FAKE_RUN_FOR": "10m"}})
				waitFor(t, 5*time.Minute, "the new job runs", func() bool { return c.job(t, next.ID).State == berth.Running })
				nj := c.job(t, next.ID)
				ranOn := nj.CurrentAttempt().Node
				if got := ranOn == node; got != tt.reused {
					t.Errorf("the new job ran on %s, the drained host's node is %s: reused = %v, want %v", ranOn, node, got, tt.reused)
				}
				if got, want := c.launches()-launches, map[bool]int{true: 0, false: 1}[tt.reused]; got != want {
					t.Errorf("%d launches after the restart, want %d", got, want)
				}
			})
		})
	}
}

// TestStoryInstanceThatNeverJoins: a pool's instances boot but never join
// (a broken image). Past the join timeout each is terminated, its type is
// avoided, and the pool says why; nothing is left billing.
func TestStoryInstanceThatNeverJoins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		spec := spotPool()
		spec.JoinTimeout = berth.Duration(3 * time.Minute)
		c := startCloudPlaneDead(t, map[string]bool{"spot": true}, spec)
		j := c.submit(t, berth.JobSpec{Image: "busybox", CPU: 1, MemoryMB: 2048, Env: map[string]string{"FAKE_RUN_FOR": "10m"}})
		waitFor(t, time.Minute, "a host launched", func() bool { return len(c.live(t, "spot")) > 0 })
		first := c.live(t, "spot")[0]
		waitFor(t, 5*time.Minute, "the instance that did not join terminated", func() bool {
			return !slices.ContainsFunc(c.live(t, "spot"), func(in provider.Instance) bool { return in.ID == first.ID })
		})
		st := c.current().Fleet.Pools(time.Now())[0]
		if !strings.Contains(st.Problem, first.ID) || !strings.Contains(st.Problem, "did not join within 3m0s") {
			t.Errorf("the pool's problem is %q, want it to name %s and the join timeout", st.Problem, first.ID)
		}
		for _, o := range st.Offerings {
			if o.InstanceType == first.InstanceType && !o.Unavailable {
				t.Errorf("%s is still offered as available after its instance did not join", o.InstanceType)
			}
		}
		waitFor(t, time.Minute, "the waiting job's reason tells the pool's problem", func() bool {
			return strings.Contains(c.job(t, j.ID).Reason, "pool spot: instance "+first.ID)
		})
		time.Sleep(time.Hour)
		if n := len(c.live(t, "spot")); n > 1 {
			t.Errorf("an hour on, %d instances live, want at most the one being tried", n)
		}
	})
}

// TestStoryHostForLargeJob: a job larger than any host gets a host of its
// own, of the type that fits it; small jobs never run there, and the host
// is terminated once the job is done.
func TestStoryHostForLargeJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		spec := spotPool()
		spec.InstanceTypes = append(spec.InstanceTypes, berth.InstanceType{Name: "r5.2xlarge", CPU: 8, MemoryMB: 65536, Price: 0.504, SpotPrice: 0.15})
		c := startCloudPlane(t, spec)
		small := c.submit(t, berth.JobSpec{Image: "busybox", CPU: 1, MemoryMB: 1024, Env: map[string]string{"FAKE_RUN_FOR": "2h"}})
		waitFor(t, 5*time.Minute, "the small job runs", func() bool { return c.job(t, small.ID).State == berth.Running })
		big := c.submit(t, berth.JobSpec{Image: "busybox", CPU: 6, MemoryMB: 40000, Env: map[string]string{"FAKE_RUN_FOR": "20m"}})
		var own provider.Instance
		waitFor(t, 2*time.Minute, "a host launched for the big job", func() bool {
			for _, in := range c.live(t, "spot") {
				if in.Tags[provider.TagJob] == big.ID {
					own = in
					return true
				}
			}
			return false
		})
		if own.InstanceType != "r5.2xlarge" {
			t.Errorf("the big job's host is a %s, want an r5.2xlarge", own.InstanceType)
		}
		for range 3 {
			c.submit(t, berth.JobSpec{Image: "busybox", CPU: 0.5, MemoryMB: 512, Env: map[string]string{"FAKE_RUN_FOR": "30m"}})
		}
		waitFor(t, 30*time.Minute, "the big job succeeds", func() bool { return c.job(t, big.ID).State == berth.Succeeded })
		j := c.job(t, big.ID)
		nodes, err := c.store.NodeInfos(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var ownNode string
		for _, n := range nodes {
			if n.Facts.InstanceID == own.ID {
				ownNode = n.ID
			}
		}
		if len(j.Attempts) != 1 || j.Attempts[0].Node != ownNode {
			t.Errorf("the big job ran on %+v, want its own host's node %s", j.Attempts, ownNode)
		}
		if as, err := c.store.Assignments(context.Background(), ownNode); err == nil && len(as) > 0 {
			t.Errorf("other work on the big job's host: %+v", as)
		}
		waitFor(t, time.Minute, "its host is terminated", func() bool {
			in, _ := c.cloud.Instance(own.ID)
			return in.State == provider.InstanceTerminated
		})
		if c.job(t, small.ID).State != berth.Running {
			t.Errorf("the small job was disturbed: %s", c.job(t, small.ID).State)
		}
	})
}

// TestStoryWindowAndOverflow: a pool that exists from 02:00 to 04:00 keeps
// its work waiting until it opens, runs it, and is gone after it closes;
// a job whose start budget is short goes to the serverless overflow at
// once and costs its vCPU- and GB-seconds, as does a job pinned to the
// serverless pool, without a budget.
func TestStoryWindowAndOverflow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nightly := berth.PoolSpec{Name: "nightly", Provider: berth.ProviderFake, Market: berth.OnDemand, Min: 1, Max: 3,
			InstanceTypes: []berth.InstanceType{{Name: "c5.xlarge", CPU: 4, MemoryMB: 8192, Price: 0.17}},
			Window:        &berth.PoolWindow{Opens: "0 2 * * *", Closes: "0 4 * * *"}, Overflow: "fargate"}
		fargate := berth.PoolSpec{Name: "fargate", Provider: berth.ProviderFakeServerless,
			Serverless: &berth.Serverless{VCPUSecond: 0.04048 / 3600, GBSecond: 0.004445 / 3600, StartLatency: berth.Duration(time.Minute)}}
		c := startCloudPlane(t, nightly, fargate)
		if time.Now().Hour() != 0 {
			t.Fatalf("the bubble starts at %s, want midnight", time.Now())
		}
		var batch []berth.Job
		for range 3 {
			batch = append(batch, c.submit(t, berth.JobSpec{Image: "busybox", CPU: 2, MemoryMB: 2048, Env: map[string]string{"FAKE_RUN_FOR": "20m"}}))
		}
		urgent := c.submit(t, berth.JobSpec{Image: "busybox", CPU: 1, MemoryMB: 2048, Env: map[string]string{"FAKE_RUN_FOR": "10m"},
			StartBudget: new(berth.Duration(5 * time.Minute))})
		pinned := c.submit(t, berth.JobSpec{Image: "busybox", CPU: 1, MemoryMB: 2048, Env: map[string]string{"FAKE_RUN_FOR": "10m"},
			Pool: "fargate"})
		time.Sleep(90 * time.Minute)
		if n := len(c.live(t, "nightly")); n != 0 {
			t.Errorf("at 01:30 the closed pool has %d hosts", n)
		}
		st := c.current().Fleet.Pools(time.Now())[0]
		if w := st.Window; w == nil || w.Open || w.Next.Hour() != 2 {
			t.Errorf("at 01:30 the pool's window = %+v, want closed until 02:00", w)
		}
		if o := st.Offerings; len(o) != 1 || o[0].InstanceType != "c5.xlarge" || o[0].PriceUSDHour != 0.17 || o[0].Unavailable {
			t.Errorf("the pool offers %+v, want c5.xlarge at its price", o)
		}
		for _, j := range batch {
			if s := c.job(t, j.ID).State; s != berth.Queued {
				t.Errorf("at 01:30 job %s is %s, want queued until the window opens", j.ID, s)
			}
		}
		u := c.job(t, urgent.ID)
		if u.State != berth.Succeeded || u.Attempts[0].Node != fakehost.ServerlessNode("fargate") {
			t.Errorf("the urgent job: %s on %+v, want succeeded on the overflow", u.State, u.Attempts)
		}
		if p := c.job(t, pinned.ID); p.State != berth.Succeeded || len(p.Attempts) != 1 || p.Attempts[0].Node != fakehost.ServerlessNode("fargate") {
			t.Errorf("the job pinned to fargate: %s on %+v, want succeeded there", p.State, p.Attempts)
		}
		costs, err := c.store.AttemptCosts(context.Background(), []string{urgent.ID})
		if err != nil {
			t.Fatal(err)
		}
		if a := costs[urgent.ID][0]; a.Pool != "fargate" || a.Share != 1 || a.USD(time.Now()) <= 0 {
			t.Errorf("the urgent job held %+v, want a fargate container", a)
		}
		waitFor(t, 2*time.Hour, "the batch succeeds", func() bool {
			for _, j := range batch {
				if c.job(t, j.ID).State != berth.Succeeded {
					return false
				}
			}
			return true
		})
		if h := time.Now().Hour(); h < 2 || h >= 4 {
			t.Errorf("the batch finished at %s, want inside the window", time.Now().Format(time.TimeOnly))
		}
		if n := len(c.live(t, "nightly")); n < 1 {
			t.Errorf("inside the window the pool has %d hosts, want its minimum of 1", n)
		}
		waitFor(t, 3*time.Hour, "the pool is gone after 04:00", func() bool { return len(c.live(t, "nightly")) == 0 })
		if h := time.Now().Hour(); h < 4 {
			t.Errorf("the pool scaled to zero at %s, before its window closed", time.Now().Format(time.TimeOnly))
		}
	})
}
