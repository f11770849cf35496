package awsfake

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// ECS is a fake of Amazon ECS running Fargate tasks (AWS JSON 1.1,
// X-Amz-Target AmazonEC2ContainerServiceV20141113.<Op>): DescribeClusters,
// RegisterTaskDefinition, DescribeTaskDefinition, RunTask, DescribeTasks,
// StopTask and ListTasks. A task's containers run on an Engine, for real
// on the local Docker engine or in memory, and their output goes to a
// Logs fake as the awslogs driver sends it.
//
// A task goes PROVISIONING → PENDING → RUNNING → STOPPING →
// DEPROVISIONING → STOPPED, with the stop codes and reasons Fargate
// writes, and stays described for StoppedRetention after it stopped.
// Knobs: clusters and their capacity providers, Fargate Spot capacity,
// Spot interruptions, a launch rate limit and a provisioning delay.
type ECS struct {
	jsonService
	cfg ECSConfig
	// wg counts the tasks' lifecycle goroutines.
	wg sync.WaitGroup

	// mu guards the fields below, and every task's mutable fields.
	mu       sync.Mutex
	clusters map[string]*cluster
	families map[string][]*taskDef // by family, revision n at n-1
	tasks    map[string]*task      // by task id
	seq      int                   // of the last task made
	tokens   map[string]runResult  // RunTask's client tokens, by cluster and token
	noSpot   bool                  // Fargate Spot has no capacity
	bucket   float64               // launch tokens left
	filled   time.Time             // when bucket was last refilled
	closed   bool
}

// ECSConfig configures an ECS fake; its zero value means the defaults.
type ECSConfig struct {
	// Engine runs the containers; nil means a new MemoryEngine.
	Engine Engine
	// Logs receives the output of containers that log with awslogs;
	// nil drops it and checks no log group.
	Logs *Logs
	// LaunchBurst and LaunchRate are the token bucket of RunTask, counted
	// in tasks, as Fargate limits an account's launches: 100 and 20 a
	// second by default. A negative LaunchBurst turns the limit off.
	LaunchBurst int
	LaunchRate  float64
	// ProvisioningDelay is how long a task stays PROVISIONING.
	ProvisioningDelay time.Duration
	// StoppedRetention is how long a stopped task stays described: an
	// hour by default, as on AWS.
	StoppedRetention time.Duration
}

// The reasons Fargate gives, which tests of a runner may look for.
const (
	// ReasonCapacityUnavailable is RunTask's failure reason for a task
	// Fargate Spot has no capacity for.
	ReasonCapacityUnavailable = "Capacity is unavailable at this time. Please try again later or in a different availability zone"
	// ReasonSpotInterruption is the stoppedReason of a task whose Spot
	// capacity was reclaimed (stop code SpotInterruption).
	ReasonSpotInterruption = "Your Spot Task was interrupted."
	// ReasonEssentialExited is the stoppedReason of a task whose
	// essential container exited (stop code EssentialContainerExited).
	ReasonEssentialExited = "Essential container in task exited"
	// ReasonOutOfMemory is the reason of a container killed for its
	// memory.
	ReasonOutOfMemory = "OutOfMemoryError: Container killed due to memory usage"
	// ReasonNoLogGroup is the stoppedReason of a task whose awslogs log
	// group does not exist (stop code TaskFailedToStart).
	ReasonNoLogGroup = "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist. : exit status 1"
)

type cluster struct {
	name      string
	providers []string
}

func clusterARN(name string) string {
	return "arn:aws:ecs:" + Region + ":" + Account + ":cluster/" + name
}

// NewECS returns a fake with no cluster.
func NewECS(cfg ECSConfig) *ECS {
	if cfg.Engine == nil {
		cfg.Engine = NewMemoryEngine()
	}
	if cfg.LaunchBurst == 0 {
		cfg.LaunchBurst = 100
	}
	if cfg.LaunchRate == 0 {
		cfg.LaunchRate = 20
	}
	if cfg.StoppedRetention == 0 {
		cfg.StoppedRetention = time.Hour
	}
	return &ECS{
		jsonService: jsonService{target: "AmazonEC2ContainerServiceV20141113"},
		cfg:         cfg,
		clusters:    map[string]*cluster{},
		families:    map[string][]*taskDef{},
		tasks:       map[string]*task{},
		tokens:      map[string]runResult{},
		bucket:      float64(cfg.LaunchBurst),
		filled:      time.Now(),
	}
}

// CreateCluster creates an ACTIVE cluster, or replaces its capacity
// providers ("FARGATE", "FARGATE_SPOT"), and returns its ARN.
func (e *ECS) CreateCluster(name string, providers ...string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.clusters[name] = &cluster{name: name, providers: providers}
	return clusterARN(name)
}

// SpotCapacity sets whether Fargate Spot has capacity: without it,
// RunTask answers ReasonCapacityUnavailable as a failure for each task
// its strategy places on FARGATE_SPOT.
func (e *ECS) SpotCapacity(available bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.noSpot = !available
}

// InterruptSpot reclaims the capacity of a FARGATE_SPOT task (its ARN or
// id), as AWS does with two minutes' warning: its containers get SIGTERM,
// and SIGKILL after their stopTimeout; it stops with stop code
// SpotInterruption and ReasonSpotInterruption.
func (e *ECS) InterruptSpot(taskID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tasks[taskIDOf(taskID)]
	switch {
	case t == nil:
		return fmt.Errorf("interrupt %s: no such task", taskID)
	case t.provider != "FARGATE_SPOT":
		return fmt.Errorf("interrupt %s: the task runs on %s%s, not FARGATE_SPOT", taskID, t.provider, t.launchType)
	}
	e.stopLocked(t, "SpotInterruption", ReasonSpotInterruption)
	return nil
}

// RunningTasks returns how many tasks have not stopped.
func (e *ECS) RunningTasks() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, t := range e.tasks {
		if t.lastStatus != "STOPPED" {
			n++
		}
	}
	return n
}

// TaskARNs returns the ARNs of the tasks the fake knows, oldest first.
func (e *ECS) TaskARNs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	ts := make([]*task, 0, len(e.tasks))
	for _, t := range e.tasks {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(a, b *task) int { return a.seq - b.seq })
	arns := make([]string, len(ts))
	for i, t := range ts {
		arns[i] = t.arn()
	}
	return arns
}

// Close kills the containers of every task and waits until all have
// stopped; RunTask fails after it.
func (e *ECS) Close() {
	e.mu.Lock()
	e.closed = true
	for _, t := range e.tasks {
		t.kill = true
		e.stopLocked(t, "UserInitiated", "the fake was closed")
		for _, c := range t.containers {
			if c.proc != nil {
				c.proc.Kill()
			}
		}
	}
	e.mu.Unlock()
	e.wg.Wait()
}

// ServeHTTP implements http.Handler.
func (e *ECS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.serve(w, r, func(op string, in map[string]any) (any, *APIError) {
		switch op {
		case "DescribeClusters":
			return e.describeClusters(in)
		case "RegisterTaskDefinition":
			return e.registerTaskDefinition(in)
		case "DescribeTaskDefinition":
			return e.describeTaskDefinition(in)
		case "RunTask":
			return e.runTask(in)
		case "DescribeTasks":
			return e.describeTasks(in)
		case "StopTask":
			return e.stopTask(in)
		case "ListTasks":
			return e.listTasks(in)
		case "TagResource":
			return e.tagResource(in)
		}
		return nil, &APIError{Status: 400, Code: "UnknownOperationException", Message: "the fake does not serve " + op}
	})
}

func clientError(msg string) *APIError {
	return &APIError{Status: 400, Code: "ClientException", Message: msg}
}

func invalidParameter(msg string) *APIError {
	return &APIError{Status: 400, Code: "InvalidParameterException", Message: msg}
}

var errClusterNotFound = &APIError{Status: 400, Code: "ClusterNotFoundException", Message: "Cluster not found."}

// clusterName reads a cluster's name or ARN; "" means "default".
func clusterName(s string) string {
	if s == "" {
		return "default"
	}
	if _, name, ok := strings.Cut(s, ":cluster/"); ok {
		return name
	}
	return s
}

// strs reads a list of strings of a request.
func strs(in map[string]any, name string) []string {
	raw, _ := in[name].([]any)
	out := make([]string, 0, len(raw))
	for _, r := range raw {
		if s, ok := r.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func (e *ECS) describeClusters(in map[string]any) (any, *APIError) {
	names := strs(in, "clusters")
	if len(names) == 0 {
		names = []string{"default"}
	}
	if len(names) > 100 {
		return nil, invalidParameter("Clusters cannot have more than 100 elements")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	clusters, failures := []any{}, []any{}
	for _, n := range names {
		c := e.clusters[clusterName(n)]
		if c == nil {
			failures = append(failures, map[string]any{"arn": clusterARN(clusterName(n)), "reason": "MISSING"})
			continue
		}
		running, pending := 0, 0
		for _, t := range e.tasks {
			if t.cluster != c.name {
				continue
			}
			switch t.lastStatus {
			case "RUNNING":
				running++
			case "PROVISIONING", "PENDING":
				pending++
			}
		}
		clusters = append(clusters, map[string]any{
			"clusterArn": clusterARN(c.name), "clusterName": c.name, "status": "ACTIVE",
			"capacityProviders": append([]string{}, c.providers...), "defaultCapacityProviderStrategy": []any{},
			"runningTasksCount": running, "pendingTasksCount": pending,
			"registeredContainerInstancesCount": 0, "activeServicesCount": 0,
		})
	}
	return map[string]any{"clusters": clusters, "failures": failures}, nil
}

// takeLaunches takes n tasks' tokens from the launch bucket; false when
// there are not so many. mu is held.
func (e *ECS) takeLaunches(n int) bool {
	if e.cfg.LaunchBurst < 0 {
		return true
	}
	now := time.Now()
	e.bucket = min(float64(e.cfg.LaunchBurst), e.bucket+now.Sub(e.filled).Seconds()*e.cfg.LaunchRate)
	e.filled = now
	if e.bucket < float64(n) {
		return false
	}
	e.bucket -= float64(n)
	return true
}
