package main

import (
	"context"
	"fmt"

	berth "github.com/berth-run/berth"
)

// runSubmit runs `berth submit -f FILE`.
func runSubmit(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "submit", "submit -f FILE [-o json]\n\nFILE holds a job spec in JSON or YAML; - reads it from stdin.")
	var file string
	var out output
	fs.StringVar(&file, "f", "", "job spec `file` (JSON or YAML; - for stdin)")
	fs.StringVar(&file, "file", "", "job spec `file` (JSON or YAML; - for stdin)")
	addOutputFlag(fs, &out)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if file == "" || fs.NArg() > 0 {
		return usageError(env, fs, "want -f FILE and no other arguments")
	}
	var spec berth.JobSpec
	if err := readSpecFile(env, file, &spec); err != nil {
		return err
	}
	c, err := newClient(env)
	if err != nil {
		return err
	}
	job, created, err := c.SubmitJob(ctx, spec)
	if err != nil {
		return err
	}
	if !created {
		fmt.Fprintf(env.stderr, "berth submit: job %s already exists with idempotency key %q\n", job.ID, spec.IdempotencyKey)
	}
	if out.json() {
		return printJSON(env.stdout, job)
	}
	_, err = fmt.Fprintln(env.stdout, job.ID)
	return err
}
