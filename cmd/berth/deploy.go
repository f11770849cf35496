package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/deploy/userdata"
)

// runDeploy runs `berth deploy aws ...`: what deploying berth on AWS needs.
func runDeploy(ctx context.Context, env *cliEnv, args []string) error {
	const usage = "usage: berth deploy aws template|up --config FILE [flags] | status|down|token [--stack NAME] | user-data --pool NAME --server URL [flags]"
	if len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		fmt.Fprintln(env.stderr, usage)
		return nil
	}
	if len(args) < 2 || args[0] != "aws" {
		fmt.Fprintln(env.stderr, usage)
		return exitError{2}
	}
	switch args[1] {
	case "user-data":
		return subcommand("deploy aws user-data", deployUserData(env, args[2:]))
	case "template":
		return subcommand("deploy aws template", deployTemplate(env, args[2:]))
	case "up":
		return subcommand("deploy aws up", deployUp(ctx, env, args[2:]))
	case "status":
		return subcommand("deploy aws status", deployStatus(ctx, env, args[2:]))
	case "down":
		return subcommand("deploy aws down", deployDown(ctx, env, args[2:]))
	case "token":
		return subcommand("deploy aws token", deployToken(ctx, env, args[2:]))
	}
	fmt.Fprintf(env.stderr, "berth deploy aws: unknown subcommand %q; want template, up, status, down, token or user-data\n", args[1])
	return exitError{2}
}

var ssmNameRe = regexp.MustCompile(`^/[A-Za-z0-9_./-]+$`)

// deployUserData prints the user data (a cloud-init shell script) of an
// ec2 pool's launch template: it reads the pool's join token from SSM
// Parameter Store, downloads berth from the server and checks its
// SHA-256, and runs the agent as a systemd unit that restarts always.
func deployUserData(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "deploy aws user-data", "deploy aws user-data --pool NAME --server URL [--ca-file F] [--cluster NAME] [--region R] [--parameter NAME] [--interruption-grace 90s]")
	var d userdata.Agent
	var caFile string
	fs.StringVar(&d.Pool, "pool", "", "the `name` of the ec2 pool whose instances run it")
	fs.StringVar(&d.Server, "server", env.getenv("BERTH_SERVER"), "the server's `URL` as the instances reach it (its --advertise-url)")
	fs.StringVar(&caFile, "ca-file", "", "`file` of the CA (PEM) that signed the server's certificate, written into the script")
	fs.StringVar(&d.Cluster, "cluster", "berth", "the server's cluster `name` (berth server --cluster)")
	fs.StringVar(&d.Region, "region", "", "the `region` of the SSM parameter (default: the instance's)")
	fs.StringVar(&d.Parameter, "parameter", "", "the SSM `parameter` (SecureString) holding the pool's join token (default /berth/CLUSTER/POOL/join-token)")
	fs.StringVar(&d.OrphanAfter, "orphan-after", "15m", "power the instance off once the server has been unreachable this `long` and nothing runs (0: never)")
	fs.StringVar(&d.InterruptionGrace, "interruption-grace", "90s", "SIGTERM to SIGKILL of the containers once a Spot notice came: the pool's interruption_grace (at most 2m)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(env, fs, "unexpected argument %q", fs.Arg(0))
	}
	switch err := (berth.PoolSpec{Name: d.Pool, Provider: berth.ProviderLocal}).Validate(); {
	case d.Pool == "":
		return usageError(env, fs, "--pool is required")
	case err != nil:
		return usageError(env, fs, "--pool: %v", err)
	case !clusterNameRe.MatchString(d.Cluster):
		return usageError(env, fs, "--cluster %q: want lower-case letters, digits and -, at most 63", d.Cluster)
	case d.Region != "" && !regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`).MatchString(d.Region):
		return usageError(env, fs, "--region %q is not an AWS region such as us-east-1", d.Region)
	}
	u, err := url.Parse(d.Server)
	if d.Server == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || strings.ContainsAny(d.Server, "'\"\\ \n$`") {
		return usageError(env, fs, "--server %q: want the server's URL as the instances reach it, such as https://10.0.0.1:7070", d.Server)
	}
	if u.Scheme == "http" {
		fmt.Fprintln(env.stderr, "berth deploy aws user-data: the server is plain HTTP: the join token and the agent's credential cross the network in clear")
	}
	if d.Parameter == "" {
		d.Parameter = userdata.ParameterName(d.Cluster, d.Pool)
	}
	if !ssmNameRe.MatchString(d.Parameter) || len(d.Parameter) > 1011 {
		return usageError(env, fs, "--parameter %q is not an SSM parameter name such as /berth/prod/spot/join-token", d.Parameter)
	}
	if d.OrphanAfter != "0" {
		if _, err := berth.ParseDuration(d.OrphanAfter); err != nil {
			return usageError(env, fs, "--orphan-after: %v", err)
		}
	}
	if g, err := berth.ParseDuration(d.InterruptionGrace); err != nil || g < 0 || g > berth.SpotNotice {
		return usageError(env, fs, "--interruption-grace %q: want a duration between 0s and %s, the Spot notice", d.InterruptionGrace, berth.ShortDuration(berth.SpotNotice))
	}
	if caFile != "" {
		b, err := os.ReadFile(caFile)
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), "-----BEGIN CERTIFICATE-----") || strings.Contains(string(b), "BERTH_CA_END") {
			return fmt.Errorf("--ca-file %s: not a PEM certificate", caFile)
		}
		d.CA = strings.TrimSpace(string(b))
	}
	return userdata.Write(env.stdout, d)
}
