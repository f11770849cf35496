package fargate_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/awsfake"
	"github.com/berth-run/berth/internal/awsfake/ecsdocker"
	"github.com/berth-run/berth/internal/dockertest"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/ec2/ec2fake"
	"github.com/berth-run/berth/internal/provider/fargate"
	"github.com/berth-run/berth/internal/provider/providertest"
)

// world is ECS and CloudWatch Logs, faked over HTTP, as a fargate pool's
// runners reach them through the real SDK clients.
type world struct {
	ecs  *awsfake.ECS
	logs *awsfake.Logs
	ecsC *ecs.Client
	logC *cloudwatchlogs.Client
	spec berth.PoolSpec
}

// newWorld serves the fakes, tasks running on engine, with a cluster
// "berth" that has both Fargate capacity providers.
func newWorld(t testing.TB, engine awsfake.Engine, cfg awsfake.ECSConfig) *world {
	t.Helper()
	w := &world{logs: awsfake.NewLogs()}
	cfg.Engine, cfg.Logs = engine, w.logs
	w.ecs = awsfake.NewECS(cfg)
	w.ecs.CreateCluster("berth", "FARGATE", "FARGATE_SPOT")
	srv := httptest.NewServer(awsfake.Endpoint{ECS: w.ecs, Logs: w.logs})
	t.Cleanup(func() { srv.Close(); w.ecs.Close() })
	ac := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		HTTPClient:  awsfake.HTTPClient(srv.Client())}
	w.ecsC, w.logC = ecs.NewFromConfig(ac), cloudwatchlogs.NewFromConfig(ac)
	w.spec = berth.PoolSpec{Name: "fargate", Provider: berth.ProviderFargate, Cluster: "berth",
		Subnets: []string{"subnet-0a"}, SecurityGroups: []string{"sg-0c"},
		ExecutionRole:     "arn:aws:iam::123456789012:role/berth-task-execution",
		InterruptionGrace: berth.Duration(2 * time.Second)}.WithDefaults()
	return w
}

// runner returns a new runner of the world's pool, as a restarted server
// has; it polls often, as tests want.
func (w *world) runner(t testing.TB, change ...func(*fargate.Config)) *fargate.Runner {
	t.Helper()
	cfg := fargate.Config{Spec: w.spec, Cluster: "test", Region: "us-east-1",
		PollInterval: 100 * time.Millisecond, LogInterval: 100 * time.Millisecond}
	for _, c := range change {
		c(&cfg)
	}
	r, err := fargate.New(t.Context(), w.ecsC, w.logC, cfg)
	if err != nil {
		t.Fatalf("fargate.New: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

// TestRunner: the runner passes the runner conformance suite, its tasks
// real containers on the local engine.
func TestRunner(t *testing.T) {
	w := newWorld(t, ecsdocker.New(dockertest.Client(t)), awsfake.ECSConfig{})
	providertest.RunRunnerTests(t, providertest.Shell(providertest.Harness{
		NewRunner:         func(t *testing.T) provider.Runner { return w.runner(t) },
		Image:             dockertest.Image(t),
		MissingImage:      "berth-test/missing:never",
		OOMMayGoUnflagged: true,
		PullsAtStart:      true,
	}))
}

// container is an attempt's container that the memory engine runs for d.
func container(d time.Duration, env ...string) provider.Container {
	now := time.Now()
	c := provider.Container{JobID: berth.NewID("job", now), AttemptID: berth.NewID("att", now), Node: "node_serverless_fargate",
		Image: "berth-test/busybox:latest", CPU: 1, MemoryMB: 2048, Env: map[string]string{"FAKE_RUN_FOR": d.String()}}
	for i := 0; i+1 < len(env); i += 2 {
		c.Env[env[i]] = env[i+1]
	}
	return c
}

// start creates and starts c on r.
func start(t *testing.T, r *fargate.Runner, c provider.Container) string {
	t.Helper()
	id, err := r.Create(t.Context(), c)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := r.Start(t.Context(), id); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return id
}

// TestTaskDefinitionsReused: one task definition per image and size,
// registered once, and found again by a restarted runner.
func TestTaskDefinitionsReused(t *testing.T) {
	w := newWorld(t, awsfake.NewMemoryEngine(), awsfake.ECSConfig{})
	r := w.runner(t)
	for range 3 {
		start(t, r, container(time.Millisecond))
	}
	big := container(time.Millisecond)
	big.CPU, big.MemoryMB = 3, 10000 // 4 vCPU, 10 GiB
	start(t, r, big)
	if n := w.ecs.Count("RegisterTaskDefinition"); n != 2 {
		t.Errorf("RegisterTaskDefinition called %d times for two shapes, want 2", n)
	}
	start(t, w.runner(t), container(time.Millisecond))
	if n := w.ecs.Count("RegisterTaskDefinition"); n != 2 {
		t.Errorf("a restarted runner registered again: %d registrations, want 2", n)
	}
	out, err := w.ecsC.DescribeTasks(t.Context(), &ecs.DescribeTasksInput{Cluster: aws.String("berth"), Tasks: []string{taskOf(t, w, big.AttemptID)}})
	if err != nil || len(out.Tasks) != 1 {
		t.Fatalf("DescribeTasks = %v, %v", out, err)
	}
	if got := aws.ToString(out.Tasks[0].Cpu) + "/" + aws.ToString(out.Tasks[0].Memory); got != "4096/10240" {
		t.Errorf("task of 3 vCPU and 10,000 MiB has size %s, want Fargate's 4096/10240", got)
	}
}

// taskOf returns the ARN of the task that runs attempt.
func taskOf(t *testing.T, w *world, attempt string) string {
	t.Helper()
	var arns []string
	for _, desired := range []ecstypes.DesiredStatus{ecstypes.DesiredStatusRunning, ecstypes.DesiredStatusStopped} {
		list, err := w.ecsC.ListTasks(t.Context(), &ecs.ListTasksInput{Cluster: aws.String("berth"), DesiredStatus: desired})
		if err != nil {
			t.Fatal(err)
		}
		arns = append(arns, list.TaskArns...)
	}
	if len(arns) > 0 {
		out, err := w.ecsC.DescribeTasks(t.Context(), &ecs.DescribeTasksInput{Cluster: aws.String("berth"), Tasks: arns,
			Include: []ecstypes.TaskField{ecstypes.TaskFieldTags}})
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range out.Tasks {
			for _, tg := range task.Tags {
				if aws.ToString(tg.Key) == provider.LabelAttempt && aws.ToString(tg.Value) == attempt {
					return aws.ToString(task.TaskArn)
				}
			}
		}
	}
	t.Fatalf("no task runs attempt %s", attempt)
	return ""
}

// TestSpotThenOnDemand: with Fargate Spot out of capacity, a pool whose
// capacity is spot-then-on-demand runs its task on FARGATE at once; a
// pool on Spot alone waits until Spot has capacity again.
func TestSpotThenOnDemand(t *testing.T) {
	w := newWorld(t, awsfake.NewMemoryEngine(), awsfake.ECSConfig{})
	w.ecs.SpotCapacity(false)
	w.spec.Capacity = berth.FargateSpotThenOnDemand
	r := w.runner(t)
	id := start(t, r, container(time.Minute))
	if got := providerOf(t, w, id); got != "FARGATE" {
		t.Errorf("with Spot out of capacity the task ran on %q, want FARGATE", got)
	}

	w.spec.Capacity = berth.FargateSpot
	spot := w.runner(t)
	c := container(time.Minute)
	id, err := spot.Create(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- spot.Start(t.Context(), id) }()
	select {
	case err := <-done:
		t.Fatalf("Start on Spot alone, out of capacity, = %v before Spot had capacity", err)
	case <-time.After(500 * time.Millisecond):
	}
	w.ecs.SpotCapacity(true)
	if err := <-done; err != nil {
		t.Fatalf("Start once Spot had capacity = %v", err)
	}
	if got := providerOf(t, w, id); got != "FARGATE_SPOT" {
		t.Errorf("the Spot pool's task ran on %q, want FARGATE_SPOT", got)
	}
}

// providerOf returns the capacity provider of attempt id's task.
func providerOf(t *testing.T, w *world, id string) string {
	t.Helper()
	out, err := w.ecsC.DescribeTasks(t.Context(), &ecs.DescribeTasksInput{Cluster: aws.String("berth"), Tasks: []string{taskOf(t, w, id)}})
	if err != nil || len(out.Tasks) != 1 {
		t.Fatalf("DescribeTasks = %v, %v", out, err)
	}
	return aws.ToString(out.Tasks[0].CapacityProviderName)
}

// TestSpotInterruption: a task whose Spot capacity is reclaimed ends
// reclaimed, not with an exit code of the job's.
func TestSpotInterruption(t *testing.T) {
	w := newWorld(t, awsfake.NewMemoryEngine(), awsfake.ECSConfig{})
	w.spec.Capacity = berth.FargateSpot
	r := w.runner(t)
	id := start(t, r, container(time.Hour))
	if err := w.ecs.InterruptSpot(taskOf(t, w, id)); err != nil {
		t.Fatal(err)
	}
	st, err := r.Wait(t.Context(), id)
	if err != nil {
		t.Fatalf("Wait = %v", err)
	}
	if st.State != provider.Exited || !strings.Contains(st.Reclaimed, "Spot") {
		t.Errorf("Wait after a Spot interruption = %+v, want exited and reclaimed", st)
	}
}

// TestThrottlingAbsorbed: more tasks at once than Fargate's burst all
// start, paced by the runner, without a throttling error reaching one.
func TestThrottlingAbsorbed(t *testing.T) {
	w := newWorld(t, awsfake.NewMemoryEngine(), awsfake.ECSConfig{LaunchBurst: 10, LaunchRate: 50})
	w.spec.LaunchBurst, w.spec.LaunchRate = 10, 50
	r := w.runner(t)
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	begin := time.Now()
	for range n {
		wg.Go(func() {
			id, err := r.Create(t.Context(), container(time.Millisecond))
			if err == nil {
				err = r.Start(t.Context(), id)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Start = %v", err)
		}
	}
	floor := time.Duration(float64(n-10) / 50 * float64(time.Second))
	if took := time.Since(begin); took < floor*9/10 {
		t.Errorf("%d tasks started in %v, under the launch rate's floor of %v", n, took, floor)
	}
	if got := w.ecs.Count("RunTask"); got < n {
		t.Errorf("RunTask called %d times for %d tasks", got, n)
	}
}

// TestStartChecks: a cluster without the capacity providers the pool
// needs, a log group that cannot be made, subnets and security groups of
// different VPCs: each stops the runner at start, naming the field.
func TestStartChecks(t *testing.T) {
	w := newWorld(t, awsfake.NewMemoryEngine(), awsfake.ECSConfig{})
	w.ecs.CreateCluster("ondemand-only", "FARGATE")
	ec2 := ec2fake.New(ec2fake.Config{})
	a := ec2.AddSubnet(ec2fake.Subnet{ID: "subnet-0a", VPC: "vpc-1"})
	ec2.AddSecurityGroup(ec2fake.SecurityGroup{ID: "sg-0c", VPC: "vpc-2"})
	ec2.AddSecurityGroup(ec2fake.SecurityGroup{ID: "sg-0d", VPC: a.VPC})
	srv := httptest.NewServer(ec2)
	t.Cleanup(srv.Close)
	net := awsec2.New(awsec2.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""), HTTPClient: ec2fake.HTTPClient(srv.Client())})
	tests := []struct {
		name   string
		change func(*berth.PoolSpec)
		field  string
	}{
		{"no such cluster", func(s *berth.PoolSpec) { s.Cluster = "nope" }, "cluster"},
		{"no Spot provider", func(s *berth.PoolSpec) { s.Cluster, s.Capacity = "ondemand-only", berth.FargateSpotThenOnDemand }, "cluster"},
		{"groups of another VPC", func(s *berth.PoolSpec) {}, "security_groups[0]"},
		{"no such group", func(s *berth.PoolSpec) { s.SecurityGroups = []string{"sg-0e"} }, "security_groups"},
		{"no such subnet", func(s *berth.PoolSpec) { s.Subnets = []string{"subnet-0z"} }, "subnets"},
		{"one VPC", func(s *berth.PoolSpec) { s.SecurityGroups = []string{"sg-0d"} }, ""},
	}
	for _, tt := range tests {
		spec := w.spec
		tt.change(&spec)
		_, err := fargate.New(t.Context(), w.ecsC, w.logC, fargate.Config{Spec: spec, Cluster: "test", Region: "us-east-1", Network: net})
		var fe *berth.FieldError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%s: New = %v, want nil", tt.name, err)
		case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
			t.Errorf("%s: New = %v, want an error on field %q", tt.name, err, tt.field)
		}
	}
}

// TestTooLarge: a job larger than Fargate's largest task is refused at
// Create, never sent.
func TestTooLarge(t *testing.T) {
	w := newWorld(t, awsfake.NewMemoryEngine(), awsfake.ECSConfig{})
	r := w.runner(t)
	c := container(time.Millisecond)
	c.CPU = 32
	_, err := r.Create(context.Background(), c)
	var se *provider.StartError
	if !errors.As(err, &se) {
		t.Fatalf("Create of 32 vCPU = %v, want a *StartError", err)
	}
	if n := w.ecs.Count("RunTask") + w.ecs.Count("RegisterTaskDefinition"); n != 0 {
		t.Errorf("%d calls to ECS for a job Fargate cannot size", n)
	}
}

// TestRemovedBeforeItsTaskWasKnown: an attempt removed while its task's
// ARN was unknown (a RunTask whose answer was lost) does not bring the
// runner down when the task shows up in a listing, and the task, which
// nobody owns any more, is stopped.
func TestRemovedBeforeItsTaskWasKnown(t *testing.T) {
	w := newWorld(t, awsfake.NewMemoryEngine(), awsfake.ECSConfig{})
	c := container(time.Hour)
	start(t, w.runner(t), c) // the answer reached a runner that is gone
	r := w.runner(t, func(cfg *fargate.Config) { cfg.ListInterval = time.Nanosecond })
	if _, err := r.Create(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if err := r.Remove(t.Context(), c.AttemptID); err != nil {
		t.Fatalf("Remove = %v", err)
	}
	if _, err := r.List(t.Context()); err != nil {
		t.Fatalf("List = %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for w.ecs.RunningTasks() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the removed attempt's task still runs")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWaitWhileECSFails: when DescribeTasks keeps failing, Wait says
// that the engine is unavailable rather than wait for ever; once ECS
// answers again, the task is followed to its end.
func TestWaitWhileECSFails(t *testing.T) {
	w := newWorld(t, awsfake.NewMemoryEngine(), awsfake.ECSConfig{})
	r := w.runner(t)
	id := start(t, r, container(2*time.Second))
	for range 40 {
		w.ecs.FailNext(awsfake.APIError{Status: 500, Code: "ServerException", Message: "the fake fails"})
	}
	_, err := r.Wait(t.Context(), id)
	if !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("Wait while DescribeTasks fails = %v, want ErrUnavailable", err)
	}
	for {
		st, err := r.Wait(t.Context(), id)
		if err == nil {
			if st.State != provider.Exited || st.ExitCode != 0 {
				t.Errorf("Wait once ECS answers = %+v", st)
			}
			return
		}
		if !errors.Is(err, provider.ErrUnavailable) {
			t.Fatalf("Wait = %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
