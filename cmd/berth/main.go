// Command berth runs Docker containers on a fleet of machines at the lowest
// cost that still meets each job's deadline. One binary: the server, the node
// agent and the CLI.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/berth-run/berth/internal/agent"
	"github.com/berth-run/berth/internal/shim"
)

// command is one subcommand of berth.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *cliEnv, args []string) error
}

// cliEnv is what a command reads and writes besides its arguments.
type cliEnv struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	getenv         func(string) string
	now            func() time.Time // nil means time.Now
	// width is the number of columns of the terminal stdout writes to; tables
	// are fitted to it. 0 (not a terminal) leaves them untruncated.
	width int
}

// exitError carries a command's exit code without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func commands() []command {
	return []command{
		{"server", "run the berth server (API, scheduler and the local agent)", runServer},
		{"agent", "run the node agent: join a server and run its jobs on this host's engine", runAgent},
		{"run", "run a container and stream its output; exit with its exit code", runRun},
		{"submit", "submit a job from a JSON or YAML file", runSubmit},
		{"jobs", "list jobs", runJobs},
		{"status", "show a job and its attempts", runStatus},
		{"logs", "print a job's output", runLogs},
		{"cancel", "cancel jobs", runCancel},
		{"schedules", "list, create and delete cron schedules", runSchedules},
		{"nodes", "list nodes", runNodes},
		{"node", "show, drain, undrain or delete a node", runNode},
		{"pools", "list pools, their instances, autoscaling signal and join tokens", runPools},
		{"cost", "what the jobs cost, by pool, market, label or day", runCost},
		{"intake", "list the messages of the SQS intake queues that did not become jobs, and why", runIntake},
		{"token", "create, list and revoke scoped API tokens (admin, submit, read)", runToken},
		{"deploy", "deploy berth on AWS: deploy aws template|up|status|down|token, and user-data (an ec2 pool's boot script)", runDeploy},
		{"sim", "simulate berth's fleet over a scenario beside the baselines; sim deadline: deadline policies over Spot traces", runSim},
		{"version", "print berth's version", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := &cliEnv{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, getenv: os.Getenv,
		now: time.Now, width: terminalWidth(os.Stdout, os.Getenv)}
	code := run(ctx, env, os.Args[1:])
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the process exit code.
func run(ctx context.Context, env *cliEnv, args []string) int {
	if len(args) == 0 {
		usage(env.stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		usage(env.stdout)
		return 0
	case "--version", "-version":
		args = []string{"version"}
	case agent.ProbeCommand: // hidden: what the agent's probe container runs
		return agent.MetadataProbeMain(args[1:], env.stdout)
	case shim.Command: // hidden: what the agent's warm containers wait in
		return shim.Main(args[1:], env.stderr)
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, env, args[1:])
		var ee exitError
		var se subcommandError
		name := c.name
		if errors.As(err, &se) {
			name = se.name
		}
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ee):
			return ee.code
		default:
			fmt.Fprintf(env.stderr, "berth %s: %v\n", name, err)
			if errors.Is(err, syscall.ECONNREFUSED) {
				fmt.Fprintln(env.stderr, "is berth server running there? BERTH_ADDR says where it listens")
			}
			return 1
		}
	}
	fmt.Fprintf(env.stderr, "berth: unknown command %q; see berth help\n", args[0])
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "berth runs containers on a fleet at the lowest cost that meets their deadlines.\n\nUsage: berth COMMAND [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nberth COMMAND -h lists a command's flags.")
}

// subcommandError is the error of a subcommand, which run names in place
// of its command: "berth schedules create: ...".
type subcommandError struct {
	name string // "schedules create"
	err  error
}

func (e subcommandError) Error() string { return e.err.Error() }
func (e subcommandError) Unwrap() error { return e.err }

// subcommand names the subcommand name in err, unless it is nil.
func subcommand(name string, err error) error {
	if err == nil {
		return nil
	}
	return subcommandError{name, err}
}

// runSim dispatches the simulator's modes: berth sim --scenario FILE, and
// berth sim deadline.
func runSim(ctx context.Context, env *cliEnv, args []string) error {
	if len(args) > 0 && args[0] == "deadline" {
		return subcommand("sim deadline", runSimDeadline(ctx, env, args[1:]))
	}
	return runSimScenario(ctx, env, args)
}
