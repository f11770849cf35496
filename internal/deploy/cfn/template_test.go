package cfn

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	berth "github.com/berth-run/berth"
)

var update = flag.Bool("update", false, "rewrite the golden templates in testdata")

// examples are the shipped deploy files, with the stack each is built as.
var examples = []struct{ file, stack string }{
	{"fleet.yaml", "prod"},
	{"minimal.yaml", "berth"},
}

// exampleTemplates builds the template of every shipped example.
func exampleTemplates(t *testing.T) map[string]*Template {
	t.Helper()
	out := map[string]*Template{}
	for _, ex := range examples {
		f, err := Load(filepath.Join("..", "..", "..", "docs", "aws", ex.file))
		if err != nil {
			t.Fatal(err)
		}
		tp, err := Build(f, Options{Stack: ex.stack})
		if err != nil {
			t.Fatalf("%s: %v", ex.file, err)
		}
		out[ex.file] = tp
	}
	return out
}

// TestGolden: the templates of the shipped examples are the files in
// testdata (go test -update rewrites them), in JSON and YAML, and the
// same bytes at every build.
func TestGolden(t *testing.T) {
	for name, tp := range exampleTemplates(t) {
		base := strings.TrimSuffix(name, ".yaml")
		j, err := tp.JSON()
		if err != nil {
			t.Fatal(err)
		}
		y, err := tp.YAML()
		if err != nil {
			t.Fatal(err)
		}
		for ext, got := range map[string][]byte{".json": j, ".yaml": y} {
			path := filepath.Join("testdata", base+ext)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("the template of %s differs from %s (go test -update, then review the diff)", name, path)
			}
		}
		again, _ := tp.JSON()
		if !bytes.Equal(j, again) {
			t.Errorf("%s: two renderings differ", name)
		}
	}
}

// TestStackShape: the parts the stack must have, for the fleet example.
func TestStackShape(t *testing.T) {
	tp := exampleTemplates(t)["fleet.yaml"]
	for id, typ := range map[string]string{
		"ServerGroup": "AWS::AutoScaling::AutoScalingGroup", "TableMain": "AWS::DynamoDB::Table",
		"PoolNightlyLaunchTemplate": "AWS::EC2::LaunchTemplate", "PoolBaselineInstanceProfile": "AWS::IAM::InstanceProfile",
		"EcsCluster": "AWS::ECS::Cluster", "TaskExecutionRole": "AWS::IAM::Role", "TaskLogGroup": "AWS::Logs::LogGroup",
		"IntakeQueue": "AWS::SQS::Queue", "IntakeDeadLetterQueue": "AWS::SQS::Queue", "InterruptionQueue": "AWS::SQS::Queue",
		"SpotInterruptionRule": "AWS::Events::Rule", "InterruptionQueuePolicy": "AWS::SQS::QueuePolicy",
		"PoolNightlyLowAlarm": "AWS::CloudWatch::Alarm", "PoolNightlyHighAlarm": "AWS::CloudWatch::Alarm",
	} {
		if got := tp.Resources[id].Type; got != typ {
			t.Errorf("resource %s is %q, want %s", id, got, typ)
		}
	}
	for _, typ := range []string{"AWS::EC2::NatGateway", "AWS::EC2::VPC", "AWS::EC2::EIP"} {
		for id, r := range tp.Resources {
			if r.Type == typ {
				t.Errorf("%s is a %s: the stack uses the VPC it is given, without a NAT gateway", id, typ)
			}
		}
	}
	lt := tp.Resources["PoolNightlyLaunchTemplate"].Properties["LaunchTemplateData"].(obj)
	if md := lt["MetadataOptions"].(obj); md["HttpTokens"] != "required" || md["HttpPutResponseHopLimit"] != 1 {
		t.Errorf("metadata options %v: want IMDSv2 required, hop limit 1", md)
	}
	if lt["InstanceInitiatedShutdownBehavior"] != "terminate" {
		t.Error("an instance that powers off must terminate")
	}
	table := tp.Resources["TableMain"].Properties
	if table["BillingMode"] != "PAY_PER_REQUEST" || table["PointInTimeRecoverySpecification"].(obj)["PointInTimeRecoveryEnabled"] != true {
		t.Errorf("table: %v; want on-demand with point-in-time recovery", table)
	}
	ud := lt["UserData"].(obj)["Fn::Base64"].(string)
	for _, want := range []string{"/berth/prod/nightly/join-token", "/berth/prod/server-url", "/berth/prod/ca.pem", "dnf install -y -q docker"} {
		if !strings.Contains(ud, want) {
			t.Errorf("the nightly pool's user data lacks %q", want)
		}
	}
}

// TestServerScriptSub: the control plane's script names only the
// stack's parameters, resources and pseudo parameters in ${...}; its
// shell has none of its own, which Fn::Sub would take.
func TestServerScriptSub(t *testing.T) {
	for name, tp := range exampleTemplates(t) {
		data := tp.Resources["ServerLaunchTemplate"].Properties["LaunchTemplateData"].(obj)
		args := data["UserData"].(obj)["Fn::Base64"].(obj)["Fn::Sub"].(list)
		s, vars := args[0].(string), args[1].(obj)
		for rest := s; ; {
			i := strings.Index(rest, "${")
			if i < 0 {
				break
			}
			end := strings.IndexByte(rest[i:], '}')
			v := rest[i+2 : i+end]
			rest = rest[i+end:]
			name0, _, _ := strings.Cut(v, ".")
			_, isVar := vars[v]
			_, isParam := tp.Parameters[v]
			_, isRes := tp.Resources[name0]
			if !isVar && !isParam && !isRes && !strings.HasPrefix(v, "AWS::") && !strings.HasPrefix(v, "!") {
				t.Errorf("%s: the server's script has ${%s}, which is no parameter, resource or variable", name, v)
			}
		}
	}
}

// TestBadInput: what the stack cannot run is refused before anything is
// made, naming the field.
func TestBadInput(t *testing.T) {
	const spot = "{name: spot, provider: ec2, max: 2, instance_types: [{name: m7i.large, cpu: 2, memory_mb: 8192}]"
	for _, tt := range []struct {
		file, field string
	}{
		{"pools: [" + spot + ", subnets: [subnet-0a1b2c3d]}]", "pools[0].subnets"},
		{"pools: [" + spot + ", launch_template: lt-0abc}]", "pools[0].launch_template"},
		{"pools: [" + spot + ", interruption_queue: https://sqs.us-east-1.amazonaws.com/1/q}]", "pools[0].interruption_queue"},
		{"pools: [{name: local, provider: local}]", "pools[0].provider"},
		{"pools: [" + spot + "}, {name: fg, provider: fargate, cluster: mine}]", "pools[1].cluster"},
		{"pools: [" + spot + "}, {name: spot_a, provider: fargate}, {name: spot-a, provider: fargate}]", "pools[2].name"},
		{"pools: [" + spot + ", region: us-east-1}, {name: fg, provider: fargate, region: eu-west-1}]", "pools[1].region"},
		{"pools: [{name: spot, provider: ec2, max: 2, instance_types: [{name: large, cpu: 2, memory_mb: 8192}]}]", "pools[0].instance_types[0].name"},
		{"aws: {region: mars}\npools: [" + spot + "}]", "aws.region"},
		{"aws: {log_retention_days: 2}\npools: [" + spot + "}]", "aws.log_retention_days"},
		{"aws: {vpc: my-vpc}\npools: [" + spot + "}]", "aws.vpc"},
		{"aws: {nat: true}\npools: [" + spot + "}]", "aws.nat"},
	} {
		_, err := Parse([]byte(tt.file), "")
		var fe *berth.FieldError
		if !errors.As(err, &fe) || !strings.HasPrefix(fe.Field, tt.field) {
			t.Errorf("Parse(%q) = %v; want an error naming %s", tt.file, err, tt.field)
		}
	}
	f, err := Parse([]byte("pools: ["+spot+"}]"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Build(f, Options{Stack: "Prod_1"}); err == nil || !strings.Contains(err.Error(), "--stack") {
		t.Errorf("Build with stack Prod_1 = %v; want an error naming --stack", err)
	}
	_, err = Parse([]byte("aws: {vpc: vpc-0a1b2c3d}\npools: ["+spot+", subnets: [subnet-0a1b2c3d]}]"), "")
	if err != nil {
		t.Errorf("a pool with subnets of its own in the stack's VPC: %v", err)
	}
}
