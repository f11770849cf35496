package main

import (
	"flag"
	"fmt"
	"time"

	berth "github.com/berth-run/berth"
)

// jobFlags are the flags that describe a job, shared by run and
// schedules create.
type jobFlags struct {
	name           string
	cpu            float64
	memory         memoryFlag
	pids           int64
	env            mapFlag
	secretEnv      secretFlag
	labels         mapFlag
	timeout        time.Duration
	retries        int
	retryBackoff   time.Duration
	retryOn        intsFlag
	priority       int
	runAt          string
	callbackURL    string
	idempotencyKey string
	deadline       string
	expected       time.Duration
	checkpoint     string
	pool           string
	startBudget    string
}

// jobFlagSet says which of the job flags a command takes.
type jobFlagSet struct {
	name bool // --name names the job (schedules create names the schedule)
	once bool // --run-at and --idempotency-key, for one job (not a schedule's)
}

// register adds the flags to fs. A bare -e KEY takes its value from getenv.
func (f *jobFlags) register(fs *flag.FlagSet, set jobFlagSet, getenv func(string) string) {
	if set.name {
		fs.StringVar(&f.name, "name", "", "job `name`")
	}
	fs.Float64Var(&f.cpu, "cpu", 0, "vCPUs to reserve, fractional (default 0.5)")
	fs.Var(&f.memory, "m", "memory limit: a `size` such as 512m or 2g; a plain number is MiB (default 256 MiB)")
	fs.Var(&f.memory, "memory", "memory limit: a `size` such as 512m or 2g; a plain number is MiB (default 256 MiB)")
	fs.Int64Var(&f.pids, "pids-limit", 0, "most processes and threads the container may run at once, as docker run --pids-limit (default 4096)")
	f.env.lookup = getenv
	fs.Var(&f.env, "e", "set environment variable `KEY=VALUE` (repeatable; KEY alone copies it from here)")
	fs.Var(&f.env, "env", "set environment variable `KEY=VALUE` (repeatable)")
	f.secretEnv.lookup = getenv
	fs.Var(&f.secretEnv, "secret-env", "set environment variable `NAME=VALUE` that berth keeps encrypted and never shows; NAME alone copies it from here, "+
		"VALUE ssm:/PARAMETER or a Secrets Manager ARN is read by the node as the container starts (repeatable)")
	fs.Var(&f.labels, "label", "add label `KEY=VALUE` (repeatable)")
	fs.DurationVar(&f.timeout, "timeout", 0, "stop the job after this `duration` (default none)")
	fs.IntVar(&f.retries, "retries", 0, "retry a failed job up to `N` times")
	fs.DurationVar(&f.retryBackoff, "retry-backoff", 0, "wait this `duration` before the first retry, doubling after (default 10s)")
	fs.Var(&f.retryOn, "retry-on-exit-codes", "retry only on these exit `codes`, such as 1,2")
	fs.IntVar(&f.priority, "priority", 0, "`priority` from -1000 to 1000; higher runs first")
	if set.once {
		fs.StringVar(&f.runAt, "run-at", "", "run at this `time` (RFC 3339, such as 2026-05-01T02:00:00Z)")
		fs.StringVar(&f.idempotencyKey, "idempotency-key", "", "submit at most one job with this `key`")
		fs.StringVar(&f.deadline, "deadline", "", "finish by this `time` (RFC 3339, or a duration from now such as 6h): the job may run on Spot while on-demand could still finish it in time")
		fs.DurationVar(&f.expected, "expected-duration", 0, "the job's run time, for its deadline (default: learned from earlier runs with the same labels)")
		fs.StringVar(&f.checkpoint, "checkpoint", "", "`none` (a moved job starts again) or on-sigterm (it saves its progress when sent SIGTERM)")
	}
	fs.StringVar(&f.callbackURL, "callback-url", "", "POST the finished job to this `URL`")
	fs.StringVar(&f.pool, "pool", "", "run only in this `pool` (see berth pools)")
	fs.StringVar(&f.startBudget, "start-budget", "", "wait at most this `duration` for capacity, then run on the pool's serverless overflow (default: the pool's)")
}

// spec builds the job spec for image and command from the flags.
func (f *jobFlags) spec(image string, command []string) (berth.JobSpec, error) {
	s := berth.JobSpec{
		Name:           f.name,
		Image:          image,
		Command:        command,
		Env:            f.env.m,
		SecretEnv:      f.secretEnv.m,
		CPU:            f.cpu,
		MemoryMB:       int64(f.memory),
		PIDs:           f.pids,
		Timeout:        berth.Duration(f.timeout),
		Retries:        berth.RetryPolicy{Attempts: f.retries, Backoff: berth.Duration(f.retryBackoff), OnExitCodes: f.retryOn},
		Priority:       f.priority,
		Labels:         f.labels.m,
		CallbackURL:    f.callbackURL,
		IdempotencyKey: f.idempotencyKey,

		ExpectedDuration: berth.Duration(f.expected),
		Checkpoint:       f.checkpoint,
		Pool:             f.pool,
	}
	if f.startBudget != "" {
		d, err := berth.ParseDuration(f.startBudget)
		if err != nil {
			return s, fmt.Errorf("--start-budget: %v", err)
		}
		b := berth.Duration(d)
		s.StartBudget = &b
	}
	if f.runAt != "" {
		t, err := time.Parse(time.RFC3339, f.runAt)
		if err != nil {
			return s, fmt.Errorf("--run-at %q is not an RFC 3339 time such as 2026-05-01T02:00:00Z", f.runAt)
		}
		s.RunAt = &t
	}
	if f.deadline != "" {
		t, err := time.Parse(time.RFC3339, f.deadline)
		if d, derr := time.ParseDuration(f.deadline); err != nil && derr == nil && d > 0 {
			t, err = time.Now().Add(d).Truncate(time.Second), nil
		}
		if err != nil {
			return s, fmt.Errorf("--deadline %q is neither an RFC 3339 time such as 2026-05-01T06:00:00Z nor a duration such as 6h", f.deadline)
		}
		s.Deadline = &t
	}
	return s, nil
}

// imageAndCommand splits IMAGE [--] [CMD ARGS...].
func imageAndCommand(args []string) (image string, command []string, ok bool) {
	if len(args) == 0 || args[0] == "" {
		return "", nil, false
	}
	image, command = args[0], args[1:]
	if len(command) > 0 && command[0] == "--" {
		command = command[1:]
	}
	if len(command) == 0 {
		command = nil
	}
	return image, command, true
}
