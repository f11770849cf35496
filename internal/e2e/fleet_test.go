package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
)

// fleetConfig is a Spot pool of the fake provider whose cheaper type's
// market runs dry from +16s to +20s (and every 10 minutes after), a dearer
// type that never does, and a serverless overflow.
const fleetConfig = `
pools:
  - name: spot
    provider: fake
    market: spot
    instance_types:
      - {name: m5.large,  cpu: 2, memory_mb: 8192, price: 0.096, spot_price: 0.036, spot_trace: dry-at-16s.json}
      - {name: m5a.large, cpu: 2, memory_mb: 8192, price: 0.086, spot_price: 0.05}
    max: 4
    boot_time: 2s
    scale_in_delay: 3s
    interruption_grace: 5s
    overflow: overflow
  - name: overflow
    provider: fake-serverless
    serverless: {vcpu_second_usd: 0.0000112444, gb_second_usd: 0.0000012347, start_latency: 2s}
`

// startConfigServer starts berth server with the configuration file text
// (and the trace files given, by name), without the local engine.
func startConfigServer(t *testing.T, config string, files map[string]string) *server {
	t.Helper()
	return startConfigServerAt(t, freeAddr(t), config, files, nil)
}

// startConfigServerAt is startConfigServer listening on addr, with
// variables added to its environment and extra flags.
func startConfigServerAt(t testing.TB, addr, config string, files map[string]string, env []string, flags ...string) *server {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "berth.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, data: privateDir(t), addr: addr, args: append([]string{"--config", path, "--local-agent=false"}, flags...),
		env: env, scheme: "http", hc: http.DefaultClient}
	s.start()
	t.Cleanup(func() { s.stop(syscall.SIGTERM) })
	return s
}

// dryTrace is available for 4 ticks of 4s, then not for one, then for 150.
func dryTrace() string {
	data := []string{"1", "1", "1", "1", "0"}
	for range 150 {
		data = append(data, "1")
	}
	return `{"metadata": {"gap_seconds": 4}, "data": [` + strings.Join(data, ",") + `]}`
}

// fleetNodes returns the nodes of pool.
func (s *server) fleetNodes(pool string) []berth.Node {
	s.t.Helper()
	var list struct {
		Nodes []berth.Node `json:"nodes"`
	}
	s.call("GET", "/v1/nodes", nil, &list)
	var out []berth.Node
	for _, n := range list.Nodes {
		if n.Pool == pool {
			out = append(out, n)
		}
	}
	return out
}

// TestFleetSpotPool runs a server whose only capacity is a fake Spot pool:
// hosts are launched for the jobs and join as nodes; the cheap type's
// Spot capacity is reclaimed under the jobs at +16s, which re-queues them
// without spending a retry onto a replacement of the other type; every job
// succeeds, a job with a short start budget runs on the serverless
// overflow, the pool scales back to zero, and berth cost reports what the
// jobs cost.
func TestFleetSpotPool(t *testing.T) {
	s := startConfigServer(t, fleetConfig, map[string]string{"dry-at-16s.json": dryTrace()})
	var pool struct {
		Provider string          `json:"provider"`
		Spec     *berth.PoolSpec `json:"spec"`
		Token    string          `json:"join_token"`
	}
	if code := s.call("GET", "/v1/pools/spot", nil, &pool); code != 200 || pool.Provider != "fake" || pool.Spec == nil ||
		pool.Spec.Max != 4 || !strings.HasPrefix(pool.Token, "bjt_") {
		t.Fatalf("GET /v1/pools/spot = %d %+v, want the configured pool with its join token", code, pool)
	}
	spec := berth.JobSpec{Image: "busybox", CPU: 1, MemoryMB: 1024, Env: map[string]string{"FAKE_RUN_FOR": "20s"},
		Labels: map[string]string{"team": "ml"}}
	var jobs []berth.Job
	for range 4 {
		jobs = append(jobs, s.submit(spec))
	}
	over := spec
	over.Env = map[string]string{"FAKE_RUN_FOR": "1s"}
	over.Labels = map[string]string{"team": "web"}
	over.StartBudget = new(berth.Duration(time.Second))
	overflowed := s.submit(over)

	deadline := time.Now().Add(15 * time.Second)
	for len(s.fleetNodes("spot")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no node of pool spot joined within 15s; server output:\n%s", s.out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.metricsContain(`berth_pool_schedulable_largest{pool="spot"}`, `berth_pool_instances{pool="spot",state="running"}`)

	var requeued int
	for _, j := range jobs {
		j = s.waitTerminal(j.ID, 90*time.Second)
		if j.State != berth.Succeeded || j.Retried != 0 {
			t.Errorf("job %s: %s (%q), %d retries spent; want succeeded, none spent", j.ID, j.State, j.Reason, j.Retried)
		}
		if j.Requeued > 0 {
			requeued++
			if r := j.Attempts[0].Reason; !strings.HasPrefix(r, "spot reclaimed on ") {
				t.Errorf("job %s: first attempt ended %q, want spot reclaimed", j.ID, r)
			}
		}
	}
	if requeued == 0 {
		t.Errorf("no job was re-queued when Spot capacity ran dry at +16s; server output:\n%s", s.out)
	}
	if j := s.waitTerminal(overflowed.ID, 30*time.Second); j.State != berth.Succeeded || len(j.Attempts) != 1 ||
		j.Attempts[0].Node != "node_serverless_overflow" {
		t.Errorf("job with a 1s start budget: %s on %+v, want succeeded on the overflow's node", j.State, j.Attempts)
	}

	deadline = time.Now().Add(30 * time.Second)
	for len(s.fleetNodes("spot")) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("pool spot still has nodes 30s after its jobs ended: %+v", s.fleetNodes("spot"))
		}
		time.Sleep(500 * time.Millisecond)
	}

	out, errOut, code := s.cli(t, "", "cost", "-o", "json")
	var byPool struct {
		Total float64 `json:"total_usd"`
		Lines []struct {
			Key  string  `json:"key"`
			Cost float64 `json:"cost_usd"`
		} `json:"lines"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &byPool) != nil {
		t.Fatalf("berth cost -o json: exit %d, %s %s", code, out, errOut)
	}
	got := map[string]float64{}
	for _, l := range byPool.Lines {
		got[l.Key] = l.Cost
	}
	if got["spot"] <= 0 || got["overflow"] <= 0 || byPool.Total < got["spot"]+got["overflow"]-1e-12 {
		t.Errorf("berth cost: %s; want spot and overflow costs", out)
	}
	var j struct {
		Cost float64 `json:"cost_usd"`
	}
	s.call("GET", "/v1/jobs/"+jobs[0].ID, nil, &j)
	if j.Cost <= 0 {
		t.Errorf("job %s costs %v, want its share of its hosts", jobs[0].ID, j.Cost)
	}
}

// metricsContain checks that /metrics has each of the series.
func (s *server) metricsContain(series ...string) {
	s.t.Helper()
	resp, err := http.Get(s.url() + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range series {
		if !strings.Contains(string(b), want) {
			s.t.Errorf("GET /metrics lacks %s", want)
		}
	}
}

// TestBadConfig: a configuration with a fault stops the server at once,
// naming the field.
func TestBadConfig(t *testing.T) {
	for _, tt := range []struct{ config, want string }{
		{"pools:\n  - {name: spot, provider: fake, market: spot, max: 2, instance_types: [{name: a, cpu: -1, memory_mb: 512, price: 1}]}\n",
			"pools[0].instance_types[0].cpu"},
		{"pools:\n  - {name: big, provider: ec2, launch_template: lt, max: 2, instance_types: [{name: a, cpu: 1, memory_mb: 512, price: 1}]}\n",
			"pools[0].region"}, // no region anywhere: the AWS SDK's chain is empty here
		{"pools:\n  - {name: big, provider: ec2, max: 2, security_groups: [sg-1], launch_template: lt, instance_types: [{name: a, price: 1}]}\n",
			"pools[0].security_groups"},
		{"pools:\n  - {name: x, provider: fake, max: 1, colour: red, instance_types: [{name: a, cpu: 1, memory_mb: 512, price: 1}]}\n",
			"pools[0].colour"},
	} {
		path := filepath.Join(t.TempDir(), "berth.yaml")
		if err := os.WriteFile(path, []byte(tt.config), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(binary, "server", "--data", privateDir(t), "--listen", freeAddr(t), "--config", path)
		cmd.Env = append(os.Environ(), "AWS_REGION=", "AWS_DEFAULT_REGION=", "AWS_PROFILE=", "AWS_CONFIG_FILE="+filepath.Join(t.TempDir(), "none"),
			"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(t.TempDir(), "none"), "AWS_EC2_METADATA_DISABLED=true")
		out, err := cmd.CombinedOutput()
		if err == nil || cmd.ProcessState.ExitCode() == 0 || !strings.Contains(string(out), tt.want) {
			t.Errorf("berth server --config with %q: %v, output %q; want a non-zero exit naming %s", tt.config, err, out, tt.want)
		}
	}
}

// deadlineConfig is a Spot pool and an on-demand pool of the fake provider.
const deadlineConfig = `
pools:
  - name: spot
    provider: fake
    market: spot
    instance_types:
      - {name: m5.large, cpu: 2, memory_mb: 8192, price: 0.096, spot_price: 0.036}
    max: 2
    boot_time: 1s
    scale_in_delay: 3s
  - name: od
    provider: fake
    market: on-demand
    instance_types:
      - {name: m5.large, cpu: 2, memory_mb: 8192, price: 0.096}
    max: 2
    boot_time: 1s
    scale_in_delay: 3s
`

// TestDeadlineJobs: through the CLI, a job whose deadline leaves slack runs
// on Spot, and one whose deadline leaves none runs on on-demand; both meet
// their deadlines and berth status says so.
func TestDeadlineJobs(t *testing.T) {
	s := startConfigServer(t, deadlineConfig, nil)
	submit := func(deadline, expected string) string {
		t.Helper()
		out, errOut, code := s.cli(t, "", "run", "-d", "--deadline", deadline, "--expected-duration", expected,
			"-e", "FAKE_RUN_FOR=2s", "--cpu", "1", "--memory", "1024", "busybox")
		if code != 0 {
			t.Fatalf("berth run --deadline %s: exit %d: %s", deadline, code, errOut)
		}
		return strings.TrimSpace(out)
	}
	slack, tight := submit("1h", "2s"), submit("40s", "5s")
	for id, want := range map[string]string{slack: "spot", tight: "od"} {
		j := s.waitTerminal(id, 60*time.Second)
		var v struct {
			Attempts []struct {
				Pool   string       `json:"pool"`
				Market berth.Market `json:"market"`
			} `json:"attempts"`
		}
		s.call("GET", "/v1/jobs/"+id, nil, &v)
		if j.State != berth.Succeeded || len(v.Attempts) != 1 || v.Attempts[0].Pool != want || j.FinishedAt.After(*j.Deadline) {
			t.Errorf("job %s due %s: %s (%q) on %+v, want succeeded once on pool %s, in time; server output:\n%s",
				id, j.Deadline, j.State, j.Reason, v.Attempts, want, s.out)
		}
		out, _, _ := s.cli(t, "", "status", id)
		if !strings.Contains(out, "to spare") {
			t.Errorf("berth status %s does not say the deadline was met:\n%s", id, out)
		}
	}
	if _, errOut, code := s.cli(t, "", "run", "-d", "--deadline", "10s", "--expected-duration", "1m", "busybox"); code == 0 ||
		strings.Count(errOut, "deadline:") != 1 {
		t.Errorf("a deadline sooner than the run time: exit %d, %q; want refused naming deadline once", code, errOut)
	}
}
