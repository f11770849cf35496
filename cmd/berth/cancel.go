package main

import (
	"context"
	"fmt"
	"strings"
)

// runCancel runs `berth cancel ID...`, printing the id of each job it
// cancelled.
func runCancel(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "cancel", "cancel ID...")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError(env, fs, "want at least one job ID")
	}
	c, err := newClient(env)
	if err != nil {
		return err
	}
	failed := 0
	for _, id := range fs.Args() {
		job, err := c.CancelJob(ctx, id)
		if err != nil {
			fmt.Fprintf(env.stderr, "berth cancel: %s\n", aboutID(id, err))
			failed++
			continue
		}
		fmt.Fprintln(env.stdout, job.ID)
	}
	if failed > 0 {
		return exitError{1}
	}
	return nil
}

// aboutID words err about the object id: the error as it is when it names
// id already ("job job_x: not found"), else prefixed with id.
func aboutID(id string, err error) string {
	if strings.Contains(err.Error(), id) {
		return err.Error()
	}
	return id + ": " + err.Error()
}
