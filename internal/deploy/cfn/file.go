package cfn

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/config"
	"github.com/berth-run/berth/internal/strict"
)

// File is a deploy file: the pools of berth.yaml and how the stack runs
// them. The fields of the pools that name AWS resources the stack makes
// (launch_template, cluster, execution_role, log_group,
// interruption_queue, and the subnets and security groups where left
// out) are left out: the stack fills them in.
type File struct {
	AWS   Settings `json:"aws"`
	Pools []berth.PoolSpec
	// ownSubnets[i] reports whether pool i names its subnets; the others
	// run in the stack's Subnets parameter.
	ownSubnets []bool
}

// Settings is the aws: section of a deploy file. Zero values are the
// defaults.
type Settings struct {
	// Region the stack is for; default the pools', else any.
	Region string `json:"region,omitempty"`
	// VPC and Subnets are the defaults of the stack's VpcId and Subnets
	// parameters.
	VPC     string   `json:"vpc,omitempty"`
	Subnets []string `json:"subnets,omitempty"`
	// InstanceType of the control plane; default t3.small.
	InstanceType string `json:"instance_type,omitempty"`
	// Port of the server's API; default 7070.
	Port int `json:"port,omitempty"`
	// Intake makes an SQS intake queue (and its dead-letter queue).
	Intake bool `json:"intake,omitempty"`
	// LogRetentionDays of the Fargate tasks' log group; default 30.
	LogRetentionDays int `json:"log_retention_days,omitempty"`
	// Namespace of the CloudWatch metrics; default Berth.
	Namespace string `json:"cloudwatch_namespace,omitempty"`
}

// Defaults of the settings.
const (
	DefaultInstanceType     = "t3.small"
	DefaultPort             = 7070
	DefaultLogRetentionDays = 30
	DefaultNamespace        = "Berth"
)

// Placeholders that let the pools pass berth's own checks before the
// stack's values replace them.
const (
	placeLaunchTemplate = "berth-stack-launch-template"
	placeCluster        = "berth-stack-cluster"
	placeRole           = "arn:aws:iam::000000000000:role/berth-stack"
	placeSubnet         = "subnet-0000000000000000"
)

var (
	regionRe = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
	vpcRe    = regexp.MustCompile(`^vpc-[0-9a-f]{8,17}$`)
	subnetRe = regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`)
	typeRe   = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
)

// Load reads and checks the deploy file at path.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load deploy file: %w", err)
	}
	f, err := Parse(b, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("load deploy file %s: %w", path, err)
	}
	return f, nil
}

// Parse reads a deploy file in YAML or JSON and checks it: berth's own
// checks of the pools, and what the stack needs of them. Every problem
// is a *berth.FieldError naming the field.
func Parse(b []byte, dir string) (*File, error) {
	var raw struct {
		AWS   Settings         `json:"aws"`
		Pools []berth.PoolSpec `json:"pools"`
	}
	if err := strict.Decode(b, &raw); err != nil {
		return nil, err
	}
	f := &File{AWS: raw.AWS}
	if err := f.AWS.check(); err != nil {
		return nil, err
	}
	pools := raw.Pools
	for i := range pools {
		own, err := placeholders(&pools[i], i)
		if err != nil {
			return nil, err
		}
		f.ownSubnets = append(f.ownSubnets, own)
		if own && f.AWS.VPC == "" {
			return nil, fieldf(fmt.Sprintf("pools[%d].subnets", i), "subnets of the pool's own must be in the stack's VPC: give aws.vpc, the VPC they are in (or leave them out to use the stack's Subnets)")
		}
	}
	j, err := json.Marshal(config.Config{Pools: pools})
	if err != nil {
		return nil, err
	}
	c, err := config.Parse(j, dir)
	if err != nil {
		return nil, err
	}
	f.Pools = c.Pools
	return f, f.checkPools()
}

func (s *Settings) check() error {
	switch {
	case s.Region != "" && !regionRe.MatchString(s.Region):
		return fieldf("aws.region", "%q is not an AWS region such as us-east-1", s.Region)
	case s.VPC != "" && !vpcRe.MatchString(s.VPC):
		return fieldf("aws.vpc", "%q is not a VPC id such as vpc-0a1b2c3d", s.VPC)
	case s.InstanceType != "" && !typeRe.MatchString(s.InstanceType):
		return fieldf("aws.instance_type", "%q is not an instance type such as t3.small", s.InstanceType)
	case s.Port < 0 || s.Port > 65535 || (s.Port > 0 && s.Port < 1024):
		return fieldf("aws.port", "%d: want a port from 1024 to 65535", s.Port)
	case s.LogRetentionDays < 0 || (s.LogRetentionDays > 0 && !validRetention[s.LogRetentionDays]):
		return fieldf("aws.log_retention_days", "%d is not a retention CloudWatch Logs offers (1, 3, 5, 7, 14, 30, 60, 90, ...)", s.LogRetentionDays)
	case s.Namespace != "" && (strings.HasPrefix(s.Namespace, "AWS/") || len(s.Namespace) > 255 || strings.ContainsAny(s.Namespace, " \"'$")):
		return fieldf("aws.cloudwatch_namespace", "%q: want a namespace of your own, such as Berth", s.Namespace)
	}
	for i, sn := range s.Subnets {
		if !subnetRe.MatchString(sn) {
			return fieldf(fmt.Sprintf("aws.subnets[%d]", i), "%q is not a subnet id such as subnet-0a1b2c3d", sn)
		}
	}
	if s.InstanceType == "" {
		s.InstanceType = DefaultInstanceType
	}
	if s.Port == 0 {
		s.Port = DefaultPort
	}
	if s.LogRetentionDays == 0 {
		s.LogRetentionDays = DefaultLogRetentionDays
	}
	if s.Namespace == "" {
		s.Namespace = DefaultNamespace
	}
	return nil
}

// validRetention are the retention periods CloudWatch Logs accepts.
var validRetention = map[int]bool{1: true, 3: true, 5: true, 7: true, 14: true, 30: true, 60: true, 90: true, 120: true,
	150: true, 180: true, 365: true, 400: true, 545: true, 731: true, 1096: true, 1827: true, 2192: true, 2557: true,
	2922: true, 3288: true, 3653: true}

// placeholders refuses the fields of pool i that the stack fills in, and
// fills them with placeholders for berth's checks. It reports whether
// the pool names subnets of its own.
func placeholders(p *berth.PoolSpec, i int) (bool, error) {
	field := func(name string) string { return fmt.Sprintf("pools[%d].%s", i, name) }
	switch p.Provider {
	case berth.ProviderEC2:
		if p.LaunchTemplate != "" {
			return false, fieldf(field("launch_template"), "the stack makes the pool's launch template: leave it out")
		}
		if p.InterruptionQueue != "" {
			return false, fieldf(field("interruption_queue"), "the stack makes the interruption queue: leave it out")
		}
		for j, t := range p.InstanceTypes {
			if t.SpotTrace != "" {
				return false, fieldf(field(fmt.Sprintf("instance_types[%d].spot_trace", j)), "a trace drives the fake provider only; an ec2 pool follows EC2's Spot market")
			}
		}
		p.LaunchTemplate = placeLaunchTemplate
	case berth.ProviderFargate:
		for name, v := range map[string]string{"cluster": p.Cluster, "execution_role": p.ExecutionRole, "log_group": p.LogGroup} {
			if v != "" {
				return false, fieldf(field(name), "the stack makes the pool's %s: leave it out", strings.ReplaceAll(name, "_", " "))
			}
		}
		p.Cluster, p.ExecutionRole = placeCluster, placeRole
	default:
		return false, fieldf(field("provider"), "%q pools do not run on AWS: a stack runs ec2 and fargate pools", p.Provider)
	}
	own := len(p.Subnets) > 0
	if !own {
		p.Subnets = []string{placeSubnet}
	}
	return own, nil
}

// checkPools checks what the stack needs of the pools as a whole: one
// region, and names that make distinct logical ids.
func (f *File) checkPools() error {
	ids := map[string]string{}
	for i, p := range f.Pools {
		if p.Region != "" {
			if f.AWS.Region == "" {
				f.AWS.Region = p.Region
			} else if p.Region != f.AWS.Region {
				return fieldf(fmt.Sprintf("pools[%d].region", i), "%s, but the stack is in %s: a stack is in one region", p.Region, f.AWS.Region)
			}
		}
		id := logicalPart(p.Name)
		if id == "" {
			return fieldf(fmt.Sprintf("pools[%d].name", i), "%q has no letter or digit to name the pool's resources by", p.Name)
		}
		if other, ok := ids[id]; ok {
			return fieldf(fmt.Sprintf("pools[%d].name", i), "%q and %q both name their resources %s: rename one", other, p.Name, id)
		}
		ids[id] = p.Name
		for j, t := range p.InstanceTypes {
			if !typeRe.MatchString(t.Name) {
				return fieldf(fmt.Sprintf("pools[%d].instance_types[%d].name", i, j), "%q is not an EC2 instance type such as m7i.large", t.Name)
			}
		}
	}
	return nil
}

// logicalPart is the part of a logical id made from a pool's name: its
// letters and digits, each word capitalized ("spot-large" is SpotLarge).
func logicalPart(name string) string {
	var b strings.Builder
	up := true
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z':
			if up {
				r -= 'a' - 'A'
			}
			b.WriteRune(r)
			up = false
		case r >= '0' && r <= '9' || r >= 'A' && r <= 'Z':
			b.WriteRune(r)
			up = false
		default:
			up = true
		}
	}
	return b.String()
}

func fieldf(field, format string, args ...any) error {
	return &berth.FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}
