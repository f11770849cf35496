package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/client"
)

// Exit codes of berth run besides the job's own, as docker run has them.
const (
	exitNoCode      = 125 // the job ended without an exit code (it could not start, was lost, ...)
	exitInterrupted = 130 // interrupted; the job was cancelled
)

// runRun runs `berth run`: submit a job, stream its output, exit with its exit
// code.
func runRun(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "run", "run [flags] IMAGE [-- CMD ARGS...]")
	var jf jobFlags
	jf.register(fs, jobFlagSet{name: true, once: true}, env.getenv)
	var detach bool
	fs.BoolVar(&detach, "d", false, "detach: print the job's id and exit")
	fs.BoolVar(&detach, "detach", false, "detach: print the job's id and exit")
	if err := parseCommandFlags(fs, args); err != nil {
		return err
	}
	image, command, ok := imageAndCommand(fs.Args())
	if !ok {
		return usageError(env, fs, "an IMAGE is required")
	}
	spec, err := jf.spec(image, command)
	if err != nil {
		return usageError(env, fs, "%v", err)
	}
	c, err := newClient(env)
	if err != nil {
		return err
	}
	// An interrupt during the submission must not leave a job behind that
	// nobody follows: let the submission finish, then cancel the job.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), submitTimeout)
	job, created, err := c.SubmitJob(sctx, spec)
	cancel()
	if err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	if ctx.Err() != nil && !detach {
		return interrupt(ctx, env, c, job.ID)
	}
	if !created {
		fmt.Fprintf(env.stderr, "berth run: job %s already exists with idempotency key %q\n", job.ID, spec.IdempotencyKey)
	}
	if detach {
		fmt.Fprintln(env.stdout, job.ID)
		return nil
	}
	final, err := follow(ctx, c, job.ID, env.stdout)
	if ctx.Err() != nil {
		return interrupt(ctx, env, c, job.ID)
	}
	if err != nil {
		return err
	}
	return jobExit(env, final)
}

// Limits of berth run's calls.
const (
	submitTimeout     = 30 * time.Second
	followPause       = time.Second
	followMaxFailures = 10
)

// follow copies the job's output to w until the job is terminal, and returns
// the job. When the stream breaks or ends early (a server restart), it
// reconnects and skips what it has already copied.
func follow(ctx context.Context, c *client.Client, id string, w io.Writer) (berth.Job, error) {
	var copied int64
	failures := 0
	for {
		n, err := copyLogs(ctx, c, id, copied, w)
		copied += n
		if ctx.Err() != nil {
			return berth.Job{}, ctx.Err()
		}
		if n > 0 {
			failures = 0 // progress: reconnect at once
		}
		var job berth.Job
		if err == nil {
			var cj client.Job
			cj, err = c.Job(ctx, id)
			job = cj.Job
		}
		if err == nil && job.State.Terminal() {
			return job, nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return berth.Job{}, ctx.Err()
			}
			var ce *client.Error
			if failures++; failures > followMaxFailures || errors.As(err, &ce) && ce.Status < 500 {
				return berth.Job{}, fmt.Errorf("follow job %s: %w", id, err)
			}
		}
		if n > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return berth.Job{}, ctx.Err()
		case <-time.After(followPause):
		}
	}
}

// copyLogs follows the job's output, skips its first skip bytes (copied
// before) and copies the rest to w. It returns how many bytes it copied.
func copyLogs(ctx context.Context, c *client.Client, id string, skip int64, w io.Writer) (int64, error) {
	rc, err := c.Logs(ctx, id, true)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	if _, err := io.CopyN(io.Discard, rc, skip); err != nil {
		if err == io.EOF {
			err = nil // nothing new yet
		}
		return 0, err
	}
	return io.Copy(w, rc)
}

// interrupt cancels the job after the user interrupted berth run.
func interrupt(ctx context.Context, env *cliEnv, c *client.Client, id string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err := c.CancelJob(ctx, id)
	switch {
	case err == nil:
		fmt.Fprintf(env.stderr, "berth run: interrupted; cancelled job %s\n", id)
	case errors.Is(err, berth.ErrConflict):
		fmt.Fprintf(env.stderr, "berth run: interrupted; job %s had already finished\n", id)
	default:
		fmt.Fprintf(env.stderr, "berth run: interrupted; cancel job %s: %v\n", id, err)
	}
	return exitError{exitInterrupted}
}

// jobExit turns a finished job into berth run's exit: nil when it succeeded,
// else its exit code, or 125 when it has none that says failure.
func jobExit(env *cliEnv, job berth.Job) error {
	if job.State == berth.Succeeded {
		return nil
	}
	fmt.Fprintf(env.stderr, "berth run: job %s %s: %s\n", job.ID, job.State, job.Reason)
	if job.ExitCode == nil || *job.ExitCode < 1 || *job.ExitCode > 255 {
		return exitError{exitNoCode}
	}
	return exitError{*job.ExitCode}
}
