package awsfake_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"

	"github.com/berth-run/berth/internal/awsfake"
)

// fixture is an ECS fake on a MemoryEngine with a Logs fake, reached by
// the real SDK clients in process, for tests in a synctest bubble.
type fixture struct {
	ecs    *awsfake.ECS
	logs   *awsfake.Logs
	engine *awsfake.MemoryEngine
	ecsC   *ecs.Client
	logsC  *cloudwatchlogs.Client
}

func newFixture(t *testing.T, cfg awsfake.ECSConfig) *fixture {
	t.Helper()
	f := &fixture{logs: awsfake.NewLogs(), engine: awsfake.NewMemoryEngine()}
	cfg.Engine, cfg.Logs = f.engine, f.logs
	f.ecs = awsfake.NewECS(cfg)
	t.Cleanup(f.ecs.Close)
	f.ecs.CreateCluster("berth", "FARGATE", "FARGATE_SPOT")
	f.logs.CreateGroup("/berth/jobs")
	ac := aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret-key", ""),
		BaseEndpoint:     aws.String("http://aws.fake"),
		RetryMaxAttempts: 1,
		HTTPClient:       awsfake.InProcess(awsfake.Endpoint{ECS: f.ecs, Logs: f.logs}),
	}
	f.ecsC, f.logsC = ecs.NewFromConfig(ac), cloudwatchlogs.NewFromConfig(ac)
	return f
}

// jobDef is a Fargate task definition of one container that logs with
// awslogs.
func jobDef(family string) *ecs.RegisterTaskDefinitionInput {
	return &ecs.RegisterTaskDefinitionInput{
		Family:                  aws.String(family),
		RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
		NetworkMode:             ecstypes.NetworkModeAwsvpc,
		Cpu:                     aws.String("256"),
		Memory:                  aws.String("512"),
		ExecutionRoleArn:        aws.String("arn:aws:iam::123456789012:role/berth-exec"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{
			Name:        aws.String("job"),
			Image:       aws.String("berth-test/busybox:latest"),
			StopTimeout: aws.Int32(5),
			LogConfiguration: &ecstypes.LogConfiguration{
				LogDriver: ecstypes.LogDriverAwslogs,
				Options: map[string]string{
					"awslogs-group": "/berth/jobs", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "berth",
				},
			},
		}},
	}
}

func (f *fixture) register(t *testing.T, in *ecs.RegisterTaskDefinitionInput) string {
	t.Helper()
	out, err := f.ecsC.RegisterTaskDefinition(context.Background(), in)
	if err != nil {
		t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

// runInput runs def on the strategy with the FAKE_ script in env.
func runInput(def string, providers []string, env map[string]string) *ecs.RunTaskInput {
	in := &ecs.RunTaskInput{
		Cluster:        aws.String("berth"),
		TaskDefinition: aws.String(def),
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{
			Subnets: []string{"subnet-0fake"},
		}},
		StartedBy: aws.String("berth"),
	}
	for _, p := range providers {
		in.CapacityProviderStrategy = append(in.CapacityProviderStrategy, ecstypes.CapacityProviderStrategyItem{CapacityProvider: aws.String(p), Weight: 1})
	}
	var kv []ecstypes.KeyValuePair
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range env {
			if !yield(k) {
				return
			}
		}
	}) {
		kv = append(kv, ecstypes.KeyValuePair{Name: aws.String(k), Value: aws.String(env[k])})
	}
	in.Overrides = &ecstypes.TaskOverride{ContainerOverrides: []ecstypes.ContainerOverride{{Name: aws.String("job"), Environment: kv}}}
	return in
}

func (f *fixture) run(t *testing.T, in *ecs.RunTaskInput) ecstypes.Task {
	t.Helper()
	out, err := f.ecsC.RunTask(context.Background(), in)
	if err != nil {
		t.Fatalf("RunTask: %v", err)
	}
	if len(out.Tasks) != 1 || len(out.Failures) != 0 {
		t.Fatalf("RunTask = %d tasks, failures %+v; want 1 task", len(out.Tasks), out.Failures)
	}
	return out.Tasks[0]
}

func (f *fixture) describe(t *testing.T, arn string) ecstypes.Task {
	t.Helper()
	out, err := f.ecsC.DescribeTasks(context.Background(), &ecs.DescribeTasksInput{Cluster: aws.String("berth"), Tasks: []string{arn}})
	if err != nil {
		t.Fatalf("DescribeTasks: %v", err)
	}
	if len(out.Tasks) != 1 {
		t.Fatalf("DescribeTasks(%s) = failures %+v", arn, out.Failures)
	}
	return out.Tasks[0]
}

// waitStopped polls DescribeTasks every second until the task stopped.
func (f *fixture) waitStopped(t *testing.T, arn string, within time.Duration) ecstypes.Task {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		task := f.describe(t, arn)
		if aws.ToString(task.LastStatus) == "STOPPED" {
			return task
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s is %s after %v, want STOPPED", arn, aws.ToString(task.LastStatus), within)
		}
		time.Sleep(time.Second)
	}
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestTaskRunsToItsExitWithLogs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, awsfake.ECSConfig{ProvisioningDelay: 2 * time.Second})
		def := f.register(t, jobDef("job"))
		task := f.run(t, runInput("job", []string{"FARGATE_SPOT"}, map[string]string{
			"FAKE_RUN_FOR": "10s", "FAKE_EXIT_CODE": "3", "FAKE_OUTPUT": "hello\nworld\n",
		}))
		arn := aws.ToString(task.TaskArn)
		if got := aws.ToString(task.LastStatus); got != "PROVISIONING" {
			t.Errorf("RunTask: lastStatus %s, want PROVISIONING", got)
		}
		if aws.ToString(task.TaskDefinitionArn) != def || aws.ToString(task.CapacityProviderName) != "FARGATE_SPOT" ||
			task.LaunchType != ecstypes.LaunchTypeFargate || aws.ToString(task.Group) != "family:job" ||
			aws.ToString(task.Cpu) != "256" || aws.ToString(task.Memory) != "512" || aws.ToString(task.StartedBy) != "berth" {
			t.Errorf("RunTask: task %+v", task)
		}
		time.Sleep(3 * time.Second)
		if got := f.describe(t, arn); aws.ToString(got.LastStatus) != "RUNNING" || got.StartedAt == nil {
			t.Errorf("at +3s: lastStatus %s, startedAt %v; want RUNNING", aws.ToString(got.LastStatus), got.StartedAt)
		}
		got := f.waitStopped(t, arn, time.Minute)
		c := got.Containers[0]
		if got.StopCode != ecstypes.TaskStopCodeEssentialContainerExited || aws.ToString(got.StoppedReason) != awsfake.ReasonEssentialExited ||
			aws.ToInt32(c.ExitCode) != 3 || c.ExitCode == nil || aws.ToString(got.DesiredStatus) != "STOPPED" || got.StoppedAt == nil {
			t.Errorf("stopped task: stopCode %s, reason %q, exit %v, desired %s", got.StopCode, aws.ToString(got.StoppedReason), c.ExitCode, aws.ToString(got.DesiredStatus))
		}
		id := arn[strings.LastIndexByte(arn, '/')+1:]
		out, err := f.logsC.GetLogEvents(context.Background(), &cloudwatchlogs.GetLogEventsInput{
			LogGroupName: aws.String("/berth/jobs"), LogStreamName: aws.String("berth/job/" + id), StartFromHead: aws.Bool(true),
		})
		if err != nil {
			t.Fatalf("GetLogEvents: %v", err)
		}
		var lines []string
		for _, e := range out.Events {
			lines = append(lines, aws.ToString(e.Message))
		}
		if !slices.Equal(lines, []string{"hello", "world"}) {
			t.Errorf("logs = %q, want hello, world", lines)
		}
	})
}

func TestRegisterTaskDefinition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, awsfake.ECSConfig{})
		if a, b := f.register(t, jobDef("job")), f.register(t, jobDef("job")); !strings.HasSuffix(a, "/job:1") || !strings.HasSuffix(b, "/job:2") {
			t.Errorf("revisions = %s, %s; want job:1, job:2", a, b)
		}
		for _, ref := range []string{"job", "job:2", "arn:aws:ecs:us-east-1:123456789012:task-definition/job:2"} {
			out, err := f.ecsC.DescribeTaskDefinition(context.Background(), &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(ref)})
			if err != nil || out.TaskDefinition.Revision != 2 || aws.ToString(out.TaskDefinition.Cpu) != "256" {
				t.Errorf("DescribeTaskDefinition(%s) = %+v, %v; want revision 2", ref, out, err)
			}
		}
		_, err := f.ecsC.DescribeTaskDefinition(context.Background(), &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("job:3")})
		if apiCode(err) != "ClientException" || !strings.Contains(err.Error(), "Unable to describe task definition.") {
			t.Errorf("DescribeTaskDefinition(job:3) = %v, want ClientException", err)
		}
		for name, mutate := range map[string]func(*ecs.RegisterTaskDefinitionInput){
			"no Fargate size":        func(in *ecs.RegisterTaskDefinitionInput) { in.Memory = aws.String("4096") },
			"awslogs without a role": func(in *ecs.RegisterTaskDefinitionInput) { in.ExecutionRoleArn = nil },
			"bridge network":         func(in *ecs.RegisterTaskDefinitionInput) { in.NetworkMode = ecstypes.NetworkModeBridge },
			"no task cpu":            func(in *ecs.RegisterTaskDefinitionInput) { in.Cpu = nil },
		} {
			in := jobDef("bad")
			mutate(in)
			if _, err := f.ecsC.RegisterTaskDefinition(context.Background(), in); apiCode(err) != "ClientException" {
				t.Errorf("%s: RegisterTaskDefinition = %v, want ClientException", name, err)
			}
		}
		in := jobDef("vcpu")
		in.Cpu, in.Memory = aws.String("1 vCPU"), aws.String("2 GB")
		if out, err := f.ecsC.RegisterTaskDefinition(context.Background(), in); err != nil || aws.ToString(out.TaskDefinition.Memory) != "2048" {
			t.Errorf("RegisterTaskDefinition(1 vCPU, 2 GB) = %v; want memory 2048", err)
		}
	})
}

func TestRunTaskRefusals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, awsfake.ECSConfig{})
		f.ecs.CreateCluster("ondemand", "FARGATE")
		f.register(t, jobDef("job"))
		cases := map[string]struct {
			mutate func(*ecs.RunTaskInput)
			code   string
		}{
			"count 11":                 {func(in *ecs.RunTaskInput) { in.Count = aws.Int32(11) }, "InvalidParameterException"},
			"launch type and strategy": {func(in *ecs.RunTaskInput) { in.LaunchType = ecstypes.LaunchTypeFargate }, "InvalidParameterException"},
			"no subnets":               {func(in *ecs.RunTaskInput) { in.NetworkConfiguration = nil }, "InvalidParameterException"},
			"unknown cluster":          {func(in *ecs.RunTaskInput) { in.Cluster = aws.String("nope") }, "ClusterNotFoundException"},
			"Spot not on cluster":      {func(in *ecs.RunTaskInput) { in.Cluster = aws.String("ondemand") }, "InvalidParameterException"},
			"unknown definition":       {func(in *ecs.RunTaskInput) { in.TaskDefinition = aws.String("nope") }, "InvalidParameterException"},
		}
		for name, c := range cases {
			in := runInput("job", []string{"FARGATE_SPOT"}, nil)
			c.mutate(in)
			if _, err := f.ecsC.RunTask(context.Background(), in); apiCode(err) != c.code {
				t.Errorf("%s: RunTask = %v, want %s", name, err, c.code)
			}
		}
		out, err := f.ecsC.DescribeClusters(context.Background(), &ecs.DescribeClustersInput{Clusters: []string{"ondemand", "nope"}})
		if err != nil || len(out.Clusters) != 1 || !slices.Equal(out.Clusters[0].CapacityProviders, []string{"FARGATE"}) ||
			len(out.Failures) != 1 || aws.ToString(out.Failures[0].Reason) != "MISSING" {
			t.Errorf("DescribeClusters = %+v, %v; want ondemand with FARGATE, nope MISSING", out, err)
		}
	})
}

func TestRunTaskThrottlesLaunches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, awsfake.ECSConfig{})
		f.register(t, jobDef("job"))
		in := runInput("job", []string{"FARGATE"}, map[string]string{"FAKE_RUN_FOR": "1h"})
		in.Count = aws.Int32(10)
		// The SDK writes the client token it makes into the input: each
		// call starts without one, or it would replay the first.
		for i := range 10 {
			in.ClientToken = nil
			if _, err := f.ecsC.RunTask(context.Background(), in); err != nil {
				t.Fatalf("RunTask #%d of the burst: %v", i+1, err)
			}
		}
		in.ClientToken = nil
		_, err := f.ecsC.RunTask(context.Background(), in)
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "ThrottlingException" || ae.ErrorMessage() != "Rate exceeded" {
			t.Fatalf("RunTask past the burst = %v, want ThrottlingException: Rate exceeded", err)
		}
		time.Sleep(time.Second) // 20 more tasks
		for i := range 2 {
			in.ClientToken = nil
			if _, err := f.ecsC.RunTask(context.Background(), in); err != nil {
				t.Errorf("RunTask #%d a second later: %v", i+1, err)
			}
		}
		in.ClientToken = nil
		if _, err := f.ecsC.RunTask(context.Background(), in); apiCode(err) != "ThrottlingException" {
			t.Errorf("RunTask past the refill = %v, want ThrottlingException", err)
		}
		if got := f.ecs.RunningTasks(); got != 120 {
			t.Errorf("RunningTasks() = %d, want 120", got)
		}
		if got := f.ecs.Count("RunTask"); got != 14 {
			t.Errorf("Count(RunTask) = %d, want 14", got)
		}
	})
}

func TestSpotCapacityUnavailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, awsfake.ECSConfig{})
		f.register(t, jobDef("job"))
		f.ecs.SpotCapacity(false)
		out, err := f.ecsC.RunTask(context.Background(), runInput("job", []string{"FARGATE_SPOT"}, nil))
		if err != nil || len(out.Tasks) != 0 || len(out.Failures) != 1 || aws.ToString(out.Failures[0].Reason) != awsfake.ReasonCapacityUnavailable {
			t.Fatalf("RunTask on FARGATE_SPOT without capacity = %+v, %v; want one failure", out, err)
		}
		task := f.run(t, runInput("job", []string{"FARGATE"}, nil))
		if aws.ToString(task.CapacityProviderName) != "FARGATE" {
			t.Errorf("RunTask on FARGATE: provider %s", aws.ToString(task.CapacityProviderName))
		}
		// A strategy spreads by weight after its base.
		in := runInput("job", nil, nil)
		in.Count = aws.Int32(4)
		in.ClientToken = nil
		in.CapacityProviderStrategy = []ecstypes.CapacityProviderStrategyItem{
			{CapacityProvider: aws.String("FARGATE"), Base: 1, Weight: 1},
			{CapacityProvider: aws.String("FARGATE_SPOT"), Weight: 2},
		}
		out, err = f.ecsC.RunTask(context.Background(), in)
		if err != nil || len(out.Tasks) != 2 || len(out.Failures) != 2 {
			t.Errorf("RunTask of 4 on FARGATE base 1, FARGATE_SPOT weight 2 = %d tasks, %d failures, %v; want 2 and 2", len(out.Tasks), len(out.Failures), err)
		}
	})
}

func TestSpotInterruption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, awsfake.ECSConfig{})
		f.register(t, jobDef("job"))
		task := f.run(t, runInput("job", []string{"FARGATE_SPOT"}, map[string]string{"FAKE_RUN_FOR": "1h", "FAKE_IGNORE_SIGTERM": "1"}))
		arn := aws.ToString(task.TaskArn)
		time.Sleep(time.Second)
		if err := f.ecs.InterruptSpot(arn); err != nil {
			t.Fatal(err)
		}
		time.Sleep(4 * time.Second)
		if got := f.describe(t, arn); aws.ToString(got.LastStatus) == "STOPPED" || aws.ToString(got.DesiredStatus) != "STOPPED" {
			t.Errorf("4s into a 5s stopTimeout: last %s, desired %s; want not stopped yet, desired STOPPED", aws.ToString(got.LastStatus), aws.ToString(got.DesiredStatus))
		}
		got := f.waitStopped(t, arn, 10*time.Second)
		if got.StopCode != ecstypes.TaskStopCodeSpotInterruption || aws.ToString(got.StoppedReason) != awsfake.ReasonSpotInterruption ||
			aws.ToInt32(got.Containers[0].ExitCode) != 137 {
			t.Errorf("interrupted task: stopCode %s, reason %q, exit %v; want SpotInterruption, 137", got.StopCode, aws.ToString(got.StoppedReason), got.Containers[0].ExitCode)
		}
	})
}

func TestStopTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, awsfake.ECSConfig{})
		f.register(t, jobDef("job"))
		arn := aws.ToString(f.run(t, runInput("job", []string{"FARGATE"}, map[string]string{"FAKE_RUN_FOR": "1h"})).TaskArn)
		time.Sleep(time.Second)
		if _, err := f.ecsC.StopTask(context.Background(), &ecs.StopTaskInput{Cluster: aws.String("berth"), Task: aws.String(arn), Reason: aws.String("berth: cancelled")}); err != nil {
			t.Fatal(err)
		}
		got := f.waitStopped(t, arn, 5*time.Second)
		if got.StopCode != ecstypes.TaskStopCodeUserInitiated || aws.ToString(got.StoppedReason) != "berth: cancelled" || aws.ToInt32(got.Containers[0].ExitCode) != 143 {
			t.Errorf("stopped task: %s %q exit %v; want UserInitiated, the reason, 143", got.StopCode, aws.ToString(got.StoppedReason), got.Containers[0].ExitCode)
		}
		_, err := f.ecsC.StopTask(context.Background(), &ecs.StopTaskInput{Cluster: aws.String("berth"), Task: aws.String("0123")})
		if apiCode(err) != "InvalidParameterException" {
			t.Errorf("StopTask(unknown) = %v, want InvalidParameterException", err)
		}
	})
}

func TestRunTaskClientToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, awsfake.ECSConfig{})
		f.register(t, jobDef("job"))
		in := runInput("job", []string{"FARGATE"}, map[string]string{"FAKE_RUN_FOR": "1h"})
		in.ClientToken = aws.String("attempt-1")
		a, b := f.run(t, in), f.run(t, in)
		if aws.ToString(a.TaskArn) != aws.ToString(b.TaskArn) || f.ecs.RunningTasks() != 1 {
			t.Errorf("RunTask twice with a token: %s, %s, %d tasks; want one task", aws.ToString(a.TaskArn), aws.ToString(b.TaskArn), f.ecs.RunningTasks())
		}
		in.StartedBy = aws.String("someone-else")
		_, err := f.ecsC.RunTask(context.Background(), in)
		var conflict *ecstypes.ConflictException
		if !errors.As(err, &conflict) || !slices.Equal(conflict.ResourceIds, []string{aws.ToString(a.TaskArn)}) {
			t.Errorf("RunTask with the token and other parameters = %v, want ConflictException naming %s", err, aws.ToString(a.TaskArn))
		}
	})
}

func TestDescribeAndListTasks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, awsfake.ECSConfig{LaunchBurst: -1})
		f.register(t, jobDef("job"))
		var arns []string
		for range 25 {
			arns = append(arns, aws.ToString(f.run(t, runInput("job", []string{"FARGATE"}, map[string]string{"FAKE_RUN_FOR": "1m"})).TaskArn))
		}
		_, err := f.ecsC.DescribeTasks(context.Background(), &ecs.DescribeTasksInput{Cluster: aws.String("berth"), Tasks: slices.Repeat([]string{arns[0]}, 101)})
		if apiCode(err) != "InvalidParameterException" {
			t.Errorf("DescribeTasks of 101 = %v, want InvalidParameterException", err)
		}
		out, err := f.ecsC.DescribeTasks(context.Background(), &ecs.DescribeTasksInput{Cluster: aws.String("berth"), Tasks: []string{arns[0], "0000"}})
		if err != nil || len(out.Tasks) != 1 || len(out.Failures) != 1 || aws.ToString(out.Failures[0].Reason) != "MISSING" {
			t.Errorf("DescribeTasks(known, unknown) = %+v, %v; want one task, one MISSING", out, err)
		}
		list := func(status ecstypes.DesiredStatus) []string {
			var got []string
			p := ecs.NewListTasksPaginator(f.ecsC, &ecs.ListTasksInput{Cluster: aws.String("berth"), DesiredStatus: status, MaxResults: aws.Int32(10), Family: aws.String("job")})
			for p.HasMorePages() {
				page, err := p.NextPage(context.Background())
				if err != nil {
					t.Fatalf("ListTasks: %v", err)
				}
				got = append(got, page.TaskArns...)
			}
			return got
		}
		if got := list(""); !slices.Equal(got, arns) {
			t.Errorf("ListTasks = %d tasks, want the 25 in order", len(got))
		}
		if got := f.ecs.Count("ListTasks"); got != 3 {
			t.Errorf("Count(ListTasks) = %d, want 3 pages", got)
		}
		time.Sleep(2 * time.Minute)
		if got := list(ecstypes.DesiredStatusStopped); len(got) != 25 {
			t.Errorf("ListTasks(STOPPED) = %d tasks, want 25", len(got))
		}
		time.Sleep(59 * time.Minute)
		f.describe(t, arns[0]) // still there, 59 minutes after it stopped
		time.Sleep(2 * time.Minute)
		out, err = f.ecsC.DescribeTasks(context.Background(), &ecs.DescribeTasksInput{Cluster: aws.String("berth"), Tasks: arns[:1]})
		if err != nil || len(out.Failures) != 1 {
			t.Errorf("DescribeTasks an hour after the stop = %+v, %v; want MISSING", out, err)
		}
	})
}

func TestTaskFailsWithoutItsLogGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, awsfake.ECSConfig{})
		in := jobDef("job")
		in.ContainerDefinitions[0].LogConfiguration.Options["awslogs-group"] = "/nope"
		f.register(t, in)
		got := f.waitStopped(t, aws.ToString(f.run(t, runInput("job", []string{"FARGATE"}, nil)).TaskArn), 5*time.Second)
		if got.StopCode != ecstypes.TaskStopCodeTaskFailedToStart || aws.ToString(got.StoppedReason) != awsfake.ReasonNoLogGroup || got.Containers[0].ExitCode != nil {
			t.Errorf("task without its log group: %s %q exit %v", got.StopCode, aws.ToString(got.StoppedReason), got.Containers[0].ExitCode)
		}
		f.logs.AutoCreateGroups(true)
		got = f.waitStopped(t, aws.ToString(f.run(t, runInput("job", []string{"FARGATE"}, nil)).TaskArn), 5*time.Second)
		if got.StopCode != ecstypes.TaskStopCodeEssentialContainerExited {
			t.Errorf("with groups auto-created: %s %q", got.StopCode, aws.ToString(got.StoppedReason))
		}
	})
}

func TestTaskFailsToStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, awsfake.ECSConfig{})
		f.register(t, jobDef("job"))
		f.engine.RemoveImage("berth-test/busybox:latest")
		got := f.waitStopped(t, aws.ToString(f.run(t, runInput("job", []string{"FARGATE"}, nil)).TaskArn), 5*time.Second)
		if got.StopCode != ecstypes.TaskStopCodeTaskFailedToStart || !strings.HasPrefix(aws.ToString(got.StoppedReason), "CannotPullContainerError: ") {
			t.Errorf("task of a missing image: %s %q", got.StopCode, aws.ToString(got.StoppedReason))
		}
	})
}

// TestThousandTasks holds 1,000 tasks at once in memory and counts the
// calls made to follow them.
func TestThousandTasks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, awsfake.ECSConfig{LaunchBurst: -1})
		f.register(t, jobDef("job"))
		in := runInput("job", []string{"FARGATE_SPOT", "FARGATE"}, map[string]string{"FAKE_RUN_FOR": "10m"})
		in.Count = aws.Int32(10)
		var arns []string
		for range 100 {
			in.ClientToken = nil
			out, err := f.ecsC.RunTask(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			for _, task := range out.Tasks {
				arns = append(arns, aws.ToString(task.TaskArn))
			}
		}
		time.Sleep(time.Second)
		if got := f.engine.Running(); got != 1000 {
			t.Fatalf("Running() = %d, want 1000", got)
		}
		for i := 0; i < len(arns); i += 100 {
			out, err := f.ecsC.DescribeTasks(context.Background(), &ecs.DescribeTasksInput{Cluster: aws.String("berth"), Tasks: arns[i : i+100]})
			if err != nil || len(out.Tasks) != 100 {
				t.Fatalf("DescribeTasks: %v", err)
			}
		}
		if got := fmt.Sprint(f.ecs.Count("RunTask"), f.ecs.Count("DescribeTasks")); got != "100 10" {
			t.Errorf("calls of RunTask, DescribeTasks = %s, want 100 10", got)
		}
		time.Sleep(10 * time.Minute)
		if got := f.ecs.RunningTasks(); got != 0 {
			t.Errorf("RunningTasks() after 10m = %d, want 0", got)
		}
	})
}
