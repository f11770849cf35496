package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-run/berth/internal/awsfake"
	"github.com/berth-run/berth/internal/deploy/cfnfake"
	"github.com/berth-run/berth/internal/provider/ec2/ec2fake"
)

// awsAccount is an AWS account of wire fakes: CloudFormation, EC2, and
// ECS and SSM behind one endpoint, which the commands reach through the
// SDK's default chain (AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>).
type awsAccount struct {
	cfn *cfnfake.Fake
	ec2 *ec2fake.Fake
	ecs *awsfake.ECS
	ssm *awsfake.SSM

	cfnC *cloudformation.Client
	ec2C *awsec2.Client
	ecsC *ecs.Client
}

func newAWSAccount(t *testing.T) *awsAccount {
	t.Helper()
	a := &awsAccount{
		cfn: cfnfake.New(cfnfake.Config{ChangeSetDelay: 20 * time.Millisecond}),
		ec2: ec2fake.New(ec2fake.Config{BootTime: -1}),
		ecs: awsfake.NewECS(awsfake.ECSConfig{}),
		ssm: awsfake.NewSSM(),
	}
	t.Cleanup(a.ecs.Close)
	cfnSrv := httptest.NewServer(a.cfn)
	ec2Srv := httptest.NewServer(a.ec2)
	jsonSrv := httptest.NewServer(awsfake.Endpoint{ECS: a.ecs, SSM: a.ssm})
	for _, s := range []*httptest.Server{cfnSrv, ec2Srv, jsonSrv} {
		t.Cleanup(s.Close)
	}
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": jsonSrv.URL, "AWS_ENDPOINT_URL_CLOUDFORMATION": cfnSrv.URL, "AWS_ENDPOINT_URL_EC2": ec2Srv.URL,
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret-key", "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	creds := credentials.NewStaticCredentialsProvider("AKIDTEST", "secret-key", "")
	a.cfnC = cloudformation.New(cloudformation.Options{Region: "us-east-1", BaseEndpoint: aws.String(cfnSrv.URL), Credentials: creds, HTTPClient: awsfake.HTTPClient(cfnSrv.Client())})
	a.ec2C = awsec2.New(awsec2.Options{Region: "us-east-1", BaseEndpoint: aws.String(ec2Srv.URL), Credentials: creds, HTTPClient: awsfake.HTTPClient(ec2Srv.Client())})
	a.ecsC = ecs.New(ecs.Options{Region: "us-east-1", BaseEndpoint: aws.String(jsonSrv.URL), Credentials: creds, HTTPClient: awsfake.HTTPClient(jsonSrv.Client())})
	return a
}

// upArgs are the arguments of berth deploy aws up of the fleet example
// as the stack prod, watched every 10ms.
var upArgs = []string{"deploy", "aws", "up", "--config", "../../docs/aws/fleet.yaml", "--stack", "prod", "--poll", "10ms",
	"--param", "VpcId=vpc-0a1b2c3d", "--param", "Subnets=subnet-0a1b2c3d,subnet-1a1b2c3d",
	"--param", "BerthUrl=https://example.com/berth", "--param", "BerthSha256=" + strings.Repeat("ab", 32)}

// launch launches n instances tagged with cluster, as a pool would.
func (a *awsAccount) launch(t *testing.T, cluster string, n int) []string {
	t.Helper()
	lt := a.ec2.PutLaunchTemplate(ec2fake.LaunchTemplate{Name: cluster + "-pool", HTTPTokens: "required"})
	out, err := a.ec2C.CreateFleet(t.Context(), &awsec2.CreateFleetInput{
		Type: ec2types.FleetTypeInstant,
		TargetCapacitySpecification: &ec2types.TargetCapacitySpecificationRequest{
			TotalTargetCapacity: aws.Int32(int32(n)), DefaultTargetCapacityType: ec2types.DefaultTargetCapacityTypeOnDemand,
		},
		LaunchTemplateConfigs: []ec2types.FleetLaunchTemplateConfigRequest{{
			LaunchTemplateSpecification: &ec2types.FleetLaunchTemplateSpecificationRequest{LaunchTemplateName: aws.String(lt.Name), Version: aws.String("$Latest")},
			Overrides:                   []ec2types.FleetLaunchTemplateOverridesRequest{{InstanceType: "m5.large"}},
		}},
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
			Tags: []ec2types.Tag{{Key: aws.String("berth.cluster"), Value: aws.String(cluster)}}}},
	})
	if err != nil {
		t.Fatalf("CreateFleet: %v", err)
	}
	var ids []string
	for _, in := range out.Instances {
		ids = append(ids, in.InstanceIds...)
	}
	if len(ids) != n {
		t.Fatalf("CreateFleet launched %v, want %d instances", ids, n)
	}
	return ids
}

// runTask starts a Fargate task of an hour on the ECS cluster, as berth
// starts them (startedBy berth).
func (a *awsAccount) runTask(t *testing.T, cluster string) string {
	t.Helper()
	a.ecs.CreateCluster(cluster, "FARGATE", "FARGATE_SPOT")
	def, err := a.ecsC.RegisterTaskDefinition(t.Context(), &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("job"), RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
		NetworkMode: ecstypes.NetworkModeAwsvpc, Cpu: aws.String("256"), Memory: aws.String("512"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("job"), Image: aws.String("busybox")}},
	})
	if err != nil {
		t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	out, err := a.ecsC.RunTask(t.Context(), &ecs.RunTaskInput{
		Cluster: aws.String(cluster), TaskDefinition: def.TaskDefinition.TaskDefinitionArn, StartedBy: aws.String("berth"),
		LaunchType:           ecstypes.LaunchTypeFargate,
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-0fake"}}},
		Overrides: &ecstypes.TaskOverride{ContainerOverrides: []ecstypes.ContainerOverride{{Name: aws.String("job"),
			Environment: []ecstypes.KeyValuePair{{Name: aws.String("FAKE_RUN_FOR"), Value: aws.String("1h")}}}}},
	})
	if err != nil || len(out.Tasks) != 1 {
		t.Fatalf("RunTask = %+v, %v", out, err)
	}
	return aws.ToString(out.Tasks[0].TaskArn)
}

// eventLine is one line of progress: the time, the status, the type and
// the resource.
var eventLine = regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d  ([A-Z_]+) +(AWS::\S+) +(\S+)`)

// TestDeployUpShowsProgressAndFails: up prints each resource's events as
// they arrive, one line each; a resource that fails is named with its
// reason, the stack rolls back and up exits 1; up then refuses the
// rolled-back stack until down deletes it.
func TestDeployUpShowsProgressAndFails(t *testing.T) {
	a := newAWSAccount(t)
	a.cfn.SetDelay(5 * time.Millisecond)
	a.cfn.FailResource("ServerGroup", `Resource handler returned message: "You are not authorized to use launch template lt-0fake"`)
	r := invocation{}.run(t.Context(), upArgs...)
	if r.code != 1 {
		t.Fatalf("up exit %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	want := `berth deploy aws up: stack prod: ServerGroup (AWS::AutoScaling::AutoScalingGroup) CREATE_FAILED: Resource handler returned message: "You are not authorized to use launch template lt-0fake"; the stack is ROLLBACK_COMPLETE`
	if got := strings.TrimSpace(r.stderr); got != want {
		t.Errorf("stderr:\n%s\nwant\n%s", got, want)
	}
	lines := eventLine.FindAllStringSubmatch(r.stdout, -1)
	seen := map[string]int{}
	for _, l := range lines {
		seen[l[3]+" "+l[1]]++
	}
	for _, w := range []string{"prod CREATE_IN_PROGRESS", "ServerRole CREATE_IN_PROGRESS", "ServerRole CREATE_COMPLETE", "ServerGroup CREATE_FAILED",
		"prod ROLLBACK_IN_PROGRESS", "ServerRole DELETE_COMPLETE", "prod ROLLBACK_COMPLETE"} {
		if seen[w] != 1 {
			t.Errorf("progress shows %q %d times, want once:\n%s", w, seen[w], r.stdout)
		}
	}
	if n := len(a.cfn.CallsOf("DescribeStackEvents")); n < 3 {
		t.Errorf("DescribeStackEvents called %d times: the progress was not watched as it went", n)
	}
	if !strings.Contains(r.stdout, "change set berth-") {
		t.Errorf("no change set summary:\n%s", r.stdout)
	}
	again := invocation{}.run(t.Context(), upArgs...)
	if again.code != 1 || !strings.Contains(again.stderr, "ROLLBACK_COMPLETE from a failed creation") {
		t.Errorf("up of a rolled-back stack: exit %d, stderr %s", again.code, again.stderr)
	}
	invocation{}.run(t.Context(), "deploy", "aws", "down", "--stack", "prod", "--poll", "10ms").mustSucceed(t)
	invocation{}.run(t.Context(), upArgs...).mustSucceed(t)
}

// TestDeployUpTwice: up creates the stack, tagged with its cluster; up
// again with nothing changed does nothing and succeeds; a changed
// parameter updates it.
func TestDeployUpTwice(t *testing.T) {
	a := newAWSAccount(t)
	r := invocation{}.run(t.Context(), upArgs...).mustSucceed(t)
	if !strings.Contains(r.stdout, "stack prod: CREATE_COMPLETE") {
		t.Errorf("first up:\n%s", r.stdout)
	}
	cs := a.cfn.CallsOf("CreateChangeSet")
	if len(cs) != 1 || cs[0].Params.Get("ChangeSetType") != "CREATE" || cs[0].Params.Get("Tags.member.1.Value") != "prod" {
		t.Errorf("CreateChangeSet calls = %+v, want one CREATE tagged berth.cluster=prod", cs)
	}
	r = invocation{}.run(t.Context(), upArgs...).mustSucceed(t)
	if !strings.Contains(r.stdout, "stack prod is up to date") {
		t.Errorf("up with no changes:\n%s", r.stdout)
	}
	if n := len(a.cfn.CallsOf("ExecuteChangeSet")); n != 1 {
		t.Errorf("ExecuteChangeSet called %d times, want once: an empty change set is not executed", n)
	}
	r = invocation{}.run(t.Context(), "deploy", "aws", "up", "--config", "../../docs/aws/fleet.yaml", "--stack", "prod", "--poll", "10ms",
		"--param", "BerthSha256="+strings.Repeat("cd", 32)).mustSucceed(t)
	if !strings.Contains(r.stdout, "stack prod: UPDATE_COMPLETE") || !strings.Contains(r.stdout, "UPDATE_COMPLETE  ") {
		t.Errorf("up with a new parameter:\n%s", r.stdout)
	}
	last := a.cfn.CallsOf("CreateChangeSet")[2].Params
	if last.Get("ChangeSetType") != "UPDATE" || !strings.Contains(last.Encode(), "UsePreviousValue=true") {
		t.Errorf("the update's change set = %v, want UPDATE keeping the parameters not given", last)
	}
}

// TestDeployUpRefuses: what up cannot do is refused before anything is
// created: parameters without a value, and a stack name another cluster
// uses.
func TestDeployUpRefuses(t *testing.T) {
	a := newAWSAccount(t)
	r := invocation{}.run(t.Context(), "deploy", "aws", "up", "--config", "../../docs/aws/fleet.yaml", "--stack", "prod")
	if r.code != 1 || !strings.Contains(r.stderr, "--param BerthSha256=..., --param BerthUrl=...") {
		t.Errorf("up without parameters: exit %d, stderr %s", r.code, r.stderr)
	}
	// A stack named prod that is another cluster's.
	out, err := a.cfnC.CreateChangeSet(t.Context(), &cloudformation.CreateChangeSetInput{
		StackName: aws.String("prod"), ChangeSetName: aws.String("theirs"), ChangeSetType: cfntypes.ChangeSetTypeCreate,
		TemplateBody: aws.String(`{"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}`),
		Tags:         []cfntypes.Tag{{Key: aws.String("berth.cluster"), Value: aws.String("other")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for {
		d, err := a.cfnC.DescribeChangeSet(t.Context(), &cloudformation.DescribeChangeSetInput{ChangeSetName: out.Id})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status == cfntypes.ChangeSetStatusCreateComplete {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := a.cfnC.ExecuteChangeSet(t.Context(), &cloudformation.ExecuteChangeSetInput{ChangeSetName: out.Id}); err != nil {
		t.Fatal(err)
	}
	r = invocation{}.run(t.Context(), upArgs...)
	if r.code != 1 || !strings.Contains(r.stderr, `stack prod exists and is not berth cluster prod's (its berth.cluster tag is "other")`) {
		t.Errorf("up of another cluster's stack: exit %d, stderr %s", r.code, r.stderr)
	}
	for _, args := range [][]string{{"down"}, {"status"}, {"token"}} {
		r := invocation{}.run(t.Context(), append(append([]string{"deploy", "aws"}, args...), "--stack", "prod")...)
		if r.code != 1 || !strings.Contains(r.stderr, "is not berth cluster prod's") {
			t.Errorf("%s of another cluster's stack: exit %d, stderr %s", args[0], r.code, r.stderr)
		}
	}
	if n := len(a.cfn.CallsOf("CreateChangeSet")); n != 1 {
		t.Errorf("CreateChangeSet called %d times, want only the other cluster's", n)
	}
	if n := len(a.ec2.CallsOf("DescribeInstances")); n != 0 {
		t.Errorf("down looked at the instances of another cluster's stack")
	}
	if r := (invocation{}).run(t.Context(), "deploy", "aws", "up", "--config", "../../docs/aws/fleet.yaml", "--stack", "prod", "--param", "Nope=1"); r.code != 2 {
		t.Errorf("up --param Nope=1: exit %d, want 2", r.code)
	}
}

// TestDeployStatusAndToken: status shows the stack, the control plane's
// address and health, and the pools; token prints the admin token.
func TestDeployStatusAndToken(t *testing.T) {
	a := newAWSAccount(t)
	invocation{}.run(t.Context(), upArgs...).mustSucceed(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"status":"ok"}`))
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	r := invocation{}.run(t.Context(), "deploy", "aws", "status", "--stack", "prod").mustSucceed(t)
	if !strings.Contains(r.stdout, "server:  not yet published in /berth/prod/server-url") {
		t.Errorf("status before the server published its URL:\n%s", r.stdout)
	}
	a.ssm.Put("/berth/prod/server-url", "String", srv.URL)
	a.ssm.Put("/berth/prod/admin-token", "SecureString", "berth_admin_0123")
	r = invocation{}.run(t.Context(), "deploy", "aws", "status", "--stack", "prod").mustSucceed(t)
	for _, want := range []string{"stack:   prod", "status:  CREATE_COMPLETE", "server:  " + srv.URL + " (healthy)",
		"pools:   baseline (ec2), nightly (ec2), overflow (fargate)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, r.stdout)
		}
	}
	srv.Close()
	r = invocation{}.run(t.Context(), "deploy", "aws", "status", "--stack", "prod").mustSucceed(t)
	if !strings.Contains(r.stdout, srv.URL+" (unreachable: ") {
		t.Errorf("status of a stopped server:\n%s", r.stdout)
	}
	r = invocation{}.run(t.Context(), "deploy", "aws", "token", "--stack", "prod").mustSucceed(t)
	if r.stdout != "berth_admin_0123\n" {
		t.Errorf("token = %q", r.stdout)
	}
	if r := (invocation{}).run(t.Context(), "deploy", "aws", "status", "--stack", "nope"); r.code != 1 || !strings.Contains(r.stderr, "no stack nope") {
		t.Errorf("status of no stack: exit %d, stderr %s", r.code, r.stderr)
	}
}

// TestDeployDown: down terminates the cluster's instances and stops its
// tasks before it deletes the stack, leaves another cluster's alone, and
// with --retain-data keeps the table.
func TestDeployDown(t *testing.T) {
	a := newAWSAccount(t)
	invocation{}.run(t.Context(), upArgs...).mustSucceed(t)
	mine := a.launch(t, "prod", 2)
	theirs := a.launch(t, "other", 1)
	task := a.runTask(t, "prod")
	r := invocation{}.run(t.Context(), "deploy", "aws", "down", "--stack", "prod", "--poll", "10ms", "--retain-data").mustSucceed(t)
	for _, id := range mine {
		if in, _ := a.ec2.Instance(id); in.State != "terminated" {
			t.Errorf("instance %s of prod is %s, want terminated", id, in.State)
		}
	}
	if in, _ := a.ec2.Instance(theirs[0]); in.State != "running" {
		t.Errorf("instance %s of another cluster is %s, want running", theirs[0], in.State)
	}
	if a.ecs.RunningTasks() != 0 {
		t.Errorf("%d tasks still run, want none (%s stopped)", a.ecs.RunningTasks(), task)
	}
	terminated := a.ec2.CallsOf("TerminateInstances")
	deleted := a.cfn.CallsOf("DeleteStack")
	if len(terminated) == 0 || len(deleted) != 1 || !terminated[0].At.Before(deleted[0].At) {
		t.Errorf("TerminateInstances %v, DeleteStack %v: want the instances terminated before the stack is deleted", terminated, deleted)
	}
	if a.cfn.Status("prod") != "" {
		t.Errorf("stack prod is %s, want deleted", a.cfn.Status("prod"))
	}
	if kept := a.cfn.Retained(); len(kept) != 1 || kept[0].LogicalID != "TableMain" {
		t.Errorf("retained %+v, want the table", kept)
	}
	for _, want := range []string{"updating prod to retain its tables", "terminating 2 instance(s)", "stopping 1 Fargate task(s)",
		"DELETE_SKIPPED", "kept, as --retain-data asks: AWS::DynamoDB::Table", "cluster prod is gone"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("down says nothing of %q:\n%s", want, r.stdout)
		}
	}
}

// TestDeployDownReportsLeftovers: an instance down could not terminate
// is named, and down exits 1; the rest is deleted all the same.
func TestDeployDownReportsLeftovers(t *testing.T) {
	a := newAWSAccount(t)
	invocation{}.run(t.Context(), upArgs...).mustSucceed(t)
	ids := a.launch(t, "prod", 1)
	a.ec2.Deny("TerminateInstances")
	r := invocation{}.run(t.Context(), "deploy", "aws", "down", "--stack", "prod", "--poll", "10ms")
	if r.code != 1 {
		t.Fatalf("down exit %d, want 1; stdout:\n%s", r.code, r.stdout)
	}
	for _, want := range []string{"cluster prod is not all gone", "UnauthorizedOperation", "instance " + ids[0] + " (m5.large, running)"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if a.cfn.Status("prod") != "" {
		t.Errorf("stack prod is %s, want deleted", a.cfn.Status("prod"))
	}
	a.ec2.Allow("TerminateInstances")
	r = invocation{}.run(t.Context(), "deploy", "aws", "down", "--stack", "prod", "--poll", "10ms").mustSucceed(t)
	if !strings.Contains(r.stdout, "no stack prod: looking for what its cluster left") || !strings.Contains(r.stdout, "terminating 1 instance(s)") {
		t.Errorf("down again:\n%s", r.stdout)
	}
}
