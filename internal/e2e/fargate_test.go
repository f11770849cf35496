package e2e

import (
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/awsfake"
	"github.com/berth-run/berth/internal/awsfake/ecsdocker"
	"github.com/berth-run/berth/internal/dockertest"
	"github.com/berth-run/berth/internal/provider/ec2/ec2fake"
)

// fargateCloud is ECS, CloudWatch Logs and EC2 (for the pool's network)
// for a berth server run as a process: the wire fakes, over HTTP.
type fargateCloud struct {
	ecs  *awsfake.ECS
	logs *awsfake.Logs
	ecsS *httptest.Server
	ec2S *httptest.Server
	dir  string
}

// startFargateCloud serves the fakes, whose tasks run on engine, with
// the cluster berth (FARGATE and FARGATE_SPOT), subnet-0a and sg-0c.
func startFargateCloud(t testing.TB, engine awsfake.Engine, cfg awsfake.ECSConfig) *fargateCloud {
	t.Helper()
	c := &fargateCloud{logs: awsfake.NewLogs(), dir: t.TempDir()}
	cfg.Engine, cfg.Logs = engine, c.logs
	c.ecs = awsfake.NewECS(cfg)
	c.ecs.CreateCluster("berth", "FARGATE", "FARGATE_SPOT")
	c.ecsS = httptest.NewServer(awsfake.Endpoint{ECS: c.ecs, Logs: c.logs})
	ec2 := ec2fake.New(ec2fake.Config{})
	ec2.AddSubnet(ec2fake.Subnet{ID: "subnet-0a"})
	ec2.AddSecurityGroup(ec2fake.SecurityGroup{ID: "sg-0c"})
	c.ec2S = httptest.NewServer(ec2)
	t.Cleanup(func() { c.ecsS.Close(); c.ec2S.Close(); c.ecs.Close() })
	return c
}

// env points a berth server's AWS SDK at the fakes, and at nothing of
// this machine's own AWS settings.
func (c *fargateCloud) env() []string {
	none := filepath.Join(c.dir, "none")
	return []string{"AWS_ENDPOINT_URL=" + c.ecsS.URL, "AWS_ENDPOINT_URL_EC2=" + c.ec2S.URL, "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIAE2ETESTKEY", "AWS_SECRET_ACCESS_KEY=e2e-test-secret", "AWS_SESSION_TOKEN=",
		"AWS_PROFILE=", "AWS_CONFIG_FILE=" + none, "AWS_SHARED_CREDENTIALS_FILE=" + none, "AWS_EC2_METADATA_DISABLED=true"}
}

// fargateConfig is a fake pool of one small host whose jobs overflow to
// Fargate after 2 s; capacity is the fargate pool's.
func fargateConfig(capacity string) string {
	return `
pools:
  - name: fleet
    provider: fake
    instance_types: [{name: small, cpu: 1, memory_mb: 1024, price: 0.05}]
    min: 1
    max: 1
    boot_time: 1s
    start_budget: 2s
    overflow: fargate
  - name: fargate
    provider: fargate
    region: us-east-1
    cluster: berth
    subnets: [subnet-0a]
    security_groups: [sg-0c]
    capacity: ` + capacity + `
    execution_role: arn:aws:iam::123456789012:role/berth-task-execution
    log_group: /berth/jobs
    interruption_grace: 2s
`
}

// fillFleet runs a job that holds the fleet pool's one host for ten
// minutes, so that the jobs after it overflow.
func fillFleet(t testing.TB, s *server) {
	t.Helper()
	// Its own start budget of 0 keeps it waiting for the host, however
	// slow the host's boot on a loaded machine, rather than overflowing.
	var wait berth.Duration
	filler := s.submit(berth.JobSpec{Image: "berth-test/busybox:latest", CPU: 1, MemoryMB: 1024,
		Env: map[string]string{"FAKE_RUN_FOR": "10m"}, Pool: "fleet", StartBudget: &wait})
	s.waitState(filler.ID, 30*time.Second, berth.Running)
}

// TestFargateOverflow: with the fleet's one host busy, jobs whose start
// budget would be exceeded run on Fargate (tasks of real containers), say
// so in their reason, succeed, and have their logs; a job larger than
// Fargate's largest task is refused when pinned to the fargate pool.
func TestFargateOverflow(t *testing.T) {
	image := dockertest.Image(t)
	cloud := startFargateCloud(t, ecsdocker.New(dockertest.Client(t)), awsfake.ECSConfig{})
	s := startConfigServerAt(t, freeAddr(t), fargateConfig("spot-then-on-demand"), nil, cloud.env())
	fillFleet(t, s)

	var ids []string
	for i := range 3 {
		j := s.submit(berth.JobSpec{Image: image, CPU: 0.5, MemoryMB: 512,
			// The two streams are two pipes: lines written at one
			// instant may reach the log in either order, as on Fargate.
			Command: []string{"sh", "-c", "echo hello from $BERTH_JOB_ID; sleep 0.5; echo to stderr >&2; sleep " + []string{"8", "0", "0"}[i] + "; exit " + []string{"0", "0", "3"}[i]}})
		ids = append(ids, j.ID)
	}
	j := s.waitState(ids[0], 60*time.Second, berth.Running)
	if !strings.Contains(j.Reason, "fargate") || !strings.Contains(j.Reason, "start budget 2s would be exceeded") {
		t.Errorf("an overflowed job runs with reason %q; want it to name Fargate and the start budget", j.Reason)
	}
	for i, id := range ids {
		j := s.waitTerminal(id, 90*time.Second)
		want, code := berth.Succeeded, 0
		if i == 2 {
			want, code = berth.Failed, 3
		}
		if j.State != want || j.ExitCode == nil || *j.ExitCode != code || len(j.Attempts) != 1 || j.Attempts[0].Node != "node_serverless_fargate" {
			t.Errorf("job %d: %s, exit %v, attempts %+v; want %s with exit %d, on the fargate pool's node", i, j.State, j.ExitCode, j.Attempts, want, code)
		}
		if logs := s.logs(id); logs != "hello from "+id+"\nto stderr\n" {
			t.Errorf("job %d's logs = %q", i, logs)
		}
	}
	if n := cloud.ecs.Count("RegisterTaskDefinition"); n != 1 {
		t.Errorf("three jobs of one image and shape registered %d task definitions, want 1", n)
	}

	var refused struct {
		Error struct{ Field, Message string } `json:"error"`
	}
	code := s.call("POST", "/v1/jobs", berth.JobSpec{Image: image, CPU: 32, MemoryMB: 1024, Pool: "fargate"}, &refused)
	if code != 400 || refused.Error.Field != "pool" {
		t.Errorf("a 32 vCPU job pinned to the fargate pool = %d %+v, want 400 naming pool", code, refused)
	}
}

// TestFargateSpotInterruption: a job whose Fargate Spot task is
// interrupted is queued again without spending a retry, and runs again.
func TestFargateSpotInterruption(t *testing.T) {
	engine := awsfake.NewMemoryEngine()
	cloud := startFargateCloud(t, engine, awsfake.ECSConfig{})
	s := startConfigServerAt(t, freeAddr(t), fargateConfig("spot"), nil, cloud.env())
	j := s.submit(berth.JobSpec{Image: "berth-test/busybox:latest", CPU: 0.25, MemoryMB: 512, Pool: "fargate",
		Env: map[string]string{"FAKE_RUN_FOR": "8s"}})
	j = s.waitState(j.ID, 30*time.Second, berth.Running)
	tasks := cloud.ecs.TaskARNs()
	if len(tasks) != 1 {
		t.Fatalf("%d tasks for one job", len(tasks))
	}
	if err := cloud.ecs.InterruptSpot(tasks[0]); err != nil {
		t.Fatal(err)
	}
	j = s.waitJob(j.ID, 30*time.Second, "re-queued", func(j berth.Job) bool { return j.Requeued == 1 })
	if r := j.Attempts[0].Reason; !strings.Contains(r, "Fargate Spot capacity was reclaimed") || j.Retried != 0 {
		t.Errorf("the interrupted attempt ended %q with %d retries spent; want reclaimed, none spent", r, j.Retried)
	}
	j = s.waitTerminal(j.ID, 60*time.Second)
	if j.State != berth.Succeeded || len(j.Attempts) != 2 {
		t.Errorf("job: %s (%q), %d attempts; want succeeded on its second", j.State, j.Reason, len(j.Attempts))
	}
}

// TestFargateBurst: 500 jobs sent to Fargate at once all run, paced by
// the launch rate (a burst of 100, then 20 a second), with no throttling
// error reaching one of them.
func TestFargateBurst(t *testing.T) {
	const n = 500
	cloud := startFargateCloud(t, awsfake.NewMemoryEngine(), awsfake.ECSConfig{})
	s := startConfigServerAt(t, freeAddr(t), fargateConfig("on-demand"), nil, cloud.env())
	begin := time.Now()
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ids[i] = s.submit(berth.JobSpec{Image: "berth-test/busybox:latest", CPU: 0.25, MemoryMB: 512, Pool: "fargate",
				Env: map[string]string{"FAKE_RUN_FOR": "1s"}}).ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if j := s.waitTerminal(id, 5*time.Minute); j.State != berth.Succeeded || len(j.Attempts) != 1 {
			t.Fatalf("job %s: %s (%q), %d attempts; want succeeded at once", id, j.State, j.Reason, len(j.Attempts))
		}
	}
	accepted := cloud.ecs.Count("RunTask") - cloud.ecs.CountCode("RunTask", "ThrottlingException")
	floor := time.Duration(float64(n-100) / 20 * float64(time.Second))
	t.Logf("%d jobs ran on Fargate in %s (the launch rate's floor: %s); RunTask: %d accepted, %d throttled",
		n, time.Since(begin).Round(time.Millisecond), floor, accepted, cloud.ecs.CountCode("RunTask", "ThrottlingException"))
	if accepted != n {
		t.Errorf("%d RunTask calls accepted for %d jobs", accepted, n)
	}
}
