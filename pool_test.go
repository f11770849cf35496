package berth

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func spotPool() PoolSpec {
	return PoolSpec{
		Name: "spot", Provider: ProviderFake, Market: Spot, Max: 10,
		InstanceTypes: []InstanceType{
			{Name: "m5.large", CPU: 2, MemoryMB: 8192, Price: 0.096, SpotPrice: 0.035},
			{Name: "m5.xlarge", CPU: 4, MemoryMB: 16384, Price: 0.192},
		},
		Window:   &PoolWindow{Opens: "0 2 * * *", Closes: "0 6 * * *", TimeZone: "Europe/Paris"},
		Overflow: "fargate",
	}
}

func fargatePool() PoolSpec {
	return PoolSpec{Name: "fargate", Provider: ProviderFakeServerless,
		Serverless: &Serverless{VCPUSecond: FargateVCPUSecond, GBSecond: FargateGBSecond}}
}

func TestPoolSpecValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*PoolSpec)
		field  string
	}{
		{"valid", func(*PoolSpec) {}, ""},
		{"no name", func(p *PoolSpec) { p.Name = "" }, "name"},
		{"upper-case name", func(p *PoolSpec) { p.Name = "Spot" }, "name"},
		{"a name with _, as agents' pools may have", func(p *PoolSpec) { p.Name = "gpu_a100" }, ""},
		{"a name starting with _", func(p *PoolSpec) { p.Name = "_gpu" }, "name"},
		{"no provider", func(p *PoolSpec) { p.Provider = "" }, "provider"},
		{"bad market", func(p *PoolSpec) { p.Market = "reserved" }, "market"},
		{"negative min", func(p *PoolSpec) { p.Min = -1 }, "min"},
		{"max below min", func(p *PoolSpec) { p.Min = 3; p.Max = 2 }, "max"},
		{"no max", func(p *PoolSpec) { p.Max = 0 }, "max"},
		{"no types", func(p *PoolSpec) { p.InstanceTypes = nil }, "instance_types"},
		{"type without cpu", func(p *PoolSpec) { p.InstanceTypes[1].CPU = 0 }, "instance_types[1].cpu"},
		{"type without memory", func(p *PoolSpec) { p.InstanceTypes[0].MemoryMB = 0 }, "instance_types[0].memory_mb"},
		{"type without price", func(p *PoolSpec) { p.InstanceTypes[0].Price = 0 }, "instance_types[0].price"},
		{"type twice", func(p *PoolSpec) { p.InstanceTypes[1].Name = "m5.large" }, "instance_types[1].name"},
		{"spot price on on-demand", func(p *PoolSpec) { p.Market = OnDemand }, "instance_types[0].spot_price"},
		{"window without close", func(p *PoolSpec) { p.Window.Closes = "" }, "window.closes"},
		{"window in no zone", func(p *PoolSpec) { p.Window.TimeZone = "Mars/Olympus" }, "window.time_zone"},
		{"grace beyond the notice", func(p *PoolSpec) { p.InterruptionGrace = Duration(3 * time.Minute) }, "interruption_grace"},
		{"negative budget", func(p *PoolSpec) { p.StartBudget = Duration(-time.Second) }, "start_budget"},
		{"serverless with types", func(p *PoolSpec) { p.Provider = ProviderFakeServerless; p.Serverless = &Serverless{VCPUSecond: 1} }, "instance_types"},
		{"serverless on a provider of hosts", func(p *PoolSpec) {
			p.InstanceTypes, p.Min, p.Max, p.Window, p.Market, p.Overflow = nil, 0, 0, nil, OnDemand, ""
			p.Serverless = &Serverless{VCPUSecond: 1}
		}, "serverless"},
		{"local with types", func(p *PoolSpec) { p.Provider = ProviderLocal }, "instance_types"},
		{"local with a size", func(p *PoolSpec) { p.Provider, p.InstanceTypes = ProviderLocal, nil }, "max"},
		{"local on spot", func(p *PoolSpec) { p.Provider, p.InstanceTypes, p.Min, p.Max = ProviderLocal, nil, 0, 0 }, "market"},
		{"local with a window", func(p *PoolSpec) {
			p.Provider, p.InstanceTypes, p.Min, p.Max, p.Market = ProviderLocal, nil, 0, 0, OnDemand
		}, "window"},
		{"spot trace on on-demand", func(p *PoolSpec) {
			p.Market = OnDemand
			for i := range p.InstanceTypes {
				p.InstanceTypes[i].SpotPrice, p.InstanceTypes[i].SpotTrace = 0, "a.json"
			}
		}, "instance_types[0].spot_trace"},
		{"fargate, priced as Fargate", realFargate, ""},
		{"fargate on Spot first", func(p *PoolSpec) { realFargate(p); p.Capacity = FargateSpotThenOnDemand }, ""},
		{"fargate without a cluster", func(p *PoolSpec) { realFargate(p); p.Cluster = "" }, "cluster"},
		{"fargate in a cluster that is no name", func(p *PoolSpec) { realFargate(p); p.Cluster = "my cluster" }, "cluster"},
		{"fargate without subnets", func(p *PoolSpec) { realFargate(p); p.Subnets = nil }, "subnets"},
		{"fargate without an execution role", func(p *PoolSpec) { realFargate(p); p.ExecutionRole = "" }, "execution_role"},
		{"fargate with a role name, not an ARN", func(p *PoolSpec) { realFargate(p); p.ExecutionRole = "berth-task-execution" }, "execution_role"},
		{"fargate with a bad task role", func(p *PoolSpec) { realFargate(p); p.TaskRole = "arn:aws:iam::1:role/x" }, "task_role"},
		{"fargate on no capacity", func(p *PoolSpec) { realFargate(p); p.Capacity = "cheap" }, "capacity"},
		{"fargate with a bad log group", func(p *PoolSpec) { realFargate(p); p.LogGroup = "a group" }, "log_group"},
		{"fargate launching too fast", func(p *PoolSpec) { realFargate(p); p.LaunchRate = -1 }, "launch_rate"},
		{"fargate on the spot market", func(p *PoolSpec) { realFargate(p); p.Market = Spot }, "market"},
		{"fargate with instance types", func(p *PoolSpec) { realFargate(p); p.InstanceTypes = spotPool().InstanceTypes }, "instance_types"},
		{"fargate with a max", func(p *PoolSpec) { realFargate(p); p.Max = 3 }, "max"},
		{"a cluster on a fake pool", func(p *PoolSpec) { p.Cluster = "berth" }, "cluster"},
		{"a capacity on a fake pool", func(p *PoolSpec) { p.Capacity = FargateSpot }, "capacity"},
		{"ec2", ec2, ""},
		{"ec2 types whose size EC2 tells", func(p *PoolSpec) {
			ec2(p)
			for i := range p.InstanceTypes {
				p.InstanceTypes[i].CPU, p.InstanceTypes[i].MemoryMB = 0, 0
			}
		}, ""},
		{"ec2 type with half a size", func(p *PoolSpec) { ec2(p); p.InstanceTypes[0].MemoryMB = 0 }, "instance_types[0].memory_mb"},
		{"ec2 type whose price the Price List API tells", func(p *PoolSpec) { ec2(p); p.InstanceTypes[0].Price = 0 }, ""},
		{"ec2 type with a negative price", func(p *PoolSpec) { ec2(p); p.InstanceTypes[0].Price = -1 }, "instance_types[0].price"},
		{"ec2 without a launch template", func(p *PoolSpec) { ec2(p); p.LaunchTemplate = "" }, "launch_template"},
		{"ec2 in no region", func(p *PoolSpec) { ec2(p); p.Region = "moon-1" }, "region"},
		{"ec2 with a bad subnet", func(p *PoolSpec) { ec2(p); p.Subnets[1] = "vpc-1" }, "subnets[1]"},
		{"ec2 with security groups, which are its launch template's", func(p *PoolSpec) { ec2(p); p.SecurityGroups = []string{"sg-0c"} }, "security_groups"},
		{"fargate with a bad security group", func(p *PoolSpec) {
			*p = fargatePool()
			p.Provider, p.SecurityGroups = ProviderFargate, []string{"default"}
		}, "security_groups[0]"},
		{"ec2 with a negative join timeout", func(p *PoolSpec) { ec2(p); p.JoinTimeout = Duration(-time.Second) }, "join_timeout"},
		{"a region on a fake pool", func(p *PoolSpec) { p.Region = "us-east-1" }, "region"},
		{"subnets on a fake pool", func(p *PoolSpec) { p.Subnets = []string{"subnet-1"} }, "subnets"},
		{"a launch template on a fake pool", func(p *PoolSpec) { p.LaunchTemplate = "lt" }, "launch_template"},
		{"a join timeout on a fake pool", func(p *PoolSpec) { p.JoinTimeout = Duration(time.Minute) }, "join_timeout"},
		{"ec2 with an interruption queue", func(p *PoolSpec) {
			ec2(p)
			p.InterruptionQueue = "https://sqs.us-east-1.amazonaws.com/123456789012/berth-interruptions"
		}, ""},
		{"ec2 with a queue that is an ARN", func(p *PoolSpec) {
			ec2(p)
			p.InterruptionQueue = "arn:aws:sqs:us-east-1:123456789012:berth-interruptions"
		}, "interruption_queue"},
		{"an interruption queue on a fake pool", func(p *PoolSpec) {
			p.InterruptionQueue = "https://sqs.us-east-1.amazonaws.com/123456789012/berth-interruptions"
		}, "interruption_queue"},
	}
	for _, tt := range tests {
		p := spotPool()
		tt.change(&p)
		err := p.Validate()
		var fe *FieldError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%s: Validate() = %v, want nil", tt.name, err)
		case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
			t.Errorf("%s: Validate() = %v, want an error on field %q", tt.name, err, tt.field)
		}
	}
}

// realFargate makes p a fargate pool as the documentation writes one.
func realFargate(p *PoolSpec) {
	*p = PoolSpec{Name: "fargate", Provider: ProviderFargate, Region: "us-east-1", Cluster: "berth",
		Subnets: []string{"subnet-0a", "subnet-0b"}, SecurityGroups: []string{"sg-0c"},
		ExecutionRole: "arn:aws:iam::123456789012:role/berth-task-execution", LogGroup: "/berth/jobs"}
}

// ec2 makes p an ec2 pool.
func ec2(p *PoolSpec) {
	p.Provider, p.Region, p.LaunchTemplate = ProviderEC2, "us-east-1", "berth-workers"
	p.Subnets = []string{"subnet-0a", "subnet-0b"}
}

// TestPoolSpecValidateSays: the problem says what is wrong with the value.
func TestPoolSpecValidateSays(t *testing.T) {
	tests := []struct {
		name           string
		change         func(*PoolSpec)
		field, problem string
	}{
		{"unknown provider", func(p *PoolSpec) { p.Provider = "gcp"; p.InstanceTypes = nil },
			"provider", `"gcp" is not a provider: want local, fake, fake-serverless, ec2 or fargate`},
		{"negative price", func(p *PoolSpec) { p.InstanceTypes[0].Price = -1 }, "instance_types[0].price", "must not be negative"},
		{"no price", func(p *PoolSpec) { p.InstanceTypes[0].Price = 0 }, "instance_types[0].price", "is required"},
		{"no cpu", func(p *PoolSpec) { p.InstanceTypes[0].CPU = 0 }, "instance_types[0].cpu", "must be above 0 and at most 1024"},
		{"too many cpus", func(p *PoolSpec) { p.InstanceTypes[0].CPU = 2048 }, "instance_types[0].cpu", "must be above 0 and at most 1024"},
		{"window that never opens", func(p *PoolSpec) { p.Window.Closes = " 0 2  * * *" }, "window.closes", "is the same as opens"},
		{"serverless with max", func(p *PoolSpec) { *p = fargatePool(); p.Max = 3 }, "max", "a serverless pool has no nodes"},
		{"serverless with min", func(p *PoolSpec) { *p = fargatePool(); p.Min = 1 }, "min", "a serverless pool has no nodes"},
	}
	for _, tt := range tests {
		p := spotPool()
		tt.change(&p)
		err := p.Validate()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field || fe.Problem != tt.problem && !strings.HasPrefix(fe.Problem, tt.problem) {
			t.Errorf("%s: Validate() = %v, want %s: %s", tt.name, err, tt.field, tt.problem)
		}
	}
}

func TestParseQueueURL(t *testing.T) {
	tests := []struct {
		url, region string
		ok          bool
	}{
		{"https://sqs.us-east-1.amazonaws.com/123456789012/berth-interruptions", "us-east-1", true},
		{"https://sqs.eu-west-3.amazonaws.com/123456789012/q.fifo", "eu-west-3", true},
		{"https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q", "cn-north-1", true},
		{"https://vpce-0a1b-c2d3.sqs.us-west-2.vpce.amazonaws.com/123456789012/q", "us-west-2", true},
		{"https://eu-central-1.queue.amazonaws.com/123456789012/q", "eu-central-1", true},
		{"https://queue.amazonaws.com/123456789012/q", "us-east-1", true},
		{"http://127.0.0.1:4566/000000000000/q", "", true}, // an emulator
		{"http://sqs.us-east-1.amazonaws.com/123456789012/q", "", false},
		{"https://sqs.us-east-1.amazonaws.com/berth-interruptions", "", false},
		{"https://sqs.us-east-1.amazonaws.com/12345/q", "", false},
		{"https://sqs.us-east-1.amazonaws.com/123456789012/q/x", "", false},
		{"https://sqs.us-east-1.amazonaws.com/123456789012/a%20b", "", false},
		{"https://sqs.us-east-1.amazonaws.com/123456789012/q?Action=ReceiveMessage", "", false},
		{"https://user:pw@sqs.us-east-1.amazonaws.com/123456789012/q", "", false},
		{"arn:aws:sqs:us-east-1:123456789012:q", "", false},
		{"sqs.us-east-1.amazonaws.com/123456789012/q", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		region, err := ParseQueueURL(tt.url)
		if (err == nil) != tt.ok || region != tt.region {
			t.Errorf("ParseQueueURL(%q) = %q, %v; want %q, ok %v", tt.url, region, err, tt.region, tt.ok)
		}
	}
}

func TestValidatePools(t *testing.T) {
	local := PoolSpec{Name: "local", Provider: ProviderLocal}
	bad := fargatePool()
	bad.Serverless.VCPUSecond, bad.Serverless.GBSecond = 0, 0
	tests := []struct {
		name  string
		pools []PoolSpec
		field string
	}{
		{"valid", []PoolSpec{local, spotPool(), fargatePool()}, ""},
		{"no pools", nil, ""},
		{"duplicate", []PoolSpec{spotPool(), fargatePool(), spotPool()}, "pools[2].name"},
		{"unknown overflow", []PoolSpec{spotPool()}, "pools[0].overflow"},
		{"overflow with nodes", []PoolSpec{spotPool(), func() PoolSpec { p := spotPool(); p.Name = "fargate"; p.Overflow = ""; return p }()}, "pools[0].overflow"},
		{"two local pools", []PoolSpec{local, {Name: "other", Provider: ProviderLocal}}, "pools[1].provider"},
		{"serverless without price", []PoolSpec{bad}, "pools[0].serverless.vcpu_second_usd"},
	}
	for _, tt := range tests {
		err := ValidatePools(tt.pools)
		var fe *FieldError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%s: ValidatePools() = %v, want nil", tt.name, err)
		case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
			t.Errorf("%s: ValidatePools() = %v, want an error on field %q", tt.name, err, tt.field)
		}
	}
}

func TestPoolSpecDefaultsAndFits(t *testing.T) {
	p := spotPool().WithDefaults()
	if p.ScaleInDelay != Duration(DefaultScaleInDelay) || p.BootTime != Duration(DefaultBootTime) || p.InterruptionGrace != Duration(DefaultInterruptionGrace) {
		t.Errorf("WithDefaults() = %+v, want the default delays", p)
	}
	if !p.Fits(4, 16384) || p.Fits(4.5, 1024) || p.Fits(1, 16385) {
		t.Errorf("Fits disagrees with the largest type, 4 vCPU/16 GiB")
	}
	f := fargatePool().WithDefaults()
	if f.Serverless.MaxCPU != FargateMaxCPU || !f.Fits(16, 1024) || f.Fits(17, 1024) {
		t.Errorf("serverless defaults = %+v, want Fargate's limits", f.Serverless)
	}
	if fargatePool().Serverless.MaxCPU != 0 {
		t.Errorf("WithDefaults changed the spec it was called on")
	}
}

func TestTaskSize(t *testing.T) {
	tests := []struct {
		cpu     float64
		mem     int64
		wantCPU float64
		wantMem int64
	}{
		{0.1, 100, 0.25, 512},
		{0.25, 600, 0.25, 1024},
		{0.25, 2048, 0.25, 2048},
		{0.25, 3000, 0.5, 3072},
		{0.5, 1024, 0.5, 1024},
		{1, 2048, 1, 2048},
		{1, 1536, 1, 2048},
		{1, 9000, 2, 9216},
		{2, 4096, 2, 4096},
		{4, 8192, 4, 8192},
		{4, 31000, 8, 32768},
		{8, 98304, 16, 98304},
		{12, 49152, 16, 49152},
		{8, 20000, 8, 20480},
		{16, 125000, 16, 125000}, // beyond Fargate: as it is
		{32, 65536, 32, 65536},
	}
	for _, tt := range tests {
		c, m := TaskSize(tt.cpu, tt.mem)
		if c != tt.wantCPU || m != tt.wantMem {
			t.Errorf("TaskSize(%v, %d) = %v, %d; want %v, %d", tt.cpu, tt.mem, c, m, tt.wantCPU, tt.wantMem)
		}
	}
}
