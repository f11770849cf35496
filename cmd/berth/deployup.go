package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/berth-run/berth/internal/deploy/cfn"
)

// maxTemplateBody is the largest template CloudFormation takes in a
// request; a larger one must go through S3.
const maxTemplateBody = 51200

// paramFlag is --param KEY=VALUE, repeated.
type paramFlag map[string]string

func (p paramFlag) String() string { return "" }

func (p paramFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, such as BerthUrl=https://example.com/berth")
	}
	p[k] = v
	return nil
}

// deployUp creates or updates the stack of a deploy file through a change
// set, printing its events as they arrive.
func deployUp(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "deploy aws up", "deploy aws up --config FILE [--stack NAME] [--param KEY=VALUE ...] [--retain-data]")
	var s stackOps
	var file, region string
	params := paramFlag{}
	var opt cfn.Options
	fs.StringVar(&file, "config", "", "the deploy `file`: berth.yaml's pools and an aws: section (see docs/aws.md)")
	stackFlags(fs, &s, &region)
	fs.Var(params, "param", "a stack parameter as `KEY=VALUE` (VpcId, Subnets, BerthUrl, BerthSha256, ...); repeat it; an update keeps the values not given")
	fs.BoolVar(&opt.RetainData, "retain-data", false, "keep the DynamoDB tables when the stack is deleted (DeletionPolicy Retain)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usageError(env, fs, "unexpected argument %q", fs.Arg(0))
	case file == "":
		return usageError(env, fs, "--config is required")
	}
	f, err := cfn.Load(file)
	if err != nil {
		return err
	}
	opt.Stack = s.name
	t, err := cfn.Build(f, opt)
	if err != nil {
		return err
	}
	body, err := compactTemplate(t)
	if err != nil {
		return err
	}
	for k := range params {
		if _, ok := t.Parameters[k]; !ok {
			return usageError(env, fs, "--param %s: the template has no such parameter; it has %s", k, strings.Join(slices.Sorted(maps.Keys(t.Parameters)), ", "))
		}
	}
	if region == "" {
		region = f.AWS.Region
	}
	if err := s.connect(ctx, env, region); err != nil {
		return err
	}
	return s.up(ctx, t, body, params)
}

// compactTemplate renders t as compact JSON, within what CloudFormation
// takes in a request.
func compactTemplate(t *cfn.Template) (string, error) {
	j, err := t.JSON()
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := json.Compact(&b, j); err != nil {
		return "", fmt.Errorf("render template: %w", err)
	}
	if b.Len() > maxTemplateBody {
		return "", fmt.Errorf("the template is %d bytes, more than the %d CloudFormation takes in a request", b.Len(), maxTemplateBody)
	}
	return b.String(), nil
}

// up makes the change set of the stack, executes it and watches it.
func (s *stackOps) up(ctx context.Context, t *cfn.Template, body string, given map[string]string) error {
	st, err := s.describe(ctx, s.name)
	if err != nil {
		return err
	}
	typ := cfntypes.ChangeSetTypeCreate
	prev := map[string]bool{}
	if st != nil {
		if err := s.checkOwner(st); err != nil {
			return err
		}
		switch status := string(st.StackStatus); {
		case status == "ROLLBACK_COMPLETE" || status == "ROLLBACK_FAILED" || status == "DELETE_FAILED":
			return fmt.Errorf("stack %s is %s from a failed creation or deletion: delete it (berth deploy aws down --stack %[1]s), then up again", s.name, status)
		case status == "REVIEW_IN_PROGRESS":
		case strings.HasSuffix(status, "_IN_PROGRESS"):
			return fmt.Errorf("stack %s is %s: wait until it ends (berth deploy aws status --stack %[1]s)", s.name, status)
		default:
			typ = cfntypes.ChangeSetTypeUpdate
			for _, p := range st.Parameters {
				prev[aws.ToString(p.ParameterKey)] = true
			}
		}
	}
	params, err := stackParams(t, given, prev)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("berth-%d", time.Now().UnixNano())
	cs, err := s.cfn.CreateChangeSet(ctx, &cloudformation.CreateChangeSetInput{
		StackName: aws.String(s.name), ChangeSetName: aws.String(name), ChangeSetType: typ,
		TemplateBody: aws.String(body), Parameters: params,
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityNamedIam},
		Tags:         []cfntypes.Tag{{Key: aws.String(clusterTag), Value: aws.String(s.name)}},
		Description:  aws.String("berth deploy aws up"),
	})
	if err != nil {
		return fmt.Errorf("create change set of %s: %w", s.name, err)
	}
	ready, err := s.changeSetReady(ctx, aws.ToString(cs.Id))
	if err != nil || !ready {
		return err
	}
	after := ""
	if typ == cfntypes.ChangeSetTypeUpdate {
		if after, err = s.lastEvent(ctx, aws.ToString(cs.StackId)); err != nil {
			return err
		}
	}
	if _, err := s.cfn.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{ChangeSetName: cs.Id}); err != nil {
		return fmt.Errorf("execute change set of %s: %w", s.name, err)
	}
	w, err := s.watch(ctx, aws.ToString(cs.StackId), after)
	if err != nil {
		return err
	}
	if w.status != "CREATE_COMPLETE" && w.status != "UPDATE_COMPLETE" {
		return s.failed(w)
	}
	fmt.Fprintf(s.out, "stack %s: %s\n", s.name, w.status)
	return nil
}

// failed is the error of an operation that ended in w: the first
// resource that failed and its reason.
func (s *stackOps) failed(w watched) error {
	if w.failure == nil {
		return fmt.Errorf("stack %s ended %s", s.name, w.status)
	}
	e := w.failure
	return fmt.Errorf("stack %s: %s (%s) %s: %s; the stack is %s", s.name, aws.ToString(e.LogicalResourceId), aws.ToString(e.ResourceType),
		e.ResourceStatus, aws.ToString(e.ResourceStatusReason), w.status)
}

// stackParams returns the parameters of the change set: those given,
// the previous value of the others the stack had, and an error naming
// those without a default that have neither, before anything is made.
func stackParams(t *cfn.Template, given map[string]string, prev map[string]bool) ([]cfntypes.Parameter, error) {
	var out []cfntypes.Parameter
	var missing []string
	for _, k := range slices.Sorted(maps.Keys(t.Parameters)) {
		switch v, ok := given[k]; {
		case ok:
			out = append(out, cfntypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v)})
		case prev[k]:
			out = append(out, cfntypes.Parameter{ParameterKey: aws.String(k), UsePreviousValue: aws.Bool(true)})
		case t.Parameters[k].Default == nil:
			missing = append(missing, "--param "+k+"=...")
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the stack needs %s (%s): see docs/aws.md", strings.Join(missing, ", "), "no default, nor a previous value")
	}
	return out, nil
}

// changeSetReady waits until the change set is made, and reports whether
// it has changes to execute: one without any is no error.
func (s *stackOps) changeSetReady(ctx context.Context, id string) (bool, error) {
	for {
		cs, err := s.cfn.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: aws.String(id)})
		if err != nil {
			return false, fmt.Errorf("describe change set of %s: %w", s.name, err)
		}
		switch reason := aws.ToString(cs.StatusReason); cs.Status {
		case cfntypes.ChangeSetStatusCreateComplete:
			counts := map[cfntypes.ChangeAction]int{}
			for _, c := range cs.Changes {
				if c.ResourceChange != nil {
					counts[c.ResourceChange.Action]++
				}
			}
			fmt.Fprintf(s.out, "change set %s: %d to add, %d to modify, %d to remove\n", aws.ToString(cs.ChangeSetName),
				counts[cfntypes.ChangeActionAdd], counts[cfntypes.ChangeActionModify], counts[cfntypes.ChangeActionRemove])
			return true, nil
		case cfntypes.ChangeSetStatusFailed:
			if strings.Contains(reason, "didn't contain changes") || strings.Contains(reason, "No updates are to be performed") {
				fmt.Fprintf(s.out, "stack %s is up to date: nothing to change\n", s.name)
				return false, nil
			}
			return false, fmt.Errorf("change set of %s failed: %s", s.name, reason)
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(s.poll):
		}
	}
}
