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
}

// exitError carries a command's exit code without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func commands() []command {
	return []command{
		{"server", "run the berth server (API, scheduler and the local agent)", runServer},
		{"sim", "simulate scheduling policies over traces (sim deadline)", runSim},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := &cliEnv{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, getenv: os.Getenv}
	code := run(ctx, env, os.Args[1:])
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the process exit code.
func run(ctx context.Context, env *cliEnv, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(env.stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, env, args[1:])
		var ee exitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ee):
			return ee.code
		default:
			fmt.Fprintf(env.stderr, "berth %s: %v\n", c.name, err)
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
}

// runSim dispatches the simulator's modes.
func runSim(ctx context.Context, env *cliEnv, args []string) error {
	if len(args) > 0 && args[0] == "deadline" {
		return runSimDeadline(ctx, env, args[1:])
	}
	return errors.New("usage: berth sim deadline [flags]")
}
