package main

import (
	"fmt"

	"github.com/berth-run/berth/internal/deploy/cfn"
)

// deployTemplate prints the CloudFormation template of the stack that
// runs a deploy file, or with --estimate what the stack costs a month
// before any job runs.
func deployTemplate(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "deploy aws template", "deploy aws template --config FILE [--stack NAME] [-o json|yaml] [--estimate] [--retain-data]")
	var opt cfn.Options
	var file, format string
	var estimate bool
	fs.StringVar(&file, "config", "", "the deploy `file`: berth.yaml's pools and an aws: section (see docs/aws.md)")
	fs.StringVar(&opt.Stack, "stack", cfn.DefaultStack, "the stack's `name`, also the cluster's (the berth.cluster tag of what it launches)")
	fs.StringVar(&format, "o", "json", "`format` of the template: json or yaml")
	fs.BoolVar(&estimate, "estimate", false, "print the fixed monthly cost of what the stack runs, with the prices it assumes, instead of the template")
	fs.BoolVar(&opt.RetainData, "retain-data", false, "keep the DynamoDB tables when the stack is deleted")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usageError(env, fs, "unexpected argument %q", fs.Arg(0))
	case file == "":
		return usageError(env, fs, "--config is required")
	case format != "json" && format != "yaml":
		return usageError(env, fs, "-o %q: want json or yaml", format)
	}
	f, err := cfn.Load(file)
	if err != nil {
		return err
	}
	t, err := cfn.Build(f, opt)
	if err != nil {
		return err
	}
	if estimate {
		_, err := fmt.Fprint(env.stdout, cfn.Estimate(t, f).String())
		return err
	}
	out, err := t.JSON()
	if format == "yaml" {
		out, err = t.YAML()
	}
	if err != nil {
		return err
	}
	_, err = env.stdout.Write(out)
	return err
}
