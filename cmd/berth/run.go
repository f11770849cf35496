package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
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
	submitted := env.clock()
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
	final, err := follow(ctx, env, c, job.ID, submitted)
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
	// A job that has waited waitNotice to start has its reason told, then
	// again each time it changes; its state is read every waitPoll.
	waitNotice = 2 * time.Second
	waitPoll   = 500 * time.Millisecond
)

// follow copies the job's stdout to env.stdout and its stderr to
// env.stderr until the job is terminal, and returns the job. When the
// stream breaks or ends early (a server restart), it reconnects and skips
// what it has already copied. Meanwhile it tells why the job waits, once it
// has waited waitNotice since submitted.
func follow(ctx context.Context, env *cliEnv, c *client.Client, id string, submitted time.Time) (berth.Job, error) {
	stderr := &lockedWriter{w: env.stderr}
	wctx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		watchWaiting(wctx, env, c, id, submitted, stderr)
	}()
	defer func() {
		stopWatch()
		<-watched
	}()
	var copied int64
	failures := 0
	for {
		n, err := copyLogs(ctx, c, id, copied, env.stdout, stderr)
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
// before) and copies the rest, stdout to stdout and stderr to stderr. It
// returns how many bytes it copied.
func copyLogs(ctx context.Context, c *client.Client, id string, skip int64, stdout, stderr io.Writer) (int64, error) {
	s, err := c.LogEntries(ctx, id, client.LogQuery{Follow: true})
	if err != nil {
		return 0, err
	}
	defer s.Close()
	var copied int64
	for {
		e, err := s.Next()
		if err == io.EOF {
			return copied, nil
		}
		if err != nil {
			return copied, err
		}
		b := e.Bytes()
		k := min(skip, int64(len(b)))
		b, skip = b[k:], skip-k
		if len(b) == 0 {
			continue
		}
		w := stdout
		if e.Stream == "stderr" {
			w = stderr
		}
		if _, err := w.Write(b); err != nil {
			return copied, err
		}
		copied += int64(len(b))
	}
}

// watchWaiting writes why the job waits to w once it has waited waitNotice
// since submitted, and again each time the reason changes, until the job
// runs or ctx ends.
func watchWaiting(ctx context.Context, env *cliEnv, c *client.Client, id string, submitted time.Time, w io.Writer) {
	told := ""
	tick := time.NewTicker(waitPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		job, err := c.Job(ctx, id)
		if err != nil {
			continue // follow says what goes wrong
		}
		switch job.State {
		case berth.Scheduled, berth.Queued, berth.Starting:
		default:
			return
		}
		if env.clock().Sub(submitted) < waitNotice || job.Reason == "" {
			continue
		}
		if say := fmt.Sprintf("job %s %s: %s", id, job.State, escape(job.Reason)); say != told {
			fmt.Fprintf(w, "berth run: %s\n", say)
			told = say
		}
	}
}

// lockedWriter serializes the writes of several goroutines to w.
type lockedWriter struct {
	mu sync.Mutex // guards w
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
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
	fmt.Fprintf(env.stderr, "berth run: job %s %s: %s\n", job.ID, job.State, escape(job.Reason))
	if job.ExitCode == nil || *job.ExitCode < 1 || *job.ExitCode > 255 {
		return exitError{exitNoCode}
	}
	return exitError{*job.ExitCode}
}
