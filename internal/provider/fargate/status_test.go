package fargate

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/provider"
)

// TestStatus: what ECS says of a stopped task becomes the outcome berth
// gives its attempt.
func TestStatus(t *testing.T) {
	c := provider.Container{JobID: "job_1", AttemptID: "att_1", Node: "node_1", Image: "busybox:nope"}
	start := time.Date(2026, 12, 8, 2, 0, 0, 0, time.UTC)
	stop := start.Add(time.Minute)
	stopped := func(code types.TaskStopCode, reason, containerReason string, exit *int32) *types.Task {
		return &types.Task{LastStatus: aws.String("STOPPED"), StopCode: code, StoppedReason: aws.String(reason),
			StartedAt: &start, StoppedAt: &stop,
			Containers: []types.Container{{Name: aws.String(ContainerName), ExitCode: exit, Reason: aws.String(containerReason)}}}
	}
	base := provider.Status{ID: "att_1", JobID: "job_1", AttemptID: "att_1", Node: "node_1", State: provider.Created}
	tests := []struct {
		name string
		task *types.Task
		want provider.Status
	}{
		{"provisioning", &types.Task{LastStatus: aws.String("PROVISIONING")}, base},
		{"running", &types.Task{LastStatus: aws.String("RUNNING"), StartedAt: &start},
			provider.Status{ID: "att_1", JobID: "job_1", AttemptID: "att_1", Node: "node_1", State: provider.Running, StartedAt: start}},
		{"exited", stopped(types.TaskStopCodeEssentialContainerExited, "Essential container in task exited", "", aws.Int32(3)),
			exited(base, start, stop, func(s *provider.Status) { s.ExitCode = 3 })},
		{"out of memory", stopped(types.TaskStopCodeEssentialContainerExited, "Essential container in task exited",
			"OutOfMemoryError: Container killed due to memory usage", aws.Int32(137)),
			exited(base, start, stop, func(s *provider.Status) { s.ExitCode, s.OOMKilled = 137, true })},
		{"image not pulled", stopped(types.TaskStopCodeTaskFailedToStart,
			"CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref docker.io/library/busybox:nope: not found", "", nil),
			exited(base, start, stop, func(s *provider.Status) {
				s.StartError = "image busybox:nope not found, or not pullable with the pool's execution role: CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref docker.io/library/busybox:nope: not found"
			})},
		{"command not in the image", stopped(types.TaskStopCodeTaskFailedToStart, "Essential container in task exited",
			"CannotStartContainerError: exec: \"nope\": executable file not found in $PATH", nil),
			exited(base, start, stop, func(s *provider.Status) {
				s.StartError = "CannotStartContainerError: exec: \"nope\": executable file not found in $PATH"
			})},
		{"Spot reclaimed", stopped(types.TaskStopCodeSpotInterruption, "Your Spot Task was interrupted.", "", aws.Int32(143)),
			exited(base, start, stop, func(s *provider.Status) {
				s.Reclaimed = "Fargate Spot capacity was reclaimed: Your Spot Task was interrupted."
			})},
		{"network not ready", stopped(types.TaskStopCodeTaskFailedToStart,
			"ResourceInitializationError: unable to pull secrets or registry auth", "", nil),
			exited(base, start, stop, func(s *provider.Status) {
				s.Reclaimed = "the task failed to start: ResourceInitializationError: unable to pull secrets or registry auth"
			})},
	}
	for _, tt := range tests {
		got := status(c, base, tt.task)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: status() mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}

func exited(s provider.Status, start, stop time.Time, change func(*provider.Status)) provider.Status {
	s.State, s.StartedAt, s.FinishedAt = provider.Exited, start, stop
	change(&s)
	return s
}

// TestBucket: the launch limiter lets a burst through at once, then a
// steady rate.
func TestBucket(t *testing.T) {
	now := time.Unix(0, 0)
	clock := func() time.Time { return now }
	b := newBucket(20, 100, clock)
	ctx := context.Background()
	for i := range 100 {
		if err := b.wait(ctx, 1); err != nil {
			t.Fatalf("wait #%d of the burst = %v", i, err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := b.wait(short, 1); err == nil {
		t.Fatalf("wait past the burst, with no time passed = nil, want to wait")
	}
	now = now.Add(time.Second) // 20 tokens more
	for i := range 20 {
		if err := b.wait(ctx, 1); err != nil {
			t.Fatalf("wait #%d a second later = %v", i, err)
		}
	}
	if b.tokens >= 1 {
		t.Errorf("tokens after the second's 20 = %g, want under 1", b.tokens)
	}
}

// TestTaskSizes: a job's shape rounds up to a Fargate size, in ECS's
// units, and the pool's grace becomes a stop timeout within Fargate's.
func TestTaskSizes(t *testing.T) {
	for _, tt := range []struct {
		grace time.Duration
		want  int32
	}{{0, 2}, {time.Second, 2}, {90 * time.Second, 90}, {10 * time.Minute, 120}} {
		if got := stopTimeout(berth.PoolSpec{InterruptionGrace: berth.Duration(tt.grace)}); got != tt.want {
			t.Errorf("stopTimeout(grace %v) = %d, want %d", tt.grace, got, tt.want)
		}
	}
	if got := logStream("arn:aws:ecs:us-east-1:123456789012:task/berth/0123abcd"); got != "berth/job/0123abcd" {
		t.Errorf("logStream = %q", got)
	}
}
