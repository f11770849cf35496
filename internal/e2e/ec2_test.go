package e2e

import (
	"encoding/json"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/dockertest"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/provider/ec2/ec2fake"
)

// ec2Cloud is EC2 for a berth server run as a process: the wire fake,
// served over HTTP, each of whose instances runs a real `berth agent` on
// the local engine once it has booted, as the user data of `berth deploy
// aws user-data` starts it, with a metadata service of its own. The agent
// is killed, and its containers removed, once the fake shows its instance
// shutting down or terminated: the machine is gone.
type ec2Cloud struct {
	t    *testing.T
	fake *ec2fake.Fake
	api  *httptest.Server
	dir  string // the instances' data directories are made here
	stop chan struct{}
	wg   sync.WaitGroup

	// mu guards the fields below.
	mu     sync.Mutex
	server string // the berth server's URL, as the instances reach it
	pool   string
	token  string // the pool's join token, as the user data reads it from SSM
	hosts  map[string]*ec2Host
	closed bool
}

// ec2Host is one instance's machine.
type ec2Host struct {
	id    string
	imds  *httptest.Server
	agent *agentProc
	gone  bool // the machine ended: its agent was killed
}

// startEC2Cloud serves a fake EC2 whose instances boot in boot, with the
// launch template berth-agents, until the test ends.
func startEC2Cloud(t *testing.T, boot time.Duration) *ec2Cloud {
	t.Helper()
	c := &ec2Cloud{t: t, dir: t.TempDir(), stop: make(chan struct{}), hosts: map[string]*ec2Host{}}
	c.fake = ec2fake.New(ec2fake.Config{BootTime: boot, Launched: c.launched})
	c.fake.PutLaunchTemplate(ec2fake.LaunchTemplate{Name: "berth-agents", HTTPTokens: "required"})
	c.api = httptest.NewServer(c.fake)
	c.wg.Add(1)
	go c.watch()
	t.Cleanup(c.close)
	return c
}

// env is what a berth server needs to reach the fake through the AWS SDK's
// default chain, and nothing of this machine's own AWS settings.
func (c *ec2Cloud) env() []string {
	none := filepath.Join(c.dir, "none")
	return []string{"AWS_ENDPOINT_URL=" + c.api.URL, "AWS_REGION=" + c.fake.Region(),
		"AWS_ACCESS_KEY_ID=AKIAE2ETESTKEY", "AWS_SECRET_ACCESS_KEY=e2e-test-secret", "AWS_SESSION_TOKEN=",
		"AWS_PROFILE=", "AWS_CONFIG_FILE=" + none, "AWS_SHARED_CREDENTIALS_FILE=" + none, "AWS_EC2_METADATA_DISABLED=true"}
}

// join says where the instances' agents join: the server's URL, the pool
// and its join token.
func (c *ec2Cloud) join(server, pool, token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.server, c.pool, c.token = server, pool, token
}

// launched is the fake's hook: the instance boots, then runs its agent.
// It runs in the fake's handler, so it only starts the boot.
func (c *ec2Cloud) launched(in ec2fake.Instance) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.wg.Add(1)
	go c.boot(in)
}

// boot waits until the fake shows the instance running, then starts its
// metadata service and its agent, with the command line of the user data
// (berth deploy aws user-data) and flags of the tests: a metadata service
// of its own in place of 169.254.169.254, short heartbeats, and never a
// power-off of this machine.
func (c *ec2Cloud) boot(in ec2fake.Instance) {
	defer c.wg.Done()
	for {
		v, ok := c.fake.Instance(in.ID)
		if !ok || v.State == "shutting-down" || v.State == "terminated" {
			return
		}
		if v.State == "running" {
			break
		}
		select {
		case <-c.stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	data, err := os.MkdirTemp(c.dir, "var-lib-berth-") // mode 0700, as the agent wants
	if err != nil {
		c.t.Errorf("instance %s: %v", in.ID, err)
		return
	}
	md := &fakeIMDS{ID: in.ID, Type: in.Type, Zone: in.Zone, Region: c.fake.Region(),
		Notice: func() (time.Time, bool) { return c.fake.Notice(in.ID) }}
	h := &ec2Host{id: in.ID, imds: httptest.NewServer(md)}
	h.agent = &agentProc{t: c.t, data: data, env: []string{"BERTH_JOIN_TOKEN=" + c.token}, args: []string{"agent",
		"--server", c.server, "--pool", c.pool, "--name", in.ID, "--orphan-after", "0", // never power this machine off
		"--imds", h.imds.URL, "--heartbeat", "500ms", "--poll-wait", "5s", "--stop-grace", "2s"}}
	if err := h.agent.spawn(); err != nil {
		h.imds.Close()
		c.t.Errorf("instance %s: start its agent: %v", in.ID, err)
		return
	}
	c.hosts[in.ID] = h
}

// watch kills the machines of the instances the fake shows shutting down
// or terminated, until the cloud closes.
func (c *ec2Cloud) watch() {
	defer c.wg.Done()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
		c.mu.Lock()
		for id, h := range c.hosts {
			v, ok := c.fake.Instance(id)
			if h.gone || (ok && (v.State == "pending" || v.State == "running")) {
				continue
			}
			c.end(h)
		}
		c.mu.Unlock()
	}
}

// end kills h's agent and removes its containers. c.mu is held.
func (c *ec2Cloud) end(h *ec2Host) {
	h.agent.stop(syscall.SIGKILL)
	h.imds.Close()
	removeNodeContainers(c.t, h.agent.nodeID())
	h.gone = true
}

// close ends every machine and the fake's server.
func (c *ec2Cloud) close() {
	c.mu.Lock()
	c.closed = true
	close(c.stop)
	c.mu.Unlock()
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range c.hosts {
		if c.t.Failed() {
			c.t.Logf("agent of %s:\n%s", h.id, h.agent.out)
		}
		if !h.gone {
			c.end(h)
		}
	}
	c.api.Close()
}

// host returns the machine of instance id.
func (c *ec2Cloud) host(id string) (ec2Host, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.hosts[id]
	if !ok {
		return ec2Host{}, false
	}
	return *h, true
}

// live returns the instances the fake shows pending or running.
func (c *ec2Cloud) live() []ec2fake.Instance {
	var out []ec2fake.Instance
	for _, in := range c.fake.Instances() {
		if in.State == "pending" || in.State == "running" {
			out = append(out, in)
		}
	}
	return out
}

// fleets counts the instant fleets berth created: the CreateFleet calls
// EC2 answered, less the SDK's retries of one (the same client token).
func (c *ec2Cloud) fleets() int {
	tokens := map[string]bool{}
	for _, call := range c.fake.CallsOf("CreateFleet") {
		if call.Code == "" {
			tokens[call.Params.Get("ClientToken")] = true
		}
	}
	return len(tokens)
}

// spotPrice is what berth prices a Spot instance of typ at: EC2's lowest
// Spot price over the zones, as DescribeSpotPriceHistory tells it.
func (c *ec2Cloud) spotPrice(typ string) float64 {
	low := math.Inf(1)
	for _, z := range c.fake.Zones() {
		if p, ok := c.fake.Price(typ, z, ec2fake.Spot); ok {
			low = min(low, p)
		}
	}
	return low
}

// nodeID reads the id of the agent's node from its data directory; "" if
// it has not joined.
func (a *agentProc) nodeID() string {
	b, err := os.ReadFile(filepath.Join(a.data, "node.id"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// ec2SpotConfig is a Spot pool of EC2 that scales from zero, of two
// instance types whose sizes EC2 gives.
const ec2SpotConfig = `
pools:
  - name: spot
    provider: ec2
    market: spot
    launch_template: berth-agents
    instance_types:
      - {name: c5.large, price: 0.085}
      - {name: m5.large, price: 0.096}
    min: 0
    max: 2
    boot_time: 1s
    scale_in_delay: 3s
    join_timeout: 30s
`

// ec2Job runs 8 s, and stops at once on SIGTERM, as a job that
// checkpoints does.
const ec2Job = `trap 'echo stopped; exit 143' TERM; echo start; sleep 8 & wait $!; echo end`

// ec2Node is a node as GET /v1/nodes/{id} shows it.
type ec2Node struct {
	berth.Node
	Notice string        `json:"notice"`
	Facts  nodeapi.Facts `json:"facts"`
}

// TestEC2SpotFleet runs the whole EC2 path with real processes: berth
// server with a Spot pool of EC2 (the wire fake, through the AWS SDK),
// and a real berth agent on each instance it launches, on the local
// engine. A job submitted with berth run -d scales the pool from zero
// with one CreateFleet; the instance joins as a node named after it, and
// the job runs in Docker there. Spot interrupts the instance: within
// seconds the node drains and the job is re-queued without spending a
// retry; a replacement is launched, joins and runs the job to success.
// After the scale-in delay every instance is terminated; berth pools
// shows the pool's types at EC2's Spot prices, and berth cost prices the
// attempts and the hosts at them.
func TestEC2SpotFleet(t *testing.T) {
	image := dockertest.Image(t)
	cloud := startEC2Cloud(t, time.Second)
	addr := freeAddr(t)
	s := startConfigServerAt(t, addr, ec2SpotConfig, nil, cloud.env(), "--advertise-url", "http://"+addr, "--lease-ttl", "5s")
	var pool berth.PoolStatus
	if code := s.call("GET", "/v1/pools/spot", nil, &pool); code != 200 || pool.Provider != "ec2" || !strings.HasPrefix(pool.JoinToken, "bjt_") {
		t.Fatalf("GET /v1/pools/spot = %d %+v, want the ec2 pool with its join token", code, pool)
	}
	cloud.join(s.url(), "spot", pool.JoinToken)
	if n := cloud.fleets(); n != 0 {
		t.Fatalf("a pool of min 0 launched %d instances before any job", n)
	}

	out, errOut, code := s.cli(t, "", "run", "-d", "--pool", "spot", "--cpu", "0.5", "--memory", "256", image, "--", "sh", "-c", ec2Job)
	if code != 0 {
		t.Fatalf("berth run -d: exit %d: %s", code, errOut)
	}
	id := strings.TrimSpace(out)
	j := s.waitState(id, 60*time.Second, berth.Running)
	if n := cloud.fleets(); n != 1 || len(cloud.fake.Instances()) != 1 {
		t.Fatalf("the pool scaled from zero with %d CreateFleet calls, %d instances; want one of each", n, len(cloud.fake.Instances()))
	}
	first := cloud.fake.Instances()[0]
	n1 := s.ec2Node(j.Attempts[0].Node)
	if n1.Name != first.ID || n1.Pool != "spot" || n1.Facts.InstanceID != first.ID || n1.Facts.InstanceType != first.Type ||
		n1.Facts.Market != "spot" || n1.Facts.Zone != first.Zone {
		t.Errorf("the job runs on node %+v; want it named after instance %s (%s in %s), in pool spot, on spot", n1, first.ID, first.Type, first.Zone)
	}
	if c := containers(t, id); len(c) != 1 {
		t.Errorf("the job has %d containers on the engine, want 1", len(c))
	}

	if err := cloud.fake.Interrupt(first.ID); err != nil {
		t.Fatal(err)
	}
	interrupted := time.Now()
	j = s.waitJob(id, 10*time.Second, "re-queued", func(j berth.Job) bool { return j.Requeued == 1 })
	requeued := time.Since(interrupted)
	if r := j.Attempts[0].Reason; r != "spot reclaimed on "+first.ID || j.Retried != 0 {
		t.Errorf("the job's first attempt ended %q, %d retries spent; want spot reclaimed on %s, none spent", r, j.Retried, first.ID)
	}
	// Drained, and then gone as soon as idle: berth terminates the
	// instance rather than pay for it until Spot reclaims it.
	if n := s.ec2Node(n1.ID); (n.State != berth.NodeDraining && n.State != berth.NodeGone) || n.Notice != string(nodeapi.SpotInterruption) {
		t.Errorf("the interrupted node is %s, notice %q; want draining or gone on its spot interruption", n.State, n.Notice)
	}
	j = s.waitJob(id, 60*time.Second, "running elsewhere", func(j berth.Job) bool {
		a := j.Attempts[len(j.Attempts)-1]
		return j.State == berth.Running && a.Node != n1.ID && a.StartedAt != nil
	})
	moved := j.Attempts[len(j.Attempts)-1].StartedAt.Sub(interrupted)
	t.Logf("Spot interruption → job re-queued in %s, running on the replacement in %s", requeued.Round(time.Millisecond), moved.Round(time.Millisecond))

	j = s.waitTerminal(id, 60*time.Second)
	if j.State != berth.Succeeded || len(j.Attempts) != 2 || j.Requeued != 1 || j.Retried != 0 {
		t.Fatalf("job: %s (%q), %d attempts, requeued %d, retried %d; want succeeded on its second attempt, no retry spent", j.State, j.Reason, len(j.Attempts), j.Requeued, j.Retried)
	}
	if logs := s.logs(id); strings.Count(logs, "start\n") != 2 || strings.Count(logs, "end\n") != 1 || !strings.Contains(logs, "stopped\n") {
		t.Errorf("the job's output %q; want two starts, the first stopped by SIGTERM, one end", logs)
	}
	if n := cloud.fleets(); n != 2 || len(cloud.fake.Instances()) != 2 {
		t.Errorf("%d CreateFleet calls, %d instances; want two of each: the first and its replacement", n, len(cloud.fake.Instances()))
	}
	second := cloud.fake.Instances()[1]
	n2 := s.ec2Node(j.Attempts[1].Node)
	if n2.Name != second.ID || n2.Facts.InstanceType != second.Type || n2.Facts.Market != "spot" {
		t.Errorf("the job's second attempt ran on node %+v; want it on the replacement %s (%s)", n2, second.ID, second.Type)
	}
	if second.Type == first.Type {
		t.Errorf("the replacement is a %s too: its Spot capacity is being reclaimed, want the other type", second.Type)
	}

	// Scale-in: every instance terminated, by berth, and its machine gone.
	deadline := time.Now().Add(45 * time.Second)
	for len(cloud.live()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("instances still live 45s after the job ended: %+v\nserver output:\n%s", cloud.live(), s.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, in := range cloud.fake.Instances() {
		h, ok := cloud.host(in.ID)
		if !ok || in.StateReason != ec2fake.ReasonUser {
			t.Errorf("instance %s: %s (%s), booted %v; want terminated by berth after running an agent", in.ID, in.State, in.StateReason, ok)
		}
		for deadline := time.Now().Add(5 * time.Second); !h.gone && time.Now().Before(deadline); h, _ = cloud.host(in.ID) {
			time.Sleep(50 * time.Millisecond)
		}
		if !h.gone {
			t.Errorf("the agent of terminated instance %s still runs", in.ID)
		}
	}
	for _, n := range []string{n1.ID, n2.ID} {
		if got := s.ec2Node(n); got.State != berth.NodeGone {
			t.Errorf("node %s of a terminated instance is %s, want gone", got.Name, got.State)
		}
	}

	s.checkEC2Prices(t, cloud, j)
}

// ec2Node reads node id.
func (s *server) ec2Node(id string) ec2Node {
	s.t.Helper()
	var n ec2Node
	if code := s.call("GET", "/v1/nodes/"+id, nil, &n); code != 200 {
		s.t.Fatalf("GET /v1/nodes/%s = %d", id, code)
	}
	return n
}

// checkEC2Prices checks that berth pools shows the pool's types at EC2's
// Spot prices, and that berth cost prices job j's attempts and the
// pool's hosts at them.
func (s *server) checkEC2Prices(t *testing.T, cloud *ec2Cloud, j berth.Job) {
	t.Helper()
	out, errOut, code := s.cli(t, "", "pools", "spot", "-o", "json")
	var pools struct {
		Pools []berth.PoolStatus `json:"pools"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &pools) != nil || len(pools.Pools) != 1 || pools.Pools[0].Spec == nil {
		t.Fatalf("berth pools spot -o json: exit %d, %s %s", code, out, errOut)
	}
	p := pools.Pools[0]
	want := []berth.InstanceType{{Name: "c5.large", CPU: 2, MemoryMB: 4096, Price: 0.085}, {Name: "m5.large", CPU: 2, MemoryMB: 8192, Price: 0.096}}
	if p.Spec.Market != berth.Spot || !slices.Equal(p.Spec.InstanceTypes, want) {
		t.Errorf("berth pools: market %s, types %+v; want spot, %+v: the sizes EC2 gives", p.Spec.Market, p.Spec.InstanceTypes, want)
	}
	if len(p.Offerings) != 2 {
		t.Errorf("berth pools: offerings %+v, want the two types", p.Offerings)
	}
	for _, o := range p.Offerings {
		if want := cloud.spotPrice(o.InstanceType); o.Market != berth.Spot || o.PriceUSDHour != want {
			t.Errorf("berth pools: %s on %s at %v; want spot at EC2's %v", o.InstanceType, o.Market, o.PriceUSDHour, want)
		}
	}

	var jv struct {
		Attempts []berth.PricedAttempt `json:"attempts"`
		CostUSD  float64               `json:"cost_usd"`
	}
	s.call("GET", "/v1/jobs/"+j.ID, nil, &jv)
	var attempts float64
	for _, a := range jv.Attempts {
		n := s.ec2Node(a.Node)
		price := cloud.spotPrice(n.Facts.InstanceType)
		want := a.Share * price * a.FinishedAt.Sub(a.CreatedAt).Hours()
		if a.Pool != "spot" || a.Market != berth.Spot || a.PriceUSDHour != price || !(a.Share > 0) || !near(a.CostUSD, want) {
			t.Errorf("attempt %s on %s (%s): pool %s, market %s, %v/h, share %v, cost %v; want spot at EC2's %v/h, cost %v",
				a.ID, n.Name, n.Facts.InstanceType, a.Pool, a.Market, a.PriceUSDHour, a.Share, a.CostUSD, price, want)
		}
		attempts += a.CostUSD
	}
	if !near(jv.CostUSD, attempts) {
		t.Errorf("job cost %v, want its attempts' %v", jv.CostUSD, attempts)
	}

	// The pool costs its hosts' lives at their Spot prices, busy or idle:
	// each from its join to its end, within its instance's life in EC2.
	var most float64
	for _, in := range cloud.fake.Instances() {
		most += cloud.spotPrice(in.Type) * in.StoppedAt.Add(time.Second).Sub(in.LaunchTime).Hours()
	}
	for _, by := range []string{"pool", "market"} {
		out, errOut, code = s.cli(t, "", "cost", "--by", by, "-o", "json")
		var rep struct {
			Lines []struct {
				Key  string  `json:"key"`
				Cost float64 `json:"cost_usd"`
				Idle float64 `json:"idle_usd"`
			} `json:"lines"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Lines) != 1 {
			t.Fatalf("berth cost --by %s -o json: exit %d, %s %s; want one line", by, code, out, errOut)
		}
		l, want := rep.Lines[0], map[string]string{"pool": "spot", "market": "spot"}[by]
		if l.Key != want || !near(l.Cost-l.Idle, attempts) || !(l.Idle > 0) || l.Cost > most {
			t.Errorf("berth cost --by %s: %s %v, of which idle %v; want %s: the attempts' %v and idle time, at most the instances' lives, %v",
				by, l.Key, l.Cost, l.Idle, want, attempts, most)
		}
	}
}

// near reports whether two dollar amounts agree to a millionth of either.
func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-6*max(math.Abs(a), math.Abs(b)) || math.Abs(a-b) < 1e-12
}
