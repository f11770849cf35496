package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-run/berth/internal/provider/fargate"
)

// deployDown deletes the stack and what its cluster launched: first the
// instances tagged with the cluster and the Fargate tasks berth started
// on its ECS cluster, waiting until they are gone, then the stack; then
// it lists what of the cluster still exists, and exits 1 if anything
// does.
func deployDown(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "deploy aws down", "deploy aws down [--stack NAME] [--region R] [--retain-data] [--wait 30m]")
	var s stackOps
	var region string
	var retain bool
	var wait time.Duration
	stackFlags(fs, &s, &region)
	fs.BoolVar(&retain, "retain-data", false, "keep the DynamoDB tables: the stack is first updated to retain them (DeletionPolicy Retain)")
	fs.DurationVar(&wait, "wait", 30*time.Minute, "how `long` to wait for the instances, the tasks and the stack to be gone")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(env, fs, "unexpected argument %q", fs.Arg(0))
	}
	if err := s.connect(ctx, env, region); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	st, err := s.describe(ctx, s.name)
	if err != nil {
		return err
	}
	if st != nil {
		if err := s.checkOwner(st); err != nil {
			return err
		}
		if retain {
			if err := s.retainTables(ctx, st); err != nil {
				return err
			}
		}
	} else {
		fmt.Fprintf(s.out, "no stack %s: looking for what its cluster left\n", s.name)
	}
	var problems []string
	if err := s.terminateInstances(ctx); err != nil {
		problems = append(problems, err.Error())
	}
	if err := s.stopTasks(ctx); err != nil {
		problems = append(problems, err.Error())
	}
	if st != nil {
		w, err := s.deleteStack(ctx, aws.ToString(st.StackId))
		switch {
		case err != nil:
			problems = append(problems, err.Error())
		case w.status != "DELETE_COMPLETE":
			problems = append(problems, s.failed(w).Error())
		}
		for _, e := range w.skipped {
			what := fmt.Sprintf("%s %s (%s, DeletionPolicy Retain)", aws.ToString(e.ResourceType), aws.ToString(e.PhysicalResourceId), aws.ToString(e.LogicalResourceId))
			if retain && aws.ToString(e.ResourceType) == "AWS::DynamoDB::Table" {
				fmt.Fprintf(s.out, "kept, as --retain-data asks: %s\n", what)
				continue
			}
			problems = append(problems, "kept: "+what)
		}
	}
	left, err := s.leftovers(ctx)
	if err != nil {
		return err
	}
	problems = append(problems, left...)
	if len(problems) > 0 {
		fmt.Fprintf(env.stderr, "berth deploy aws down: cluster %s is not all gone; what may still be billing:\n", s.name)
		for _, p := range problems {
			fmt.Fprintf(env.stderr, "  %s\n", p)
		}
		return exitError{1}
	}
	fmt.Fprintf(s.out, "cluster %s is gone: no stack, no instance, no task\n", s.name)
	return nil
}

// retainTables updates the stack, its template and parameters as they
// are, with DeletionPolicy Retain on its DynamoDB tables.
func (s *stackOps) retainTables(ctx context.Context, st *cfntypes.Stack) error {
	switch st.StackStatus {
	case cfntypes.StackStatusReviewInProgress, cfntypes.StackStatusRollbackComplete:
		return nil // it holds no resource: it made none, or rolled them back
	}
	out, err := s.cfn.GetTemplate(ctx, &cloudformation.GetTemplateInput{StackName: st.StackId})
	if err != nil {
		return fmt.Errorf("template of %s: %w", s.name, err)
	}
	var t map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(out.TemplateBody)), &t); err != nil {
		return fmt.Errorf("template of %s: not the JSON berth writes: %w", s.name, err)
	}
	res, _ := t["Resources"].(map[string]any)
	changed := false
	for _, r := range res {
		if m, _ := r.(map[string]any); m["Type"] == "AWS::DynamoDB::Table" && m["DeletionPolicy"] != "Retain" {
			m["DeletionPolicy"], m["UpdateReplacePolicy"], changed = "Retain", "Retain", true
		}
	}
	if !changed {
		return nil
	}
	body, err := json.Marshal(t)
	if err != nil {
		return err
	}
	var params []cfntypes.Parameter
	for _, p := range st.Parameters {
		params = append(params, cfntypes.Parameter{ParameterKey: p.ParameterKey, UsePreviousValue: aws.Bool(true)})
	}
	fmt.Fprintf(s.out, "updating %s to retain its tables\n", s.name)
	cs, err := s.cfn.CreateChangeSet(ctx, &cloudformation.CreateChangeSetInput{
		StackName: st.StackId, ChangeSetName: aws.String(fmt.Sprintf("berth-retain-%d", time.Now().UnixNano())),
		ChangeSetType: cfntypes.ChangeSetTypeUpdate, TemplateBody: aws.String(string(body)), Parameters: params,
		Capabilities: st.Capabilities, Tags: st.Tags,
	})
	if err != nil {
		return fmt.Errorf("create change set of %s: %w", s.name, err)
	}
	if ready, err := s.changeSetReady(ctx, aws.ToString(cs.Id)); err != nil || !ready {
		return err
	}
	after, err := s.lastEvent(ctx, aws.ToString(st.StackId))
	if err != nil {
		return err
	}
	if _, err := s.cfn.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{ChangeSetName: cs.Id}); err != nil {
		return fmt.Errorf("execute change set of %s: %w", s.name, err)
	}
	w, err := s.watch(ctx, aws.ToString(st.StackId), after)
	if err != nil {
		return err
	}
	if w.status != "UPDATE_COMPLETE" {
		return s.failed(w)
	}
	return nil
}

// clusterInstances returns the instances tagged with the cluster that
// are not terminated, shutting-down ones included.
func (s *stackOps) clusterInstances(ctx context.Context) ([]ec2types.Instance, error) {
	in := &awsec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + clusterTag), Values: []string{s.name}},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "shutting-down", "stopping", "stopped"}},
	}}
	var out []ec2types.Instance
	for {
		page, err := s.ec2.DescribeInstances(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("describe the instances of cluster %s: %w", s.name, err)
		}
		for _, r := range page.Reservations {
			out = append(out, r.Instances...)
		}
		if aws.ToString(page.NextToken) == "" {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}

// terminateInstances terminates the cluster's instances and waits until
// none is left but terminated.
func (s *stackOps) terminateInstances(ctx context.Context) error {
	for {
		live, err := s.clusterInstances(ctx)
		if err != nil {
			return err
		}
		var ids []string
		for _, in := range live {
			if in.State.Name != ec2types.InstanceStateNameShuttingDown {
				ids = append(ids, aws.ToString(in.InstanceId))
			}
		}
		if len(live) == 0 {
			return nil
		}
		for chunk := range slices.Chunk(ids, 1000) {
			fmt.Fprintf(s.out, "terminating %d instance(s) of cluster %s: %s\n", len(chunk), s.name, strings.Join(chunk, " "))
			if _, err := s.ec2.TerminateInstances(ctx, &awsec2.TerminateInstancesInput{InstanceIds: chunk}); err != nil {
				return fmt.Errorf("terminate instances %s: %w", strings.Join(chunk, " "), err)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("instances of cluster %s still not terminated: %w", s.name, ctx.Err())
		case <-time.After(s.poll):
		}
	}
}

// clusterTasks returns the tasks berth started on the cluster's ECS
// cluster that have not stopped; none when there is no such cluster.
func (s *stackOps) clusterTasks(ctx context.Context, desired ecstypes.DesiredStatus) ([]string, error) {
	var arns []string
	p := ecs.NewListTasksPaginator(s.ecs, &ecs.ListTasksInput{Cluster: aws.String(s.name), StartedBy: aws.String(fargate.StartedBy), DesiredStatus: desired})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if apiCode(err) == "ClusterNotFoundException" {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list the tasks of ECS cluster %s: %w", s.name, err)
		}
		arns = append(arns, page.TaskArns...)
	}
	return arns, nil
}

// stopTasks stops the Fargate tasks berth started on the cluster and
// waits until every one has stopped.
func (s *stackOps) stopTasks(ctx context.Context) error {
	running, err := s.clusterTasks(ctx, ecstypes.DesiredStatusRunning)
	if err != nil {
		return err
	}
	if len(running) > 0 {
		fmt.Fprintf(s.out, "stopping %d Fargate task(s) of cluster %s\n", len(running), s.name)
	}
	for _, arn := range running {
		if _, err := s.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(s.name), Task: aws.String(arn), Reason: aws.String("berth deploy aws down")}); err != nil {
			return fmt.Errorf("stop task %s: %w", arn, err)
		}
	}
	for {
		live, err := s.liveTasks(ctx)
		if err != nil || len(live) == 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("tasks of cluster %s still not stopped: %w", s.name, ctx.Err())
		case <-time.After(s.poll):
		}
	}
}

// liveTasks returns the tasks berth started on the cluster that have not
// stopped yet, stopping ones included.
func (s *stackOps) liveTasks(ctx context.Context) ([]string, error) {
	var live []string
	for _, desired := range []ecstypes.DesiredStatus{ecstypes.DesiredStatusRunning, ecstypes.DesiredStatusStopped} {
		arns, err := s.clusterTasks(ctx, desired)
		if err != nil {
			return nil, err
		}
		for chunk := range slices.Chunk(arns, 100) {
			out, err := s.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(s.name), Tasks: chunk})
			if err != nil {
				return nil, fmt.Errorf("describe the tasks of ECS cluster %s: %w", s.name, err)
			}
			for _, t := range out.Tasks {
				if aws.ToString(t.LastStatus) != "STOPPED" {
					live = append(live, aws.ToString(t.TaskArn))
				}
			}
		}
	}
	return live, nil
}

// deleteStack deletes the stack and watches it go.
func (s *stackOps) deleteStack(ctx context.Context, id string) (watched, error) {
	after, err := s.lastEvent(ctx, id)
	if err != nil {
		return watched{}, err
	}
	if _, err := s.cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(id)}); err != nil {
		return watched{}, fmt.Errorf("delete stack %s: %w", s.name, err)
	}
	return s.watch(ctx, id, after)
}

// leftovers lists what of the cluster still exists: instances not
// terminated and tasks not stopped.
func (s *stackOps) leftovers(ctx context.Context) ([]string, error) {
	var out []string
	live, err := s.clusterInstances(ctx)
	if err != nil {
		return nil, err
	}
	for _, in := range live {
		out = append(out, fmt.Sprintf("instance %s (%s, %s)", aws.ToString(in.InstanceId), in.InstanceType, in.State.Name))
	}
	tasks, err := s.liveTasks(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range tasks {
		out = append(out, "Fargate task "+t)
	}
	return out, nil
}
