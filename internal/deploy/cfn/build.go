package cfn

import (
	"fmt"
	"regexp"

	berth "github.com/berth-run/berth"
)

// Options are what the stack is for besides its deploy file.
type Options struct {
	// Stack is the stack's name, and the cluster's (berth server
	// --cluster): the tag berth.cluster of everything it launches.
	Stack string
	// RetainData keeps the DynamoDB tables when the stack is deleted.
	RetainData bool
}

// DefaultStack is the stack's name when none is given.
const DefaultStack = "berth"

// stackRe is a stack name that is also a cluster name and an SSM path
// part: lower-case letters, digits and -, starting with a letter.
var stackRe = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// builder holds what the parts of the template share while it is built.
type builder struct {
	f     *File
	stack string
	opt   Options
	t     *Template
}

// Build returns the template of the stack that runs f. It fails, naming
// the field, for options the stack cannot have.
func Build(f *File, opt Options) (*Template, error) {
	if opt.Stack == "" {
		opt.Stack = DefaultStack
	}
	if !stackRe.MatchString(opt.Stack) {
		return nil, fieldf("--stack", "%q: want lower-case letters, digits and -, starting with a letter, at most 63", opt.Stack)
	}
	b := &builder{f: f, stack: opt.Stack, opt: opt, t: &Template{
		FormatVersion: "2010-09-09",
		Description:   fmt.Sprintf("berth cluster %s: control plane, store, pools, queues and alarms (berth deploy aws template)", opt.Stack),
		Parameters:    map[string]Parameter{},
		Resources:     map[string]Resource{},
		Outputs:       map[string]Output{},
	}}
	b.parameters()
	b.network()
	b.tables()
	for _, p := range f.Pools {
		if p.Provider == berth.ProviderEC2 {
			b.ec2Pool(p)
		}
	}
	if b.has(berth.ProviderFargate) {
		b.fargate()
	}
	b.queues()
	b.alarms()
	b.controlPlane()
	var pools []string
	for _, p := range f.Pools {
		pools = append(pools, p.Name+" ("+p.Provider+")")
	}
	b.output("Pools", "the pools, each with its provider (berth deploy aws status)", joinStrings(pools, ", "))
	return b.t, nil
}

// has reports whether a pool of the provider is in the file.
func (b *builder) has(provider string) bool {
	for _, p := range b.f.Pools {
		if p.Provider == provider {
			return true
		}
	}
	return false
}

func (b *builder) add(id string, r Resource) { b.t.Resources[id] = r }

func (b *builder) output(id, description string, value any) {
	b.t.Outputs[id] = Output{Description: description, Value: value}
}

func (b *builder) parameters() {
	vpc := Parameter{Type: "AWS::EC2::VPC::Id", Description: "the VPC the control plane, the instances and the tasks run in"}
	if b.f.AWS.VPC != "" {
		vpc.Default = b.f.AWS.VPC
	}
	subnets := Parameter{Type: "List<AWS::EC2::Subnet::Id>", Description: "subnets of the VPC for the control plane and the pools that name none of their own; with a route to the internet (a public subnet, or a NAT gateway of yours) to reach AWS's APIs and pull images"}
	if len(b.f.AWS.Subnets) > 0 {
		subnets.Default = joinStrings(b.f.AWS.Subnets, ",")
	}
	b.t.Parameters["VpcId"] = vpc
	b.t.Parameters["Subnets"] = subnets
	b.t.Parameters["PublicIp"] = Parameter{Type: "String", Default: "true", AllowedValues: []string{"true", "false"},
		Description: "give the control plane and the instances public addresses (no NAT gateway needed in a public subnet)"}
	b.t.Parameters["BerthUrl"] = Parameter{Type: "String", MinLength: 1,
		Description: "https URL of the berth executable for linux/amd64 that the control plane downloads"}
	b.t.Parameters["BerthSha256"] = Parameter{Type: "String", AllowedPattern: "^[0-9a-f]{64}$",
		Description: "its SHA-256, checked before it runs"}
	b.t.Parameters["ServerInstanceType"] = Parameter{Type: "String", Default: b.f.AWS.InstanceType,
		Description: "instance type of the control plane"}
	b.t.Parameters["ImageId"] = Parameter{Type: "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
		Default:     "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
		Description: "image of the control plane and the pools' instances (Amazon Linux 2023: systemd, curl, the AWS CLI; Docker is installed at boot)"}
}

func joinStrings(s []string, sep string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += sep
		}
		out += v
	}
	return out
}

// tags are the tags of the stack's resources.
func (b *builder) tags(name string) list {
	return list{obj{"Key": "Name", "Value": name}, obj{"Key": "berth.cluster", "Value": b.stack}}
}

// arn is the ARN of a resource of the stack's region and account;
// resource is an Fn::Sub string.
func arn(service, resource string) obj {
	return sub("arn:${AWS::Partition}:"+service+":${AWS::Region}:${AWS::AccountId}:"+resource, nil)
}
