package main

import (
	"context"
	"fmt"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/client"
)

// runJobs runs `berth jobs`: a table of jobs, newest first.
func runJobs(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "jobs", "jobs [--state S] [--label k=v]... [--schedule ID] [--limit N] [--all] [-o json]")
	var q client.JobQuery
	var labels mapFlag
	var state string
	var all bool
	var out output
	fs.StringVar(&state, "state", "", "only jobs in this `state`: scheduled, queued, starting, running, succeeded, failed, cancelled")
	fs.Var(&labels, "label", "only jobs with label `KEY=VALUE` (repeatable; all must match)")
	fs.StringVar(&q.Schedule, "schedule", "", "only jobs created by this schedule `ID`")
	fs.IntVar(&q.Limit, "limit", 0, "jobs per page (default: the server's)")
	fs.StringVar(&q.Cursor, "cursor", "", "start at this page `cursor` of an earlier listing")
	fs.BoolVar(&all, "all", false, "list every page, not just the first")
	addOutputFlag(fs, &out)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(env, fs, "unexpected argument %q", fs.Arg(0))
	}
	q.State, q.Labels = berth.State(state), labels.m
	if state != "" && !q.State.Valid() {
		return usageError(env, fs, "--state %q is not a job state", state)
	}
	c, err := newClient(env)
	if err != nil {
		return err
	}
	var page client.JobPage
	for {
		p, err := c.ListJobs(ctx, q)
		if err != nil {
			return err
		}
		page.Jobs = append(page.Jobs, p.Jobs...)
		page.NextCursor = p.NextCursor
		if !all || p.NextCursor == "" {
			break
		}
		q.Cursor = p.NextCursor
	}
	if page.Jobs == nil {
		page.Jobs = []berth.Job{}
	}
	if out.json() {
		return printJSON(env.stdout, page)
	}
	if err := jobTable(page.Jobs, env).write(env.stdout, env.width); err != nil {
		return err
	}
	if page.NextCursor != "" {
		fmt.Fprintf(env.stderr, "more jobs: add --all, or --cursor %s\n", page.NextCursor)
	}
	return nil
}

func jobTable(jobs []berth.Job, env *cliEnv) *table {
	now := env.clock()
	t := newTable("ID", "NAME", "IMAGE", "STATE", "AGE", "REASON")
	for _, j := range jobs {
		t.add(j.ID, orDash(j.Name), j.Image, string(j.State), age(now, j.CreatedAt), oneLine(j.Reason))
	}
	return t
}

// orDash stands in "-" for an empty cell.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
