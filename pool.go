package berth

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Market is how a pool buys its capacity.
type Market string

// The markets of a pool.
const (
	OnDemand Market = "on-demand"
	Spot     Market = "spot"
)

// Defaults and limits of a pool.
const (
	DefaultScaleInDelay      = 5 * time.Minute
	DefaultBootTime          = 90 * time.Second
	DefaultInterruptionGrace = 90 * time.Second
	// SpotNotice is how long a Spot instance lives after its interruption
	// notice.
	SpotNotice  = 2 * time.Minute
	MaxPoolSize = 100000
)

// Providers that berth knows. A pool's provider creates its capacity: local
// is the server's own Docker engine, fake the in-memory cloud of tests and
// the simulator, ec2 EC2 instances; fargate and fake-serverless run each
// container on its own without nodes.
const (
	ProviderLocal          = "local"
	ProviderFake           = "fake"
	ProviderEC2            = "ec2"
	ProviderFargate        = "fargate"
	ProviderFakeServerless = "fake-serverless"
)

// PoolSpec is a group of capacity with one provider and one policy, as
// written in the configuration. A pool either has nodes (instance types,
// min/max, a market) or is a serverless runner (Serverless set, no nodes);
// the local pool has the server's own engine as its one node.
type PoolSpec struct {
	Name     string `json:"name"`
	Provider string `json:"provider"`
	Market   Market `json:"market,omitempty"` // default on-demand
	// InstanceTypes the pool may launch. The autoscaler picks the cheapest
	// that fits the waiting work and spreads Spot over several of them.
	InstanceTypes []InstanceType `json:"instance_types,omitempty"`
	// Min and Max bound the number of instances while the pool is open.
	Min int `json:"min,omitempty"`
	Max int `json:"max,omitempty"`
	// Window, when set, is when the pool exists: outside it the pool drains
	// and scales to zero.
	Window *PoolWindow `json:"window,omitempty"`
	// ScaleInDelay is how long a host stays idle before it is removed.
	ScaleInDelay Duration `json:"scale_in_delay,omitempty"`
	// BootTime is how long a launched instance takes to take work; the
	// scheduler weighs it against start budgets.
	BootTime Duration `json:"boot_time,omitempty"`
	// StartBudget is how long a job may wait for capacity from this pool
	// before it goes to the overflow runner; 0 means it waits.
	StartBudget Duration `json:"start_budget,omitempty"`
	// Overflow names the serverless pool that takes jobs whose start budget
	// would be exceeded.
	Overflow string `json:"overflow,omitempty"`
	// InterruptionGrace is how long containers get between SIGTERM and
	// SIGKILL after a Spot interruption notice; at most the two minutes of
	// the notice.
	InterruptionGrace Duration `json:"interruption_grace,omitempty"`
	// Serverless makes the pool a runner without nodes.
	Serverless *Serverless `json:"serverless,omitempty"`

	// Where an AWS pool's capacity runs (providers ec2 and fargate).
	// Region defaults to the AWS SDK's (AWS_REGION, the profile).
	Region string `json:"region,omitempty"`
	// Subnets to launch into; an ec2 pool defaults to the default VPC's.
	Subnets []string `json:"subnets,omitempty"`
	// SecurityGroups of a fargate pool's tasks (an ec2 pool's instances
	// take their launch template's).
	SecurityGroups []string `json:"security_groups,omitempty"`
	// LaunchTemplate (name or lt- id) gives an ec2 pool's instances their
	// image, instance profile and user data.
	LaunchTemplate string `json:"launch_template,omitempty"`
	// JoinTimeout is how long an ec2 instance may take to join as a node
	// before it is terminated and its type avoided for a while.
	JoinTimeout Duration `json:"join_timeout,omitempty"` // default 10m
	// InterruptionQueue is the URL of an SQS queue that EventBridge feeds
	// with EC2's events about the pool's instances (Spot interruption
	// warnings, rebalance recommendations, state changes): berth acts on
	// them even when an instance's agent cannot. ec2 pools only.
	InterruptionQueue string `json:"interruption_queue,omitempty"`

	// How a fargate pool runs its tasks.
	// Cluster is the ECS cluster whose capacity providers (FARGATE,
	// FARGATE_SPOT) run the tasks.
	Cluster string `json:"cluster,omitempty"`
	// AssignPublicIP gives each task a public address: a task in a public
	// subnet needs one to pull its image when there is no NAT gateway.
	AssignPublicIP bool `json:"assign_public_ip,omitempty"`
	// Capacity is what tasks run on: on-demand (FARGATE), spot
	// (FARGATE_SPOT), or spot-then-on-demand (FARGATE_SPOT, and FARGATE
	// when Spot capacity is unavailable). Default on-demand.
	Capacity FargateCapacity `json:"capacity,omitempty"`
	// ExecutionRole is the ARN of the role ECS pulls images and writes
	// logs with; required.
	ExecutionRole string `json:"execution_role,omitempty"`
	// TaskRole is the ARN of the role the job's process gets; none when
	// empty.
	TaskRole string `json:"task_role,omitempty"`
	// LogGroup is the CloudWatch Logs group tasks write to, read back
	// into berth's logs.
	LogGroup string `json:"log_group,omitempty"` // default /berth/jobs
	// LaunchRate and LaunchBurst bound how fast tasks are launched: a
	// burst, then a steady rate per second (Fargate's: 100, then 20).
	LaunchRate  float64 `json:"launch_rate,omitempty"`
	LaunchBurst int     `json:"launch_burst,omitempty"`
}

// FargateCapacity is the capacity a fargate pool's tasks run on.
type FargateCapacity string

// The capacities of a fargate pool.
const (
	FargateOnDemand           FargateCapacity = "on-demand"
	FargateSpot               FargateCapacity = "spot"
	FargateSpotThenOnDemand   FargateCapacity = "spot-then-on-demand"
	DefaultFargateLogGroup                    = "/berth/jobs"
	DefaultFargateLaunchRate                  = 20
	DefaultFargateLaunchBurst                 = 100
)

// DefaultJoinTimeout is how long an EC2 instance may take to join.
const DefaultJoinTimeout = 10 * time.Minute

// InstanceType is a shape of host a pool may launch, with its prices.
type InstanceType struct {
	Name     string  `json:"name"`
	CPU      float64 `json:"cpu"`       // vCPUs
	MemoryMB int64   `json:"memory_mb"` // MiB
	Price    float64 `json:"price"`     // on-demand, USD per hour
	// SpotPrice is the Spot price in USD per hour when no trace gives it;
	// 0 means the provider's price.
	SpotPrice float64 `json:"spot_price,omitempty"`
	// SpotTrace is a Spot availability trace (JSON, {"metadata":
	// {"gap_seconds": G}, "data": [...]}, optional per-tick "prices") that
	// drives the fake provider's Spot market for this type.
	SpotTrace string `json:"spot_trace,omitempty"`
	// SpotTraceInverted reads the trace's 1 as "preempted" and 0 as
	// "available" (SkyNomad's converted_* files).
	SpotTraceInverted bool `json:"spot_trace_inverted,omitempty"`
}

// PoolWindow is when a pool exists: from each run of Opens to the next run
// of Closes, both cron expressions in TimeZone.
type PoolWindow struct {
	Opens    string `json:"opens"`
	Closes   string `json:"closes"`
	TimeZone string `json:"time_zone,omitempty"` // IANA name; default UTC
}

// Serverless is the price and limits of a runner that runs each container
// on its own (Fargate-like).
type Serverless struct {
	VCPUSecond  float64 `json:"vcpu_second_usd"` // USD per vCPU-second
	GBSecond    float64 `json:"gb_second_usd"`   // USD per GB-second of memory
	MaxCPU      float64 `json:"max_cpu,omitempty"`
	MaxMemoryMB int64   `json:"max_memory_mb,omitempty"`
	// StartLatency is the expected time from request to running.
	StartLatency Duration `json:"start_latency,omitempty"`
}

// Fargate's prices in us-east-1 (Linux/x86), its limits and a typical start.
const (
	FargateVCPUSecond   = 0.04048 / 3600
	FargateGBSecond     = 0.004445 / 3600
	FargateMaxCPU       = 16
	FargateMaxMemoryMB  = 120 << 10
	FargateStartLatency = 60 * time.Second
	// Fargate Spot's prices in us-east-1 (Linux/x86), which vary.
	FargateSpotVCPUSecond = 0.01246414 / 3600
	FargateSpotGBSecond   = 0.00136872 / 3600
)

// TaskSize is the size a serverless container of cpu vCPUs and memoryMB
// is billed for: the smallest Fargate task size that holds it (a task of
// 12 vCPU and 48 GiB is a task of 16 vCPU; 1.5 GiB is 2). A shape beyond
// Fargate's largest is returned as it is.
func TaskSize(cpu float64, memoryMB int64) (float64, int64) {
	// Per vCPU count, the memory it allows: lo to hi MiB in steps of step.
	sizes := [...]struct {
		cpu          float64
		lo, hi, step int64
	}{
		{0.25, 512, 512, 1}, {0.25, 1024, 2048, 1024},
		{0.5, 1024, 4096, 1024},
		{1, 2048, 8192, 1024},
		{2, 4096, 16384, 1024},
		{4, 8192, 30720, 1024},
		{8, 16384, 61440, 4096},
		{16, 32768, 122880, 8192},
	}
	for _, z := range sizes {
		if cpu > z.cpu+1e-9 || memoryMB > z.hi {
			continue
		}
		m := max(memoryMB, z.lo)
		m = z.lo + (m-z.lo+z.step-1)/z.step*z.step
		return z.cpu, m
	}
	return cpu, memoryMB
}

// IsServerless reports whether p runs containers without nodes.
// A fargate pool is, with or without its serverless block (which
// WithDefaults fills in).
func (p *PoolSpec) IsServerless() bool { return p.Serverless != nil || p.Provider == ProviderFargate }

// WithDefaults returns p with unset fields filled in.
func (p PoolSpec) WithDefaults() PoolSpec {
	if p.Market == "" {
		p.Market = OnDemand
	}
	if p.ScaleInDelay == 0 {
		p.ScaleInDelay = Duration(DefaultScaleInDelay)
	}
	if p.BootTime == 0 {
		p.BootTime = Duration(DefaultBootTime)
	}
	if p.InterruptionGrace == 0 {
		p.InterruptionGrace = Duration(DefaultInterruptionGrace)
	}
	if p.Provider == ProviderEC2 && p.JoinTimeout == 0 {
		p.JoinTimeout = Duration(DefaultJoinTimeout)
	}
	if p.Provider == ProviderFargate {
		p = p.fargateDefaults()
	}
	if s := p.Serverless; s != nil {
		c := *s
		if c.MaxCPU == 0 {
			c.MaxCPU = FargateMaxCPU
		}
		if c.MaxMemoryMB == 0 {
			c.MaxMemoryMB = FargateMaxMemoryMB
		}
		if c.StartLatency == 0 {
			c.StartLatency = Duration(FargateStartLatency)
		}
		p.Serverless = &c
	}
	return p
}

// fargateDefaults fills in a fargate pool's capacity, log group, launch
// rate and, when the file gives none, Fargate's prices: Spot's when its
// tasks run on Spot first.
func (p PoolSpec) fargateDefaults() PoolSpec {
	if p.Capacity == "" {
		p.Capacity = FargateOnDemand
	}
	if p.LogGroup == "" {
		p.LogGroup = DefaultFargateLogGroup
	}
	if p.LaunchRate == 0 {
		p.LaunchRate = DefaultFargateLaunchRate
	}
	if p.LaunchBurst == 0 {
		p.LaunchBurst = DefaultFargateLaunchBurst
	}
	if p.Serverless == nil {
		s := Serverless{VCPUSecond: FargateVCPUSecond, GBSecond: FargateGBSecond}
		if p.Capacity != FargateOnDemand {
			s.VCPUSecond, s.GBSecond = FargateSpotVCPUSecond, FargateSpotGBSecond
		}
		p.Serverless = &s
	}
	return p
}

// Fits reports whether a job of the given shape fits some instance type.
func (p *PoolSpec) Fits(cpu float64, memoryMB int64) bool {
	if s := p.Serverless; s != nil {
		return cpu <= s.MaxCPU+1e-9 && memoryMB <= s.MaxMemoryMB
	}
	for _, t := range p.InstanceTypes {
		if cpu <= t.CPU+1e-9 && memoryMB <= t.MemoryMB {
			return true
		}
	}
	return false
}

// InstanceType returns the instance type called name.
func (p *PoolSpec) InstanceType(name string) (InstanceType, bool) {
	for _, t := range p.InstanceTypes {
		if t.Name == name {
			return t, true
		}
	}
	return InstanceType{}, false
}

var poolNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidPoolName reports whether name may name a pool: lower-case letters,
// digits, - and _, at most 63, starting with a letter or digit. Pools of
// the configuration and pools that agents join share the rule.
func ValidPoolName(name string) bool { return poolNameRe.MatchString(name) }

// Validate reports the first problem with p as a *FieldError. It checks p as
// written; call it before WithDefaults. Cron expressions are checked by the
// configuration loader, which has the parser.
func (p PoolSpec) Validate() error {
	switch {
	case p.Name == "":
		return fieldErr("name", "is required")
	case !poolNameRe.MatchString(p.Name):
		return fieldErr("name", "%q is not a pool name (lower-case letters, digits, - and _, at most 63)", p.Name)
	case p.Provider == "":
		return fieldErr("provider", "is required")
	case !knownProvider(p.Provider):
		return fieldErr("provider", "%q is not a provider: want %s, %s, %s, %s or %s", p.Provider,
			ProviderLocal, ProviderFake, ProviderFakeServerless, ProviderEC2, ProviderFargate)
	case p.Market != "" && p.Market != OnDemand && p.Market != Spot:
		return fieldErr("market", "%q is not a market: want on-demand or spot", p.Market)
	case p.Min < 0:
		return fieldErr("min", "must not be negative")
	case p.Max < 0 || p.Max > MaxPoolSize:
		return fieldErr("max", "must be between 0 and %d", MaxPoolSize)
	case p.Max < p.Min && p.Serverless == nil && p.Provider != ProviderFargate:
		return fieldErr("max", "%d is less than min %d", p.Max, p.Min)
	}
	if err := p.validateDurations(); err != nil {
		return err
	}
	if err := p.validateAWS(); err != nil {
		return err
	}
	if err := p.validateFargate(); err != nil {
		return err
	}
	if p.Provider == ProviderFargate {
		return p.fargateDefaults().validateServerless()
	}
	if p.Serverless != nil {
		if p.Provider != ProviderFakeServerless {
			return fieldErr("serverless", "is for providers %s and %s, not %s", ProviderFargate, ProviderFakeServerless, p.Provider)
		}
		return p.validateServerless()
	}
	if p.Provider == ProviderLocal {
		return p.validateLocal()
	}
	switch {
	case p.Provider == ProviderFakeServerless:
		return fieldErr("serverless", "is required for provider %s", p.Provider)
	case len(p.InstanceTypes) == 0:
		return fieldErr("instance_types", "is required: at least one type the pool may launch")
	case p.Max == 0:
		return fieldErr("max", "is required: the most instances the pool may have")
	}
	seen := make(map[string]bool, len(p.InstanceTypes))
	for i, t := range p.InstanceTypes {
		if p.Provider == ProviderEC2 {
			// EC2 tells the size at start, and the Price List API the
			// price: only what is given is checked here.
			if t.CPU == 0 && t.MemoryMB == 0 {
				t.CPU, t.MemoryMB = 1, MinMemoryMB
			}
			if t.Price == 0 {
				t.Price = 1
			}
		}
		if err := t.validate(p.Market); err != nil {
			return prefixField(fmt.Sprintf("instance_types[%d]", i), err)
		}
		if seen[t.Name] {
			return fieldErr(fmt.Sprintf("instance_types[%d].name", i), "%q is listed twice", t.Name)
		}
		seen[t.Name] = true
	}
	if p.Window != nil {
		return prefixField("window", p.Window.validate())
	}
	return nil
}

// validateAWS checks the fields of AWS pools, and that other pools have
// none of them.
func (p PoolSpec) validateAWS() error {
	aws := p.Provider == ProviderEC2 || p.Provider == ProviderFargate
	switch {
	case !aws && p.Region != "":
		return fieldErr("region", "is for providers %s and %s", ProviderEC2, ProviderFargate)
	case !aws && len(p.Subnets) > 0:
		return fieldErr("subnets", "is for providers %s and %s", ProviderEC2, ProviderFargate)
	case !aws && len(p.SecurityGroups) > 0:
		return fieldErr("security_groups", "is for providers %s and %s", ProviderEC2, ProviderFargate)
	case p.Provider != ProviderEC2 && p.LaunchTemplate != "":
		return fieldErr("launch_template", "is for provider %s", ProviderEC2)
	case p.Provider != ProviderEC2 && p.JoinTimeout != 0:
		return fieldErr("join_timeout", "is for provider %s", ProviderEC2)
	case p.Provider != ProviderEC2 && p.InterruptionQueue != "":
		return fieldErr("interruption_queue", "is for provider %s", ProviderEC2)
	case p.Provider == ProviderEC2 && len(p.SecurityGroups) > 0:
		return fieldErr("security_groups", "an ec2 pool's instances take the security groups of its launch template: EC2 Fleet cannot override them")
	case p.Provider == ProviderEC2 && p.LaunchTemplate == "":
		return fieldErr("launch_template", "is required: the launch template (name or lt- id) with the instances' image, instance profile and user data")
	case p.JoinTimeout < 0:
		return fieldErr("join_timeout", "must not be negative")
	case p.Region != "" && !awsRegionRe.MatchString(p.Region):
		return fieldErr("region", "%q is not an AWS region such as us-east-1", p.Region)
	}
	if p.InterruptionQueue != "" {
		if _, err := ParseQueueURL(p.InterruptionQueue); err != nil {
			return fieldErr("interruption_queue", "%q is %v", p.InterruptionQueue, err)
		}
	}
	for i, s := range p.Subnets {
		if !strings.HasPrefix(s, "subnet-") || len(s) > maxShortString {
			return fieldErr(fmt.Sprintf("subnets[%d]", i), "%q is not a subnet id such as subnet-0a1b2c3d", s)
		}
	}
	for i, g := range p.SecurityGroups {
		if !strings.HasPrefix(g, "sg-") || len(g) > maxShortString {
			return fieldErr(fmt.Sprintf("security_groups[%d]", i), "%q is not a security group id such as sg-0a1b2c3d", g)
		}
	}
	return nil
}

// validateFargate checks the fields of fargate pools, and that other
// pools have none of them.
func (p PoolSpec) validateFargate() error {
	if p.Provider != ProviderFargate {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"cluster", p.Cluster != ""}, {"assign_public_ip", p.AssignPublicIP}, {"capacity", p.Capacity != ""},
			{"execution_role", p.ExecutionRole != ""}, {"task_role", p.TaskRole != ""}, {"log_group", p.LogGroup != ""},
			{"launch_rate", p.LaunchRate != 0}, {"launch_burst", p.LaunchBurst != 0},
		} {
			if f.set {
				return fieldErr(f.name, "is for provider %s", ProviderFargate)
			}
		}
		return nil
	}
	switch {
	case p.Cluster == "":
		return fieldErr("cluster", "is required: the ECS cluster whose FARGATE and FARGATE_SPOT capacity providers run the tasks")
	case !ecsClusterRe.MatchString(p.Cluster) && !strings.HasPrefix(p.Cluster, "arn:aws"):
		return fieldErr("cluster", "%q is not an ECS cluster name (letters, digits, - and _, at most 255) or ARN", p.Cluster)
	case len(p.Subnets) == 0:
		return fieldErr("subnets", "is required: the subnets a fargate pool's tasks run in (awsvpc networking)")
	case p.Capacity != "" && p.Capacity != FargateOnDemand && p.Capacity != FargateSpot && p.Capacity != FargateSpotThenOnDemand:
		return fieldErr("capacity", "%q is not a capacity: want %s, %s or %s", p.Capacity, FargateOnDemand, FargateSpot, FargateSpotThenOnDemand)
	case p.ExecutionRole == "":
		return fieldErr("execution_role", "is required: the ARN of the role ECS pulls images and writes the tasks' logs to CloudWatch with")
	case !iamRoleRe.MatchString(p.ExecutionRole):
		return fieldErr("execution_role", "%q is not an IAM role ARN such as arn:aws:iam::123456789012:role/berth-task-execution", p.ExecutionRole)
	case p.TaskRole != "" && !iamRoleRe.MatchString(p.TaskRole):
		return fieldErr("task_role", "%q is not an IAM role ARN such as arn:aws:iam::123456789012:role/berth-job", p.TaskRole)
	case p.LogGroup != "" && !logGroupRe.MatchString(p.LogGroup):
		return fieldErr("log_group", "%q is not a CloudWatch Logs group name (letters, digits, _ - / . #, at most 512)", p.LogGroup)
	case p.LaunchRate < 0 || p.LaunchRate != p.LaunchRate || p.LaunchRate > 1000:
		return fieldErr("launch_rate", "must be between 0 and 1000 tasks a second")
	case p.LaunchBurst < 0 || p.LaunchBurst > 10000:
		return fieldErr("launch_burst", "must be between 0 and 10000 tasks")
	case p.Market == Spot:
		return fieldErr("market", "a fargate pool's Spot is its capacity: use capacity: spot or spot-then-on-demand")
	}
	return nil
}

var (
	ecsClusterRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	iamRoleRe    = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)
	logGroupRe   = regexp.MustCompile(`^[\w\-/.#]{1,512}$`)
)

var awsRegionRe = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)

// validateLocal refuses what the local pool cannot honour: its one node is
// the server's engine, always there, on-demand.
func (p PoolSpec) validateLocal() error {
	const why = "the local pool is the server's engine, one node that is always there"
	switch {
	case len(p.InstanceTypes) > 0:
		return fieldErr("instance_types", "the local pool has the server's engine as its node and no instance types")
	case p.Min != 0:
		return fieldErr("min", "%s: it has no size to set", why)
	case p.Max != 0:
		return fieldErr("max", "%s: it has no size to set", why)
	case p.Market == Spot:
		return fieldErr("market", "%s: it is on-demand", why)
	case p.Window != nil:
		return fieldErr("window", "%s: it has no window", why)
	}
	return nil
}

func (p PoolSpec) validateDurations() error {
	switch {
	case p.ScaleInDelay < 0:
		return fieldErr("scale_in_delay", "must not be negative")
	case p.BootTime < 0:
		return fieldErr("boot_time", "must not be negative")
	case p.StartBudget < 0:
		return fieldErr("start_budget", "must not be negative")
	case p.InterruptionGrace < 0 || time.Duration(p.InterruptionGrace) > SpotNotice:
		return fieldErr("interruption_grace", "must be between 0s and %s, the Spot notice", SpotNotice)
	}
	return nil
}

func (p PoolSpec) validateServerless() error {
	s := p.Serverless
	switch {
	case len(p.InstanceTypes) > 0:
		return fieldErr("instance_types", "a serverless pool has no instance types")
	case p.Min != 0:
		return fieldErr("min", "a serverless pool has no nodes to count")
	case p.Max != 0:
		return fieldErr("max", "a serverless pool has no nodes to count")
	case p.Window != nil:
		return fieldErr("window", "a serverless pool has no window")
	case p.Overflow != "":
		return fieldErr("overflow", "a serverless pool is an overflow, it has none")
	case p.Market == Spot:
		return fieldErr("market", "a serverless pool is on-demand")
	case s.VCPUSecond < 0 || s.VCPUSecond != s.VCPUSecond:
		return fieldErr("serverless.vcpu_second_usd", "must not be negative")
	case s.GBSecond < 0 || s.GBSecond != s.GBSecond:
		return fieldErr("serverless.gb_second_usd", "must not be negative")
	case s.VCPUSecond == 0 && s.GBSecond == 0:
		return fieldErr("serverless.vcpu_second_usd", "a price is required")
	case s.MaxCPU < 0 || s.MaxCPU > MaxCPU:
		return fieldErr("serverless.max_cpu", "must be between 0 and %d", MaxCPU)
	case s.MaxMemoryMB < 0 || s.MaxMemoryMB > MaxMemoryMB:
		return fieldErr("serverless.max_memory_mb", "must be between 0 and %d", MaxMemoryMB)
	case s.StartLatency < 0:
		return fieldErr("serverless.start_latency", "must not be negative")
	}
	return nil
}

func (t InstanceType) validate(m Market) error {
	switch {
	case t.Name == "":
		return fieldErr("name", "is required")
	case len(t.Name) > maxShortString:
		return fieldErr("name", "is longer than %d characters", maxShortString)
	case !(t.CPU > 0) || t.CPU > MaxCPU:
		return fieldErr("cpu", "must be above 0 and at most %d", MaxCPU)
	case t.MemoryMB < MinMemoryMB || t.MemoryMB > MaxMemoryMB:
		return fieldErr("memory_mb", "must be between %d and %d", MinMemoryMB, MaxMemoryMB)
	case t.Price < 0:
		return fieldErr("price", "must not be negative")
	case !(t.Price > 0):
		return fieldErr("price", "is required: the on-demand price in USD per hour")
	case t.SpotPrice < 0 || t.SpotPrice != t.SpotPrice:
		return fieldErr("spot_price", "must not be negative")
	case m != Spot && t.SpotPrice != 0:
		return fieldErr("spot_price", "is for Spot pools only")
	case m != Spot && t.SpotTrace != "":
		return fieldErr("spot_trace", "is for Spot pools only")
	case m != Spot && t.SpotTraceInverted:
		return fieldErr("spot_trace_inverted", "is for Spot pools only")
	}
	return nil
}

func (w *PoolWindow) validate() error {
	switch {
	case w.Opens == "":
		return fieldErr("opens", "is required: a cron expression")
	case w.Closes == "":
		return fieldErr("closes", "is required: a cron expression")
	case strings.Join(strings.Fields(w.Opens), " ") == strings.Join(strings.Fields(w.Closes), " "):
		return fieldErr("closes", "is the same as opens: the pool would never be open")
	}
	if _, err := time.LoadLocation(w.TimeZone); err != nil {
		return fieldErr("time_zone", "%q is not a time zone such as Europe/Paris", w.TimeZone)
	}
	return nil
}

// knownProvider reports whether berth knows the provider called name.
func knownProvider(name string) bool {
	switch name {
	case ProviderLocal, ProviderFake, ProviderFakeServerless, ProviderEC2, ProviderFargate:
		return true
	}
	return false
}

// ValidatePools validates each pool and the pools together: names are
// unique and each overflow names a serverless pool. Fields are named
// "pools[i].field".
func ValidatePools(pools []PoolSpec) error {
	byName := make(map[string]*PoolSpec, len(pools))
	locals := 0
	for i := range pools {
		p := &pools[i]
		if err := p.Validate(); err != nil {
			return prefixField(fmt.Sprintf("pools[%d]", i), err)
		}
		if byName[p.Name] != nil {
			return fieldErr(fmt.Sprintf("pools[%d].name", i), "%q is used by another pool", p.Name)
		}
		byName[p.Name] = p
		if p.Provider == ProviderLocal {
			locals++
			if locals > 1 {
				return fieldErr(fmt.Sprintf("pools[%d].provider", i), "there is one local engine, so at most one local pool")
			}
		}
	}
	for i, p := range pools {
		if p.Overflow == "" {
			continue
		}
		o := byName[p.Overflow]
		switch {
		case o == nil:
			return fieldErr(fmt.Sprintf("pools[%d].overflow", i), "no pool is called %q", p.Overflow)
		case !o.IsServerless():
			return fieldErr(fmt.Sprintf("pools[%d].overflow", i), "pool %q has nodes; an overflow must be a serverless pool", p.Overflow)
		}
	}
	return nil
}
