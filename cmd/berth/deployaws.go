package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"

	"github.com/berth-run/berth/internal/deploy/cfn"
)

// The calls of each AWS service that `berth deploy aws up|status|down|token`
// make, and no others.
type (
	cfnAPI interface {
		CreateChangeSet(context.Context, *cloudformation.CreateChangeSetInput, ...func(*cloudformation.Options)) (*cloudformation.CreateChangeSetOutput, error)
		DescribeChangeSet(context.Context, *cloudformation.DescribeChangeSetInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeChangeSetOutput, error)
		ExecuteChangeSet(context.Context, *cloudformation.ExecuteChangeSetInput, ...func(*cloudformation.Options)) (*cloudformation.ExecuteChangeSetOutput, error)
		DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
		DescribeStackEvents(context.Context, *cloudformation.DescribeStackEventsInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStackEventsOutput, error)
		GetTemplate(context.Context, *cloudformation.GetTemplateInput, ...func(*cloudformation.Options)) (*cloudformation.GetTemplateOutput, error)
		DeleteStack(context.Context, *cloudformation.DeleteStackInput, ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error)
	}
	ec2API interface {
		DescribeInstances(context.Context, *awsec2.DescribeInstancesInput, ...func(*awsec2.Options)) (*awsec2.DescribeInstancesOutput, error)
		TerminateInstances(context.Context, *awsec2.TerminateInstancesInput, ...func(*awsec2.Options)) (*awsec2.TerminateInstancesOutput, error)
	}
	ecsAPI interface {
		ListTasks(context.Context, *ecs.ListTasksInput, ...func(*ecs.Options)) (*ecs.ListTasksOutput, error)
		StopTask(context.Context, *ecs.StopTaskInput, ...func(*ecs.Options)) (*ecs.StopTaskOutput, error)
		DescribeTasks(context.Context, *ecs.DescribeTasksInput, ...func(*ecs.Options)) (*ecs.DescribeTasksOutput, error)
	}
	ssmAPI interface {
		GetParameter(context.Context, *ssm.GetParameterInput, ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	}
)

// stackOps is one stack and the AWS APIs that act on it.
type stackOps struct {
	name string // the stack's, and the cluster's
	cfn  cfnAPI
	ec2  ec2API
	ecs  ecsAPI
	ssm  ssmAPI
	out  io.Writer
	poll time.Duration // between two looks at what AWS is doing
}

// stackFlags registers what the stack commands share: --stack, --region
// and --poll.
func stackFlags(fs *flag.FlagSet, s *stackOps, region *string) {
	fs.StringVar(&s.name, "stack", cfn.DefaultStack, "the stack's `name`, also the cluster's")
	fs.StringVar(region, "region", "", "the stack's `region` (default: the AWS SDK's, AWS_REGION or the profile's)")
	fs.DurationVar(&s.poll, "poll", 5*time.Second, "how `often` to look at the stack's progress")
}

// connect makes the AWS clients, through the SDK's default chain: its
// credentials, the region, AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>.
func (s *stackOps) connect(ctx context.Context, env *cliEnv, region string) error {
	ac, err := awsConfig(ctx, region)
	if err != nil {
		return err
	}
	s.cfn, s.ec2, s.ecs, s.ssm = cloudformation.NewFromConfig(ac), awsec2.NewFromConfig(ac), ecs.NewFromConfig(ac), ssm.NewFromConfig(ac)
	s.out = env.stdout
	if s.poll <= 0 {
		s.poll = time.Second
	}
	return nil
}

// apiCode returns the AWS error code of err, "" if it has none.
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// describe returns the stack, nil if there is none.
func (s *stackOps) describe(ctx context.Context, id string) (*cfntypes.Stack, error) {
	out, err := s.cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(id)})
	switch {
	case apiCode(err) == "ValidationError" && strings.Contains(err.Error(), "does not exist"):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("describe stack %s: %w", id, err)
	case len(out.Stacks) == 0:
		return nil, nil
	}
	return &out.Stacks[0], nil
}

// clusterTag is the tag that names the cluster of what berth makes.
const clusterTag = "berth.cluster"

// checkOwner refuses a stack that is not this cluster's: one whose
// berth.cluster tag is missing or names another cluster.
func (s *stackOps) checkOwner(st *cfntypes.Stack) error {
	tag := "(none)"
	for _, t := range st.Tags {
		if aws.ToString(t.Key) == clusterTag {
			tag = fmt.Sprintf("%q", aws.ToString(t.Value))
			if aws.ToString(t.Value) == s.name {
				return nil
			}
		}
	}
	return fmt.Errorf("stack %s exists and is not berth cluster %s's (its %s tag is %s): choose another --stack", s.name, s.name, clusterTag, tag)
}

// stackOutput returns the stack's output key, "" if it has none.
func stackOutput(st *cfntypes.Stack, key string) string {
	for _, o := range st.Outputs {
		if aws.ToString(o.OutputKey) == key {
			return aws.ToString(o.OutputValue)
		}
	}
	return ""
}

// lastEvent returns the id of the stack's newest event, "" if none.
func (s *stackOps) lastEvent(ctx context.Context, id string) (string, error) {
	out, err := s.cfn.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String(id)})
	if err != nil {
		return "", fmt.Errorf("stack events of %s: %w", id, err)
	}
	if len(out.StackEvents) == 0 {
		return "", nil
	}
	return aws.ToString(out.StackEvents[0].EventId), nil
}

// newEvents returns the stack's events after the one after, oldest first.
func (s *stackOps) newEvents(ctx context.Context, id, after string) ([]cfntypes.StackEvent, error) {
	var out []cfntypes.StackEvent
	in := &cloudformation.DescribeStackEventsInput{StackName: aws.String(id)}
	for {
		page, err := s.cfn.DescribeStackEvents(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("stack events of %s: %w", id, err)
		}
		for _, e := range page.StackEvents {
			if aws.ToString(e.EventId) == after {
				slices.Reverse(out)
				return out, nil
			}
			out = append(out, e)
		}
		if page.NextToken == nil {
			slices.Reverse(out)
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}

// watched is how an operation on a stack ended.
type watched struct {
	status  string                // the stack's last status
	failure *cfntypes.StackEvent  // the first resource that failed, if one did
	skipped []cfntypes.StackEvent // resources kept (DELETE_SKIPPED)
}

// watch prints, one line each, the stack's events after the one after
// until its status is final, and returns how it ended.
func (s *stackOps) watch(ctx context.Context, id, after string) (watched, error) {
	var w watched
	for {
		events, err := s.newEvents(ctx, id, after)
		if err != nil {
			return w, err
		}
		for _, e := range events {
			after = aws.ToString(e.EventId)
			status := string(e.ResourceStatus)
			line := fmt.Sprintf("%s  %-28s %-36s %s", aws.ToTime(e.Timestamp).UTC().Format(time.TimeOnly), status, aws.ToString(e.ResourceType), aws.ToString(e.LogicalResourceId))
			if r := aws.ToString(e.ResourceStatusReason); r != "" && r != "User Initiated" {
				line += "  " + r
			}
			fmt.Fprintln(s.out, line)
			if aws.ToString(e.ResourceType) != "AWS::CloudFormation::Stack" {
				if strings.HasSuffix(status, "_FAILED") && w.failure == nil {
					w.failure = &e
				}
				if status == "DELETE_SKIPPED" {
					w.skipped = append(w.skipped, e)
				}
				continue
			}
			w.status = status
			if final(status) {
				return w, nil
			}
		}
		select {
		case <-ctx.Done():
			return w, fmt.Errorf("stack %s is still %s: %w", s.name, w.status, ctx.Err())
		case <-time.After(s.poll):
		}
	}
}

// final reports whether a stack in status is done with its operation.
func final(status string) bool {
	return strings.HasSuffix(status, "_COMPLETE") || strings.HasSuffix(status, "_FAILED")
}
