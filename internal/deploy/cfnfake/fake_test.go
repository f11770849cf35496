package cfnfake_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"

	"github.com/berth-run/berth/internal/awsfake"
	"github.com/berth-run/berth/internal/deploy/cfnfake"
)

// tmpl is a stack of a table (kept on deletion), a role and a queue that
// depends on the role.
const tmpl = `{
  "Parameters": {"Size": {"Type": "String"}, "Mode": {"Type": "String", "Default": "a"}},
  "Resources": {
    "Table": {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "Properties": {"TableName": "t-main"}},
    "Role": {"Type": "AWS::IAM::Role", "Properties": {"Path": {"Fn::Sub": "/${Size}/"}}},
    "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"Tags": [{"Key": "role", "Value": {"Fn::GetAtt": ["Role", "Arn"]}}]}}
  },
  "Outputs": {"Table": {"Description": "the table", "Value": {"Ref": "Table"}}, "Where": {"Value": {"Fn::Sub": "${AWS::Region}/${Size}"}}}
}`

func client(t *testing.T, f *cfnfake.Fake) *cloudformation.Client {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return cloudformation.New(cloudformation.Options{
		Region: f.Region(), BaseEndpoint: aws.String(srv.URL), HTTPClient: awsfake.HTTPClient(srv.Client()),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""), Retryer: aws.NopRetryer{},
	})
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func changeSet(t *testing.T, c *cloudformation.Client, typ types.ChangeSetType, name, body string, caps ...types.Capability) (*cloudformation.CreateChangeSetOutput, error) {
	t.Helper()
	return c.CreateChangeSet(context.Background(), &cloudformation.CreateChangeSetInput{
		StackName: aws.String("s"), ChangeSetName: aws.String(name), ChangeSetType: typ, TemplateBody: aws.String(body),
		Parameters:   []types.Parameter{{ParameterKey: aws.String("Size"), ParameterValue: aws.String("3")}},
		Capabilities: caps, Tags: []types.Tag{{Key: aws.String("berth.cluster"), Value: aws.String("s")}},
	})
}

func events(t *testing.T, c *cloudformation.Client) []string {
	t.Helper()
	out, err := c.DescribeStackEvents(context.Background(), &cloudformation.DescribeStackEventsInput{StackName: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range out.StackEvents {
		got = append([]string{aws.ToString(e.LogicalResourceId) + " " + string(e.ResourceStatus)}, got...)
	}
	return got
}

// TestCreateUpdateDelete: a stack is made resource by resource in the
// order of their dependencies, shows its outputs, takes no empty update,
// and on deletion keeps its retained table.
func TestCreateUpdateDelete(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := cfnfake.New(cfnfake.Config{Clock: func() time.Time { return now }, ResourceDelay: time.Second})
	c := client(t, f)
	if _, err := changeSet(t, c, types.ChangeSetTypeCreate, "one", tmpl); code(err) != "InsufficientCapabilitiesException" {
		t.Fatalf("CreateChangeSet without CAPABILITY_IAM = %v, want InsufficientCapabilitiesException", err)
	}
	cs, err := changeSet(t, c, types.ChangeSetTypeCreate, "one", tmpl, types.CapabilityCapabilityIam)
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: cs.Id})
	if err != nil || d.Status != types.ChangeSetStatusCreateComplete || len(d.Changes) != 3 {
		t.Fatalf("DescribeChangeSet = %+v, %v; want CREATE_COMPLETE with 3 changes", d, err)
	}
	if _, err := c.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{ChangeSetName: cs.Id}); err != nil {
		t.Fatal(err)
	}
	if got := f.Status("s"); got != "CREATE_IN_PROGRESS" {
		t.Errorf("status = %s, want CREATE_IN_PROGRESS", got)
	}
	now = now.Add(time.Minute)
	want := "s REVIEW_IN_PROGRESS,s CREATE_IN_PROGRESS,Role CREATE_IN_PROGRESS,Role CREATE_COMPLETE,Queue CREATE_IN_PROGRESS,Queue CREATE_COMPLETE,Table CREATE_IN_PROGRESS,Table CREATE_COMPLETE,s CREATE_COMPLETE"
	if got := strings.Join(events(t, c), ","); got != want {
		t.Errorf("events =\n%s\nwant\n%s", got, want)
	}
	st, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	outs := map[string]string{}
	for _, o := range st.Stacks[0].Outputs {
		outs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	if outs["Table"] != "t-main" || outs["Where"] != "us-east-1/3" || aws.ToString(st.Stacks[0].Tags[0].Value) != "s" {
		t.Errorf("stack = %+v, outputs %v", st.Stacks[0], outs)
	}
	if _, err := changeSet(t, c, types.ChangeSetTypeCreate, "two", tmpl, types.CapabilityCapabilityIam); code(err) != "AlreadyExistsException" {
		t.Errorf("a second CREATE = %v, want AlreadyExistsException", err)
	}
	same, err := changeSet(t, c, types.ChangeSetTypeUpdate, "same", tmpl, types.CapabilityCapabilityIam)
	if err != nil {
		t.Fatal(err)
	}
	d, err = c.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: same.Id})
	if err != nil || d.Status != types.ChangeSetStatusFailed || !strings.Contains(aws.ToString(d.StatusReason), "didn't contain changes") {
		t.Errorf("an empty update = %+v, %v; want FAILED, didn't contain changes", d, err)
	}
	if _, err := c.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{ChangeSetName: same.Id}); code(err) != "InvalidChangeSetStatus" {
		t.Errorf("executing it = %v, want InvalidChangeSetStatus", err)
	}
	if _, err := c.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: aws.String("nope"), StackName: aws.String("s")}); code(err) != "ChangeSetNotFound" {
		t.Errorf("DescribeChangeSet(nope) = %v, want ChangeSetNotFound", err)
	}
	if _, err := c.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	if _, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("s")}); code(err) != "ValidationError" {
		t.Errorf("DescribeStacks of a deleted stack = %v, want ValidationError", err)
	}
	if got := f.Retained(); len(got) != 1 || got[0].PhysicalID != "t-main" {
		t.Errorf("Retained = %+v, want the table", got)
	}
}

// TestPlantedFailure: the planted resource fails with its reason and the
// stack rolls back what it made.
func TestPlantedFailure(t *testing.T) {
	ctx := context.Background()
	f := cfnfake.New(cfnfake.Config{})
	c := client(t, f)
	f.FailResource("Queue", "Resource handler returned message: \"Access Denied\"")
	cs, err := changeSet(t, c, types.ChangeSetTypeCreate, "one", tmpl, types.CapabilityCapabilityNamedIam)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{ChangeSetName: cs.Id}); err != nil {
		t.Fatal(err)
	}
	want := "s REVIEW_IN_PROGRESS,s CREATE_IN_PROGRESS,Role CREATE_IN_PROGRESS,Role CREATE_COMPLETE,Queue CREATE_IN_PROGRESS,Queue CREATE_FAILED,s ROLLBACK_IN_PROGRESS," +
		"Queue DELETE_IN_PROGRESS,Queue DELETE_COMPLETE,Role DELETE_IN_PROGRESS,Role DELETE_COMPLETE,s ROLLBACK_COMPLETE"
	if got := strings.Join(events(t, c), ","); got != want {
		t.Errorf("events =\n%s\nwant\n%s", got, want)
	}
	if _, err := changeSet(t, c, types.ChangeSetTypeUpdate, "two", tmpl, types.CapabilityCapabilityIam); code(err) != "ValidationError" {
		t.Errorf("updating a ROLLBACK_COMPLETE stack = %v, want ValidationError", err)
	}
}

// TestBerthTemplates: the templates berth ships parse, with every
// reference resolved.
func TestBerthTemplates(t *testing.T) {
	for _, name := range []string{"fleet.json", "minimal.yaml"} {
		b, err := os.ReadFile("../cfn/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		f := cfnfake.New(cfnfake.Config{})
		c := client(t, f)
		_, err = c.CreateChangeSet(context.Background(), &cloudformation.CreateChangeSetInput{
			StackName: aws.String("s"), ChangeSetName: aws.String("one"), ChangeSetType: types.ChangeSetTypeCreate, TemplateBody: aws.String(string(b)),
			Capabilities: []types.Capability{types.CapabilityCapabilityIam},
			Parameters: []types.Parameter{{ParameterKey: aws.String("VpcId"), ParameterValue: aws.String("vpc-1")},
				{ParameterKey: aws.String("Subnets"), ParameterValue: aws.String("subnet-1")},
				{ParameterKey: aws.String("BerthUrl"), ParameterValue: aws.String("https://x")},
				{ParameterKey: aws.String("BerthSha256"), ParameterValue: aws.String(strings.Repeat("0", 64))}},
		})
		if err != nil && !strings.Contains(err.Error(), "templateBody") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestUpdateRollsBack: an update whose resource fails rolls back to the
// template it had, and the stack can be updated again.
func TestUpdateRollsBack(t *testing.T) {
	ctx := context.Background()
	f := cfnfake.New(cfnfake.Config{ChangeSetDelay: time.Hour, Clock: func() time.Time { return time.Unix(0, 0) }})
	c := client(t, f)
	cs, err := changeSet(t, c, types.ChangeSetTypeCreate, "one", tmpl, types.CapabilityCapabilityIam)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{ChangeSetName: cs.Id}); code(err) != "InvalidChangeSetStatus" {
		t.Errorf("executing a change set still CREATE_IN_PROGRESS = %v, want InvalidChangeSetStatus", err)
	}

	f = cfnfake.New(cfnfake.Config{})
	c = client(t, f)
	cs, err = changeSet(t, c, types.ChangeSetTypeCreate, "one", tmpl, types.CapabilityCapabilityIam)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{ChangeSetName: cs.Id}); err != nil {
		t.Fatal(err)
	}
	f.FailResource("Queue", "Resource handler returned message: \"Queue limit\"")
	changed := strings.Replace(tmpl, `"Value": {"Fn::GetAtt"`, `"Value2": {"Fn::GetAtt"`, 1)
	cs, err = changeSet(t, c, types.ChangeSetTypeUpdate, "two", changed, types.CapabilityCapabilityIam)
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: cs.Id})
	if err != nil || len(d.Changes) != 1 || d.Changes[0].ResourceChange.Action != types.ChangeActionModify {
		t.Fatalf("DescribeChangeSet = %+v, %v; want the queue modified", d, err)
	}
	if _, err := c.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{ChangeSetName: cs.Id}); err != nil {
		t.Fatal(err)
	}
	if got := f.Status("s"); got != "UPDATE_ROLLBACK_COMPLETE" {
		t.Errorf("status = %s, want UPDATE_ROLLBACK_COMPLETE", got)
	}
	got, err := c.GetTemplate(ctx, &cloudformation.GetTemplateInput{StackName: aws.String("s")})
	if err != nil || aws.ToString(got.TemplateBody) != tmpl {
		t.Errorf("GetTemplate after the rollback = %v; want the template before the update", err)
	}
	if _, err := changeSet(t, c, types.ChangeSetTypeUpdate, "three", changed, types.CapabilityCapabilityIam); err != nil {
		t.Errorf("updating an UPDATE_ROLLBACK_COMPLETE stack: %v", err)
	}
}

// TestEventsPages: DescribeStackEvents answers 100 events a page, newest
// first, and the pages hold every event once.
func TestEventsPages(t *testing.T) {
	ctx := context.Background()
	var res []string
	for i := range 60 {
		res = append(res, fmt.Sprintf(`"Q%02d": {"Type": "AWS::SQS::Queue"}`, i))
	}
	f := cfnfake.New(cfnfake.Config{})
	c := client(t, f)
	cs, err := c.CreateChangeSet(ctx, &cloudformation.CreateChangeSetInput{StackName: aws.String("s"), ChangeSetName: aws.String("one"),
		ChangeSetType: types.ChangeSetTypeCreate, TemplateBody: aws.String(`{"Resources": {` + strings.Join(res, ",") + `}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{ChangeSetName: cs.Id}); err != nil {
		t.Fatal(err)
	}
	var got []string
	pages := 0
	p := cloudformation.NewDescribeStackEventsPaginator(c, &cloudformation.DescribeStackEventsInput{StackName: aws.String("s")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, e := range page.StackEvents {
			got = append(got, aws.ToString(e.LogicalResourceId)+" "+string(e.ResourceStatus))
		}
	}
	if pages != 2 || len(got) != 123 || got[0] != "s CREATE_COMPLETE" || got[122] != "s REVIEW_IN_PROGRESS" {
		t.Errorf("%d pages of %d events, from %q to %q; want 2 pages of 123 events, newest first", pages, len(got), got[0], got[len(got)-1])
	}
}
