package ecsdocker_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-run/berth/internal/awsfake"
	"github.com/berth-run/berth/internal/awsfake/ecsdocker"
	"github.com/berth-run/berth/internal/dockertest"
)

// fixture is the ECS and Logs fakes on the local Docker engine, reached
// by the real SDK clients over a loopback server.
type fixture struct {
	ecs   *awsfake.ECS
	logs  *awsfake.Logs
	ecsC  *ecs.Client
	logsC *cloudwatchlogs.Client
	image string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{image: dockertest.Image(t), logs: awsfake.NewLogs()}
	f.ecs = awsfake.NewECS(awsfake.ECSConfig{Engine: ecsdocker.New(dockertest.Client(t)), Logs: f.logs})
	t.Cleanup(f.ecs.Close)
	f.ecs.CreateCluster("berth", "FARGATE", "FARGATE_SPOT")
	f.logs.CreateGroup("/berth/jobs")
	srv := httptest.NewServer(awsfake.Endpoint{ECS: f.ecs, Logs: f.logs})
	t.Cleanup(srv.Close)
	ac := aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret-key", ""),
		BaseEndpoint:     aws.String(srv.URL),
		RetryMaxAttempts: 1,
		HTTPClient:       awsfake.HTTPClient(srv.Client()),
	}
	f.ecsC, f.logsC = ecs.NewFromConfig(ac), cloudwatchlogs.NewFromConfig(ac)
	return f
}

// run registers a task definition of one container running command
// with the given limits, runs it on FARGATE_SPOT and returns its ARN.
func (f *fixture) run(t *testing.T, image string, memory int32, stopTimeout int32, command ...string) string {
	t.Helper()
	ctx := context.Background()
	def := &ecs.RegisterTaskDefinitionInput{
		Family:                  aws.String("job"),
		RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
		NetworkMode:             ecstypes.NetworkModeAwsvpc,
		Cpu:                     aws.String("256"),
		Memory:                  aws.String("512"),
		ExecutionRoleArn:        aws.String("arn:aws:iam::123456789012:role/berth-exec"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{
			Name:        aws.String("job"),
			Image:       aws.String(image),
			Command:     command,
			StopTimeout: aws.Int32(stopTimeout),
			LogConfiguration: &ecstypes.LogConfiguration{
				LogDriver: ecstypes.LogDriverAwslogs,
				Options:   map[string]string{"awslogs-group": "/berth/jobs", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "berth"},
			},
		}},
	}
	if memory > 0 {
		def.ContainerDefinitions[0].Memory = aws.Int32(memory)
	}
	if _, err := f.ecsC.RegisterTaskDefinition(ctx, def); err != nil {
		t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	out, err := f.ecsC.RunTask(ctx, &ecs.RunTaskInput{
		Cluster:                  aws.String("berth"),
		TaskDefinition:           aws.String("job"),
		CapacityProviderStrategy: []ecstypes.CapacityProviderStrategyItem{{CapacityProvider: aws.String("FARGATE_SPOT"), Weight: 1}},
		NetworkConfiguration:     &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-0fake"}}},
	})
	if err != nil || len(out.Tasks) != 1 {
		t.Fatalf("RunTask = %+v, %v", out, err)
	}
	return aws.ToString(out.Tasks[0].TaskArn)
}

func (f *fixture) describe(t *testing.T, arn string) ecstypes.Task {
	t.Helper()
	out, err := f.ecsC.DescribeTasks(context.Background(), &ecs.DescribeTasksInput{Cluster: aws.String("berth"), Tasks: []string{arn}})
	if err != nil || len(out.Tasks) != 1 {
		t.Fatalf("DescribeTasks(%s) = %+v, %v", arn, out, err)
	}
	return out.Tasks[0]
}

func (f *fixture) waitStatus(t *testing.T, arn, status string, within time.Duration) ecstypes.Task {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		task := f.describe(t, arn)
		if aws.ToString(task.LastStatus) == status {
			return task
		}
		if time.Now().After(deadline) {
			t.Fatalf("task is %s after %v, want %s", aws.ToString(task.LastStatus), within, status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logs reads a task's stream with GetLogEvents, following the forward
// token until it comes back unchanged.
func (f *fixture) lines(t *testing.T, arn string) []string {
	t.Helper()
	in := &cloudwatchlogs.GetLogEventsInput{
		LogGroupName:  aws.String("/berth/jobs"),
		LogStreamName: aws.String("berth/job/" + arn[strings.LastIndexByte(arn, '/')+1:]),
		StartFromHead: aws.Bool(true),
		Limit:         aws.Int32(2),
	}
	var lines []string
	for {
		out, err := f.logsC.GetLogEvents(context.Background(), in)
		if err != nil {
			t.Fatalf("GetLogEvents: %v", err)
		}
		for _, e := range out.Events {
			lines = append(lines, aws.ToString(e.Message))
		}
		if aws.ToString(out.NextForwardToken) == aws.ToString(in.NextToken) {
			return lines
		}
		in.NextToken = out.NextForwardToken
	}
}

func TestTaskExitsWithItsLogs(t *testing.T) {
	f := newFixture(t)
	// stdout and stderr are two pipes: lines written at once on both may
	// be read in either order, by the engine as by Fargate's agent.
	arn := f.run(t, f.image, 0, 5, "sh", "-c", "echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three; exit 7")
	got := f.waitStatus(t, arn, "STOPPED", 30*time.Second)
	c := got.Containers[0]
	if got.StopCode != ecstypes.TaskStopCodeEssentialContainerExited || c.ExitCode == nil || *c.ExitCode != 7 {
		t.Errorf("task: stopCode %s, reason %q, exit %v; want EssentialContainerExited, 7", got.StopCode, aws.ToString(got.StoppedReason), c.ExitCode)
	}
	if lines := strings.Join(f.lines(t, arn), ","); lines != "one,two,three" {
		t.Errorf("logs = %s, want one,two,three", lines)
	}
}

func TestTaskOfMissingImage(t *testing.T) {
	f := newFixture(t)
	got := f.waitStatus(t, f.run(t, "berth-test/no-such-image:1", 0, 5, "true"), "STOPPED", 30*time.Second)
	if got.StopCode != ecstypes.TaskStopCodeTaskFailedToStart || !strings.HasPrefix(aws.ToString(got.StoppedReason), "CannotPullContainerError: ") ||
		got.Containers[0].ExitCode != nil {
		t.Errorf("task: %s %q exit %v; want TaskFailedToStart, CannotPullContainerError, no exit code", got.StopCode, aws.ToString(got.StoppedReason), got.Containers[0].ExitCode)
	}
}

func TestTaskOfMissingCommand(t *testing.T) {
	f := newFixture(t)
	got := f.waitStatus(t, f.run(t, f.image, 0, 5, "/bin/berth-no-such-command"), "STOPPED", 30*time.Second)
	if got.StopCode != ecstypes.TaskStopCodeTaskFailedToStart || !strings.HasPrefix(aws.ToString(got.StoppedReason), "CannotStartContainerError: ") {
		t.Errorf("task: %s %q; want TaskFailedToStart, CannotStartContainerError", got.StopCode, aws.ToString(got.StoppedReason))
	}
}

func TestTaskOutOfMemory(t *testing.T) {
	f := newFixture(t)
	// The shell waits before dd allocates, and outlives it, so that the
	// engine sees the kill (see internal/provider/docker's tests).
	got := f.waitStatus(t, f.run(t, f.image, 16, 5, "sh", "-c", "sleep 1; dd if=/dev/zero of=/dev/null count=1 bs=64M; code=$?; sleep 1; exit $code"), "STOPPED", 30*time.Second)
	c := got.Containers[0]
	if c.ExitCode == nil || *c.ExitCode != 137 || aws.ToString(c.Reason) != awsfake.ReasonOutOfMemory {
		t.Errorf("container: exit %v, reason %q; want 137, %q", c.ExitCode, aws.ToString(c.Reason), awsfake.ReasonOutOfMemory)
	}
}

func TestStopTaskGraceThenKill(t *testing.T) {
	f := newFixture(t)
	arn := f.run(t, f.image, 0, 2, "sh", "-c", "trap '' TERM; echo ready; sleep 3600")
	f.waitStatus(t, arn, "RUNNING", 30*time.Second)
	time.Sleep(500 * time.Millisecond) // the trap is set
	start := time.Now()
	if _, err := f.ecsC.StopTask(context.Background(), &ecs.StopTaskInput{Cluster: aws.String("berth"), Task: aws.String(arn), Reason: aws.String("cancelled")}); err != nil {
		t.Fatal(err)
	}
	got := f.waitStatus(t, arn, "STOPPED", 30*time.Second)
	if took := time.Since(start); took < 2*time.Second {
		t.Errorf("stopped %v after StopTask, want the 2s stopTimeout first", took)
	}
	if got.StopCode != ecstypes.TaskStopCodeUserInitiated || aws.ToString(got.StoppedReason) != "cancelled" || aws.ToInt32(got.Containers[0].ExitCode) != 137 {
		t.Errorf("task: %s %q exit %v; want UserInitiated, cancelled, 137", got.StopCode, aws.ToString(got.StoppedReason), got.Containers[0].ExitCode)
	}
}

func TestSpotInterruptionTerminates(t *testing.T) {
	f := newFixture(t)
	arn := f.run(t, f.image, 0, 30, "sh", "-c", "trap 'echo bye; exit 143' TERM; echo ready; sleep 3600 & wait")
	f.waitStatus(t, arn, "RUNNING", 30*time.Second)
	time.Sleep(500 * time.Millisecond)
	if err := f.ecs.InterruptSpot(arn); err != nil {
		t.Fatal(err)
	}
	got := f.waitStatus(t, arn, "STOPPED", 20*time.Second)
	if got.StopCode != ecstypes.TaskStopCodeSpotInterruption || aws.ToString(got.StoppedReason) != awsfake.ReasonSpotInterruption || aws.ToInt32(got.Containers[0].ExitCode) != 143 {
		t.Errorf("task: %s %q exit %v; want SpotInterruption, 143", got.StopCode, aws.ToString(got.StoppedReason), got.Containers[0].ExitCode)
	}
	if lines := strings.Join(f.lines(t, arn), ","); lines != "ready,bye" {
		t.Errorf("logs = %s, want ready,bye", lines)
	}
}
