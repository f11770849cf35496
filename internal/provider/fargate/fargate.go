// Package fargate is the provider.Runner of AWS Fargate: each attempt of a
// fargate pool runs as an ECS task on the pool's cluster, through the
// FARGATE or FARGATE_SPOT capacity provider.
//
// A job's image, task size (its shape rounded up to Fargate's sizes),
// memory limit, roles and log group make a task definition, registered
// once under a family named by their content hash and reused. Start runs
// the task (RunTask, one attempt per call, the attempt's id as the client
// token so that a retried call never runs it twice) at most at the pool's
// launch rate, and returns once the task runs or has failed to start. One
// loop per runner asks DescribeTasks, in batches of 100, about the tasks
// being waited for; Logs follows the task's CloudWatch Logs stream, which
// the awslogs driver fills.
//
// A container handle is the attempt's id. The tasks carry the tags
// berth.cluster, berth.pool, berth.job, berth.attempt and berth.node, and
// startedBy "berth", so that List finds them again after a restart.
// What ECS cannot do is said where it matters: a task exists only once it
// runs, so an attempt created and never started lives in memory only; a
// stopped task cannot be deleted, so Remove tags it berth.removed; and
// the grace between SIGTERM and SIGKILL is the task definition's
// stopTimeout, the pool's interruption grace, not the caller's.
package fargate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/provider"
)

// ECS is the ECS calls the runner makes; *ecs.Client implements it.
type ECS interface {
	DescribeClusters(context.Context, *ecs.DescribeClustersInput, ...func(*ecs.Options)) (*ecs.DescribeClustersOutput, error)
	RegisterTaskDefinition(context.Context, *ecs.RegisterTaskDefinitionInput, ...func(*ecs.Options)) (*ecs.RegisterTaskDefinitionOutput, error)
	DescribeTaskDefinition(context.Context, *ecs.DescribeTaskDefinitionInput, ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error)
	RunTask(context.Context, *ecs.RunTaskInput, ...func(*ecs.Options)) (*ecs.RunTaskOutput, error)
	DescribeTasks(context.Context, *ecs.DescribeTasksInput, ...func(*ecs.Options)) (*ecs.DescribeTasksOutput, error)
	StopTask(context.Context, *ecs.StopTaskInput, ...func(*ecs.Options)) (*ecs.StopTaskOutput, error)
	ListTasks(context.Context, *ecs.ListTasksInput, ...func(*ecs.Options)) (*ecs.ListTasksOutput, error)
	TagResource(context.Context, *ecs.TagResourceInput, ...func(*ecs.Options)) (*ecs.TagResourceOutput, error)
}

var _ ECS = (*ecs.Client)(nil)

// Logs is the CloudWatch Logs calls the runner makes; *cloudwatchlogs.Client
// implements it.
type Logs interface {
	DescribeLogGroups(context.Context, *cloudwatchlogs.DescribeLogGroupsInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeLogGroupsOutput, error)
	CreateLogGroup(context.Context, *cloudwatchlogs.CreateLogGroupInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.CreateLogGroupOutput, error)
	GetLogEvents(context.Context, *cloudwatchlogs.GetLogEventsInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.GetLogEventsOutput, error)
}

var _ Logs = (*cloudwatchlogs.Client)(nil)

// Tags and names the runner puts on what it creates.
const (
	StartedBy     = "berth"
	TagCluster    = "berth.cluster"
	TagPool       = "berth.pool"
	TagRemoved    = "berth.removed"
	ContainerName = "job"
	// FamilyPrefix begins the family of every task definition berth
	// registers.
	FamilyPrefix = "berth-"
)

// Config is a runner's pool and how it paces its calls.
type Config struct {
	Spec    berth.PoolSpec // the fargate pool, with defaults
	Cluster string         // berth's cluster, put on the berth.cluster tag
	Region  string         // the region of the tasks' logs
	// PollInterval is how often the tasks being waited for are described.
	PollInterval time.Duration // default 5s
	// LogInterval is how often a followed task's log is read; the reads
	// of all tasks together stay under LogRate a second.
	LogInterval time.Duration // default 2s
	LogRate     float64       // default 20, under CloudWatch Logs' 25 a second
	// ListInterval is how often List asks ECS for the running tasks
	// again; in between it answers from what the runner knows.
	ListInterval time.Duration // default 5m
	// Now is the clock of the launch limiter; nil is time.Now.
	Now func() time.Time
	// Network, when set, checks at start that the pool's subnets and
	// security groups exist and share one VPC.
	Network Network
}

// Network is the EC2 calls that check a pool's network; *ec2.Client
// implements it.
type Network interface {
	DescribeSubnets(context.Context, *ec2.DescribeSubnetsInput, ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	DescribeSecurityGroups(context.Context, *ec2.DescribeSecurityGroupsInput, ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
}

var _ Network = (*ec2.Client)(nil)

// Runner runs a fargate pool's attempts as ECS tasks.
type Runner struct {
	cfg     Config
	ecs     ECS
	logs    Logs
	launch  *bucket
	logRead *bucket

	// mu guards the fields below.
	mu       sync.Mutex
	tasks    map[string]*task // by attempt id
	listedAt time.Time        // when ECS was last listed
	// pollErr is the last poll's error, and pollFailures how many polls
	// in a row failed.
	pollErr      error
	pollFailures int
	defs         map[string]string // task definition ARNs by content hash
	defLocks     map[string]*sync.Mutex
	polling      bool
	stopPoll     context.CancelFunc
}

// task is one attempt: created in memory, then run.
type task struct {
	c         provider.Container
	def       string        // the task definition's ARN
	arn       string        // "" until RunTask
	started   chan struct{} // closed once arn is set, or the task is removed
	st        provider.Status
	stopped   bool // described as STOPPED: st is final
	removed   bool
	removedAt time.Time
	changed   chan struct{} // closed and replaced at every change of st
}

var _ provider.Runner = (*Runner)(nil)

// New returns the runner of cfg.Spec's pool. It checks that the cluster
// exists and has the capacity providers the pool's capacity needs, and
// that the log group exists, creating it if it does not: a problem is a
// *berth.FieldError naming the pool's field.
func New(ctx context.Context, e ECS, l Logs, cfg Config) (*Runner, error) {
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 5 * time.Second
	}
	if cfg.LogInterval == 0 {
		cfg.LogInterval = 2 * time.Second
	}
	if cfg.LogRate == 0 {
		cfg.LogRate = 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ListInterval == 0 {
		cfg.ListInterval = 5 * time.Minute
	}
	spec := cfg.Spec
	r := &Runner{cfg: cfg, ecs: e, logs: l,
		launch:  newBucket(spec.LaunchRate, float64(spec.LaunchBurst), cfg.Now),
		logRead: newBucket(cfg.LogRate, cfg.LogRate, cfg.Now),
		tasks:   map[string]*task{}, defs: map[string]string{}, defLocks: map[string]*sync.Mutex{}}
	if err := r.checkCluster(ctx); err != nil {
		return nil, err
	}
	if err := r.checkLogGroup(ctx); err != nil {
		return nil, err
	}
	if cfg.Network != nil {
		if err := checkNetwork(ctx, cfg.Network, spec); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// checkNetwork checks that the subnets and security groups of spec exist
// and are in one VPC: ECS would refuse every task otherwise.
func checkNetwork(ctx context.Context, n Network, spec berth.PoolSpec) error {
	subnets, err := n.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: spec.Subnets})
	if isCode(err, "InvalidSubnetID.NotFound") {
		return &berth.FieldError{Field: "subnets", Problem: apiMessage(err)}
	}
	if err != nil {
		return fmt.Errorf("describe subnets: %w", err)
	}
	vpc := map[string]string{} // by subnet or group
	for _, s := range subnets.Subnets {
		vpc[aws.ToString(s.SubnetId)] = aws.ToString(s.VpcId)
	}
	first := vpc[spec.Subnets[0]]
	for i, s := range spec.Subnets {
		if vpc[s] != first {
			return &berth.FieldError{Field: fmt.Sprintf("subnets[%d]", i), Problem: fmt.Sprintf("%s is in %s, and %s in %s: a pool's subnets share one VPC",
				s, vpc[s], spec.Subnets[0], first)}
		}
	}
	if len(spec.SecurityGroups) == 0 {
		return nil
	}
	groups, err := n.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: spec.SecurityGroups})
	if isCode(err, "InvalidGroup.NotFound") {
		return &berth.FieldError{Field: "security_groups", Problem: apiMessage(err)}
	}
	if err != nil {
		return fmt.Errorf("describe security groups: %w", err)
	}
	for _, g := range groups.SecurityGroups {
		vpc[aws.ToString(g.GroupId)] = aws.ToString(g.VpcId)
	}
	for i, g := range spec.SecurityGroups {
		if vpc[g] != first {
			return &berth.FieldError{Field: fmt.Sprintf("security_groups[%d]", i), Problem: fmt.Sprintf("%s is in %s, not in the subnets' VPC %s",
				g, vpc[g], first)}
		}
	}
	return nil
}

// providers are the capacity providers a pool's capacity uses, first the
// one tried first.
func providers(c berth.FargateCapacity) []string {
	switch c {
	case berth.FargateSpot:
		return []string{"FARGATE_SPOT"}
	case berth.FargateSpotThenOnDemand:
		return []string{"FARGATE_SPOT", "FARGATE"}
	default:
		return []string{"FARGATE"}
	}
}

func (r *Runner) checkCluster(ctx context.Context) error {
	name := r.cfg.Spec.Cluster
	out, err := r.ecs.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{name}})
	if err != nil {
		return fmt.Errorf("describe ECS cluster %s: %w", name, err)
	}
	if len(out.Clusters) == 0 || aws.ToString(out.Clusters[0].Status) != "ACTIVE" {
		return &berth.FieldError{Field: "cluster", Problem: fmt.Sprintf("ECS cluster %q does not exist in this region (or is not active)", name)}
	}
	has := out.Clusters[0].CapacityProviders
	for _, p := range providers(r.cfg.Spec.Capacity) {
		if !slices.Contains(has, p) {
			return &berth.FieldError{Field: "cluster", Problem: fmt.Sprintf("ECS cluster %q lacks the %s capacity provider that capacity %s needs (it has %s)",
				name, p, r.cfg.Spec.Capacity, strings.Join(has, ", "))}
		}
	}
	return nil
}

func (r *Runner) checkLogGroup(ctx context.Context) error {
	group := r.cfg.Spec.LogGroup
	out, err := r.logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(group)})
	if err != nil {
		return fmt.Errorf("describe log group %s: %w", group, err)
	}
	for _, g := range out.LogGroups {
		if aws.ToString(g.LogGroupName) == group {
			return nil
		}
	}
	_, err = r.logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)})
	var exists *logtypes.ResourceAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return &berth.FieldError{Field: "log_group", Problem: fmt.Sprintf("%q does not exist and could not be created: %v", group, err)}
	}
	return nil
}

// Info reports the largest task Fargate runs.
func (r *Runner) Info(context.Context) (provider.Capacity, error) {
	s := r.cfg.Spec.Serverless
	return provider.Capacity{CPU: s.MaxCPU, MemoryMB: s.MaxMemoryMB}, nil
}

// Create registers (or finds) the task definition of c and keeps the
// attempt until Start. Its handle is the attempt's id.
func (r *Runner) Create(ctx context.Context, c provider.Container) (string, error) {
	r.mu.Lock()
	t, ok := r.tasks[c.AttemptID]
	removed := ok && t.removed
	r.mu.Unlock()
	if removed {
		return "", fmt.Errorf("attempt %s was removed", c.AttemptID)
	}
	if ok {
		return c.AttemptID, nil
	}
	s := r.cfg.Spec.Serverless
	if c.CPU > s.MaxCPU+1e-9 || c.MemoryMB > s.MaxMemoryMB {
		return "", &provider.StartError{Reason: fmt.Sprintf("a job of %g vCPU and %d MiB is larger than Fargate's largest task (%g vCPU, %d MiB)",
			c.CPU, c.MemoryMB, s.MaxCPU, s.MaxMemoryMB)}
	}
	def, err := r.taskDefinition(ctx, c)
	if err != nil {
		return "", err
	}
	t = &task{c: c, def: def, started: make(chan struct{}), changed: make(chan struct{}),
		st: provider.Status{ID: c.AttemptID, JobID: c.JobID, AttemptID: c.AttemptID, Node: c.Node, State: provider.Created}}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.tasks[c.AttemptID]; ok {
		return old.st.ID, nil
	}
	r.tasks[c.AttemptID] = t
	return c.AttemptID, nil
}

// defKey is what makes a task definition: what the task definition holds.
type defKey struct {
	Image         string
	CPU           string // CPU units, "1024"
	Memory        string // MiB of the task
	ContainerMB   int64  // the container's hard limit
	ExecutionRole string
	TaskRole      string
	LogGroup      string
	Region        string
	StopTimeout   int32
}

// taskDefinition returns the ARN of c's task definition, registering it
// the first time it is needed. The family is named by the hash of the
// definition, so a restarted server finds the one it registered before.
func (r *Runner) taskDefinition(ctx context.Context, c provider.Container) (string, error) {
	cpu, mem := berth.TaskSize(c.CPU, c.MemoryMB)
	spec := r.cfg.Spec
	k := defKey{Image: c.Image, CPU: strconv.Itoa(int(cpu * 1024)), Memory: strconv.FormatInt(mem, 10), ContainerMB: c.MemoryMB,
		ExecutionRole: spec.ExecutionRole, TaskRole: spec.TaskRole, LogGroup: spec.LogGroup, Region: r.cfg.Region,
		StopTimeout: stopTimeout(spec)}
	b, _ := json.Marshal(k)
	sum := sha256.Sum256(b)
	family := FamilyPrefix + hex.EncodeToString(sum[:12])
	// One registration per family at a time: ECS refuses concurrent
	// revisions of one family, and one is all berth needs.
	r.mu.Lock()
	arn, ok := r.defs[family]
	lock := r.defLocks[family]
	if lock == nil {
		lock = &sync.Mutex{}
		r.defLocks[family] = lock
	}
	r.mu.Unlock()
	if ok {
		return arn, nil
	}
	lock.Lock()
	defer lock.Unlock()
	r.mu.Lock()
	arn, ok = r.defs[family]
	r.mu.Unlock()
	if ok {
		return arn, nil
	}
	got, err := r.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(family)})
	if err == nil && got.TaskDefinition != nil && got.TaskDefinition.Status == types.TaskDefinitionStatusActive {
		arn = aws.ToString(got.TaskDefinition.TaskDefinitionArn)
	} else {
		if err != nil && !isCode(err, "ClientException") {
			return "", fmt.Errorf("describe task definition %s: %w", family, err)
		}
		if arn, err = r.register(ctx, family, k); err != nil {
			return "", err
		}
	}
	r.mu.Lock()
	r.defs[family] = arn
	r.mu.Unlock()
	return arn, nil
}

func (r *Runner) register(ctx context.Context, family string, k defKey) (string, error) {
	in := &ecs.RegisterTaskDefinitionInput{
		Family:                  aws.String(family),
		RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate},
		NetworkMode:             types.NetworkModeAwsvpc,
		Cpu:                     aws.String(k.CPU),
		Memory:                  aws.String(k.Memory),
		ExecutionRoleArn:        aws.String(k.ExecutionRole),
		ContainerDefinitions: []types.ContainerDefinition{{
			Name:        aws.String(ContainerName),
			Image:       aws.String(k.Image),
			Essential:   aws.Bool(true),
			Memory:      aws.Int32(int32(k.ContainerMB)),
			StopTimeout: aws.Int32(k.StopTimeout),
			LogConfiguration: &types.LogConfiguration{LogDriver: types.LogDriverAwslogs, Options: map[string]string{
				"awslogs-group": k.LogGroup, "awslogs-region": k.Region, "awslogs-stream-prefix": "berth"}},
		}},
		Tags: []types.Tag{{Key: aws.String(TagCluster), Value: aws.String(r.cfg.Cluster)}},
	}
	if k.TaskRole != "" {
		in.TaskRoleArn = aws.String(k.TaskRole)
	}
	out, err := r.ecs.RegisterTaskDefinition(ctx, in)
	if err != nil {
		if isCode(err, "ClientException") && !strings.Contains(apiMessage(err), "concurrent") {
			return "", &provider.StartError{Reason: fmt.Sprintf("ECS refused the task definition of image %s: %v", k.Image, err)}
		}
		return "", fmt.Errorf("register task definition %s: %w", family, err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn), nil
}

// stopTimeout is how long a task's container has between SIGTERM and
// SIGKILL: the pool's interruption grace, within Fargate's 2 s to 120 s.
func stopTimeout(spec berth.PoolSpec) int32 {
	s := int32(time.Duration(spec.InterruptionGrace) / time.Second)
	return min(max(s, 2), 120)
}

// logStream is the CloudWatch Logs stream of a task's container, as the
// awslogs driver names it.
func logStream(arn string) string {
	return "berth/" + ContainerName + "/" + taskID(arn)
}

// taskID is the last part of a task's ARN.
func taskID(arn string) string {
	return arn[strings.LastIndexByte(arn, '/')+1:]
}

// isCode reports whether err is an AWS error with code.
func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// apiMessage is the message of an AWS error.
func apiMessage(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorMessage()
	}
	return err.Error()
}

// sortedEnv is env as ECS takes it, in a stable order.
func sortedEnv(env map[string]string) []types.KeyValuePair {
	keys := slices.Sorted(maps.Keys(env))
	kv := make([]types.KeyValuePair, 0, len(keys))
	for _, k := range keys {
		kv = append(kv, types.KeyValuePair{Name: aws.String(k), Value: aws.String(env[k])})
	}
	return kv
}

// writeEvents writes the messages of events to w, a line each.
func writeEvents(w io.Writer, events []logtypes.OutputLogEvent) error {
	for _, e := range events {
		if _, err := io.WriteString(w, strings.TrimSuffix(aws.ToString(e.Message), "\n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}
