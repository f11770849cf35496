package main

import (
	"context"
	"io"
)

// runLogs runs `berth logs [-f] ID`.
func runLogs(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "logs", "logs [-f] ID")
	var follow bool
	fs.BoolVar(&follow, "f", false, "follow: keep printing until the job finishes")
	fs.BoolVar(&follow, "follow", false, "follow: keep printing until the job finishes")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError(env, fs, "want one job ID")
	}
	c, err := newClient(env)
	if err != nil {
		return err
	}
	rc, err := c.Logs(ctx, fs.Arg(0), follow)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(env.stdout, rc)
	if ctx.Err() != nil {
		return exitError{exitInterrupted}
	}
	return err
}
