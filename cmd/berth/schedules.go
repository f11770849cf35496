package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/client"
)

// runSchedules runs `berth schedules [list|create|delete]`.
func runSchedules(ctx context.Context, env *cliEnv, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "create":
			return subcommand("schedules create", createSchedule(ctx, env, args[1:]))
		case "delete", "rm":
			return subcommand("schedules delete", deleteSchedules(ctx, env, args[1:]))
		case "list", "ls":
			args = args[1:]
		default:
			if !strings.HasPrefix(args[0], "-") {
				fmt.Fprintf(env.stderr, "berth schedules: unknown subcommand %q; want list, create or delete\n", args[0])
				return exitError{2}
			}
		}
	}
	return listing[berth.Schedule]{
		name:     "schedules",
		synopsis: "schedules [list] [-o json]\n       berth schedules create -h\n       berth schedules delete ID...",
		key:      "schedules",
		header:   []string{"ID", "NAME", "CRON", "TIME ZONE", "CONCURRENCY", "NEXT RUN", "LAST RUN", "LAST JOB"},
		row:      scheduleRow,
		fit:      false, // every column is an id or short: none is cut
		fetch: func(ctx context.Context, c *client.Client, _ []string, _ string, _ int) ([]berth.Schedule, string, error) {
			list, err := c.Schedules(ctx)
			return list, "", err
		},
	}.run(ctx, env, args)
}

func scheduleRow(now time.Time, s berth.Schedule) []string {
	next, last := "-", "-"
	if !s.NextRunAt.IsZero() {
		next = "in " + age(s.NextRunAt, now)
	}
	if s.LastRunAt != nil {
		last = age(now, *s.LastRunAt) + " ago"
	}
	return []string{s.ID, orDash(s.Name), s.Cron, orDash(s.TimeZone), orDash(string(s.Concurrency)), next, last, orDash(s.LastJobID)}
}

// createSchedule runs `berth schedules create`.
func createSchedule(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "schedules create", "schedules create -f FILE [-o json]\n       berth schedules create --cron EXPR [--time-zone TZ] [--concurrency allow|forbid|replace] [--name N] [job flags] IMAGE [-- CMD ARGS...]")
	var file, name, tz, conc string
	var spec berth.ScheduleSpec
	var jf jobFlags
	var out output
	fs.StringVar(&file, "f", "", "schedule spec `file` (JSON or YAML; - for stdin)")
	fs.StringVar(&file, "file", "", "schedule spec `file` (JSON or YAML; - for stdin)")
	fs.StringVar(&spec.Cron, "cron", "", "cron `expression`: 5 fields, or @hourly, @daily, ...")
	fs.StringVar(&tz, "time-zone", "", "IANA time `zone` of the cron expression (default UTC)")
	fs.StringVar(&conc, "concurrency", "", "when a run is due while the last one runs: allow, forbid or replace (default allow)")
	fs.StringVar(&name, "name", "", "`name` of the schedule and of its jobs")
	jf.register(fs, jobFlagSet{}, env.getenv)
	addOutputFlag(fs, &out)
	if err := parseCommandFlags(fs, args); err != nil {
		return err
	}
	if file != "" {
		if other := otherFlag(fs, "f", "file", "o", "output"); other != "" || fs.NArg() > 0 {
			return usageError(env, fs, "-f takes the whole schedule from the file: give no other flags or arguments")
		}
		if err := readSpecFile(env, file, &spec); err != nil {
			return err
		}
	} else {
		if spec.Cron == "" {
			return usageError(env, fs, "want -f FILE, or --cron EXPR and an IMAGE")
		}
		image, command, ok := imageAndCommand(fs.Args())
		if !ok {
			return usageError(env, fs, "an IMAGE is required")
		}
		job, err := jf.spec(image, command)
		if err != nil {
			return usageError(env, fs, "%v", err)
		}
		job.Name = name
		spec.Name, spec.TimeZone, spec.Concurrency, spec.Job = name, tz, berth.Concurrency(conc), job
	}
	c, err := newClient(env)
	if err != nil {
		return err
	}
	s, err := c.CreateSchedule(ctx, spec)
	if err != nil {
		return err
	}
	if out.json() {
		return printJSON(env.stdout, s)
	}
	_, err = fmt.Fprintln(env.stdout, s.ID)
	return err
}

// otherFlag returns the name of a flag set on the command line other than
// those allowed, or "".
func otherFlag(fs *flag.FlagSet, allowed ...string) string {
	other := ""
	fs.Visit(func(f *flag.Flag) {
		for _, a := range allowed {
			if f.Name == a {
				return
			}
		}
		other = f.Name
	})
	return other
}

// deleteSchedules runs `berth schedules delete ID...`.
func deleteSchedules(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "schedules delete", "schedules delete ID...")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError(env, fs, "want at least one schedule ID")
	}
	c, err := newClient(env)
	if err != nil {
		return err
	}
	failed := 0
	for _, id := range fs.Args() {
		if err := c.DeleteSchedule(ctx, id); err != nil {
			fmt.Fprintf(env.stderr, "berth schedules delete: %s\n", aboutID(id, err))
			failed++
			continue
		}
		fmt.Fprintln(env.stdout, id)
	}
	if failed > 0 {
		return exitError{1}
	}
	return nil
}
