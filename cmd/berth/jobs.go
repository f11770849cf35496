package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/client"
)

// runJobs runs `berth jobs`: a table of jobs, newest first.
func runJobs(ctx context.Context, env *cliEnv, args []string) error {
	var q client.JobQuery
	var labels mapFlag
	var state string
	return listing[berth.Job]{
		name:     "jobs",
		synopsis: "jobs [--state S] [--label k=v]... [--schedule ID] [--limit N] [--all] [-o json]",
		key:      "jobs",
		paged:    true,
		header:   []string{"ID", "NAME", "IMAGE", "STATE", "AGE", "REASON"},
		row: func(now time.Time, j berth.Job) []string {
			return []string{j.ID, orDash(j.Name), j.Image, string(j.State), age(now, j.CreatedAt), oneLine(j.Reason)}
		},
		fit: true,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&state, "state", "", "only jobs in this `state`: scheduled, queued, starting, running, succeeded, failed, cancelled")
			fs.Var(&labels, "label", "only jobs with label `KEY=VALUE` (repeatable; all must match)")
			fs.StringVar(&q.Schedule, "schedule", "", "only jobs created by this schedule `ID`")
		},
		check: func() error {
			q.State, q.Labels = berth.State(state), labels.m
			if state != "" && !q.State.Valid() {
				return fmt.Errorf("--state %q is not a job state", state)
			}
			return nil
		},
		fetch: func(ctx context.Context, c *client.Client, _ []string, cursor string, limit int) ([]berth.Job, string, error) {
			q.Cursor, q.Limit = cursor, limit
			p, err := c.ListJobs(ctx, q)
			return p.Jobs, p.NextCursor, err
		},
	}.run(ctx, env, args)
}

// orDash stands in "-" for an empty cell.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
