package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/provider"
)

// execution runs one attempt's container from creation (or adoption) to its
// final report and removal.
type execution struct {
	a        *Agent
	as       berth.Assignment // without its SecretEnv
	existing *provider.Status // the container found at adoption, if any
	// secrets is the assignment's secret_env until the container is
	// created; the execution keeps no secret after.
	secrets map[string]string

	stopOnce sync.Once
	stopped  chan struct{} // closed when the server no longer wants the attempt
	killOnce sync.Once
	killed   chan struct{} // closed when the attempt is closed already: no grace
	fenced   atomic.Bool   // killed because the node lost contact with the server
}

func newExecution(a *Agent, as berth.Assignment, existing *provider.Status) *execution {
	e := &execution{a: a, as: as, existing: existing, secrets: as.SecretEnv, stopped: make(chan struct{}), killed: make(chan struct{})}
	e.as.SecretEnv = nil
	if as.Stop {
		e.requestStop()
	}
	return e
}

// requestStop stops the container with the agent's grace.
func (e *execution) requestStop() { e.stopOnce.Do(func() { close(e.stopped) }) }

// kill stops the container without grace: its attempt was closed without
// this agent and its job has moved on, maybe to another node.
func (e *execution) kill() {
	e.killOnce.Do(func() { close(e.killed) })
	e.requestStop()
}

// fence kills the container because the node lost contact with the
// server: the attempt is lost, its job re-queued without spending a retry.
func (e *execution) fence() {
	e.fenced.Store(true)
	e.kill()
}

func (e *execution) isKilled() bool {
	select {
	case <-e.killed:
		return true
	default:
		return false
	}
}

func (e *execution) isStopped() bool {
	select {
	case <-e.stopped:
		return true
	default:
		return false
	}
}

// run drives the attempt. When ctx ends (the agent shuts down) it returns
// without touching the container, which the next agent adopts.
func (e *execution) run(ctx context.Context) {
	id, out, ok := e.prepare(ctx)
	if !ok {
		if out != nil {
			e.finish(ctx, "", *out)
		}
		return
	}
	out = e.supervise(ctx, id)
	if out != nil {
		e.finish(ctx, id, *out)
	}
}

// prepare creates and starts the container, or adopts an existing one. It
// returns the container's handle, or an outcome to report when the attempt
// ended before running.
func (e *execution) prepare(ctx context.Context) (string, *berth.Outcome, bool) {
	r, job, att := e.a.runner, e.as.Job, e.as.Attempt
	if e.existing == nil && e.isStopped() {
		return "", &berth.Outcome{Kind: berth.Stopped, Reason: "stopped before it started"}, false
	}
	if e.existing == nil && att.StartedAt != nil {
		// It ran here before, and its container is gone: never run it twice.
		return "", &berth.Outcome{Kind: berth.Lost, Reason: "container vanished"}, false
	}
	var id string
	state := provider.Created
	if e.existing != nil {
		id, state = e.existing.ID, e.existing.State
	} else {
		secrets, out := e.secretEnv(ctx)
		if out != nil || ctx.Err() != nil {
			return "", out, false
		}
		c := provider.Container{
			JobID: job.ID, AttemptID: att.ID, Node: e.a.cfg.NodeID,
			Image: job.Image, Command: job.Command, Env: e.env(secrets),
			CPU: job.CPU, MemoryMB: job.MemoryMB, PIDs: job.PIDs, Labels: job.Labels,
		}
		e.secrets = nil
		var failed *berth.Outcome
		id, failed = e.claimWarm(ctx, c)
		if failed != nil || ctx.Err() != nil {
			return "", failed, false
		}
		if id != "" {
			state = provider.Running
		} else {
			var err error
			id, err = r.Create(ctx, c)
			if err != nil {
				return "", startFailure(ctx, err), false
			}
		}
	}
	if state == provider.Created {
		// A start can take minutes (a serverless engine places the task
		// and pulls its image): a stop, a kill or a fence ends it.
		sctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-e.stopped:
				cancel()
			case <-sctx.Done():
			}
		}()
		err := r.Start(sctx, id)
		cancel()
		if err != nil {
			out := startFailure(ctx, err)
			if out != nil && e.isStopped() && sctx.Err() != nil {
				out = &berth.Outcome{Kind: berth.Stopped, Reason: "stopped before it started"}
				if e.fenced.Load() {
					out = &berth.Outcome{Kind: berth.Lost, Reason: "node lost contact with the server before the container started"}
				}
			}
			if ctx.Err() == nil {
				e.remove(context.WithoutCancel(ctx), id)
			}
			return "", out, false
		}
	}
	if err := e.a.server.Started(ctx, att.ID, id); err != nil {
		if errors.Is(err, berth.ErrStale) || errors.Is(err, berth.ErrNotFound) {
			e.a.log.Info("attempt no longer current; stopping its container", "attempt", att.ID)
			e.requestStop()
		} else if ctx.Err() != nil {
			return "", nil, false
		} else {
			e.a.log.Warn("report started", "attempt", att.ID, "err", err)
		}
	}
	return id, nil, true
}

// claimWarm runs c's process in a warm container when the node keeps one
// that fits, and returns the container, or "" to start cold: there is
// none, or its claim was refused (that container is removed). An outcome
// is a start error that a cold start would meet too.
func (e *execution) claimWarm(ctx context.Context, c provider.Container) (string, *berth.Outcome) {
	p := e.a.warm
	if p == nil {
		return "", nil
	}
	begin := time.Now()
	w, ok := p.take(e.as.Job, begin)
	if !ok {
		return "", nil
	}
	cctx, cancel := context.WithTimeout(ctx, p.cfg.ClaimTimeout)
	err := p.cfg.Runner.Claim(cctx, w, c)
	cancel()
	if err == nil {
		e.a.log.Debug("attempt started warm", "attempt", c.AttemptID, "container", w.ID, "took", time.Since(begin))
		return w.ID, nil
	}
	if ctx.Err() == nil {
		e.remove(ctx, w.ID)
	}
	var se *provider.StartError
	if errors.As(err, &se) {
		return "", startFailure(ctx, err)
	}
	e.a.log.Warn("warm container refused the claim; starting cold", "attempt", c.AttemptID, "container", w.ID, "err", err)
	return "", nil
}

// env is the job's environment, its secret_env's values (secrets) and what
// berth tells every container.
func (e *execution) env(secrets map[string]string) map[string]string {
	env := make(map[string]string, len(e.as.Job.Env)+len(secrets)+4)
	for k, v := range e.as.Job.Env {
		env[k] = v
	}
	for k, v := range secrets {
		env[k] = v
	}
	env["BERTH_JOB_ID"] = e.as.Job.ID
	env["BERTH_ATTEMPT_ID"] = e.as.Attempt.ID
	if e.as.CallbackURL != "" {
		env["BERTH_CALLBACK_URL"] = e.as.CallbackURL
		env["BERTH_CALLBACK_TOKEN"] = e.as.CallbackToken
	}
	return env
}

// startFailure turns an error from Create or Start into the attempt's
// outcome: a *provider.StartError fails the job, anything else loses the
// attempt (re-queued). It returns nil when the agent is shutting down.
func startFailure(ctx context.Context, err error) *berth.Outcome {
	if ctx.Err() != nil {
		return nil
	}
	var se *provider.StartError
	if errors.As(err, &se) {
		return &berth.Outcome{Kind: berth.StartError, Reason: se.Reason}
	}
	return &berth.Outcome{Kind: berth.Lost, Reason: fmt.Sprintf("could not start: %v", err)}
}

// supervise copies the container's logs, enforces the job's timeout and
// stop requests, waits for the container to exit and returns the outcome.
func (e *execution) supervise(ctx context.Context, id string) *berth.Outcome {
	job := e.as.Job
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		e.copyLogs(ctx, id)
	}()
	var timedOut, stopped bool
	var mu sync.Mutex
	stopCtx, cancelStop := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelStop()
	var timeout <-chan time.Time
	if job.Timeout > 0 {
		started := time.Now()
		if s := e.as.Attempt.StartedAt; s != nil {
			started = *s
		}
		t := time.NewTimer(time.Until(started.Add(time.Duration(job.Timeout))))
		defer t.Stop()
		timeout = t.C
	}
	waitDone := make(chan struct{})
	defer close(waitDone)
	go func() {
		select {
		case <-timeout:
			mu.Lock()
			timedOut = true
			mu.Unlock()
		case <-e.stopped:
			mu.Lock()
			stopped = true
			mu.Unlock()
		case <-waitDone:
			return
		}
		grace := e.a.stopGrace(time.Now())
		if e.isKilled() {
			grace = 0
		} else {
			go func() {
				select {
				case <-e.killed:
					e.stop(stopCtx, id, 0)
				case <-waitDone:
				}
			}()
		}
		e.stop(stopCtx, id, grace)
	}()
	st, err := e.wait(ctx, id)
	if ctx.Err() != nil {
		return nil
	}
	<-logsDone
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		return &berth.Outcome{Kind: berth.Lost, Reason: err.Error()}
	}
	out := &berth.Outcome{Kind: berth.Exited, ExitCode: &st.ExitCode}
	switch {
	case e.fenced.Load():
		out.Kind, out.Reason = berth.Lost, "node lost contact with the server; its container was killed"
	case stopped:
		out.Kind = berth.Stopped
	case st.StartError != "":
		out.Kind, out.Reason, out.ExitCode = berth.StartError, st.StartError, nil
	case st.Reclaimed != "":
		out.Kind, out.Reason, out.ExitCode = berth.Lost, st.Reclaimed, nil
	case timedOut:
		out.Kind = berth.TimedOut
	case st.OOMKilled:
		out.Kind = berth.OOMKilled
	}
	if !st.FinishedAt.IsZero() {
		at := st.FinishedAt
		out.At = &at // a container that ended while no one watched ended then
	}
	return out
}

func (e *execution) stop(ctx context.Context, id string, grace time.Duration) {
	if err := e.a.runner.Stop(ctx, id, grace); err != nil && !errors.Is(err, provider.ErrNotFound) {
		e.a.log.Warn("stop container", "container", id, "err", err)
	}
}

// wait waits for the container to exit, riding out spells when the engine
// is unreachable. It fails when the container vanished.
func (e *execution) wait(ctx context.Context, id string) (provider.Status, error) {
	for {
		st, err := e.a.runner.Wait(ctx, id)
		if err == nil {
			return st, nil
		}
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		if errors.Is(err, provider.ErrNotFound) {
			return st, errors.New("container vanished")
		}
		if !sleep(ctx, time.Second) {
			return st, ctx.Err()
		}
		st, ierr := e.a.runner.Inspect(ctx, id)
		switch {
		case errors.Is(ierr, provider.ErrNotFound):
			return st, errors.New("container vanished while the engine was unavailable")
		case ierr == nil && st.State == provider.Exited:
			return st, nil
		}
	}
}

// copyLogs copies the container's output to the attempt's log from the
// beginning (so an adopted container's log is complete) until it exits.
func (e *execution) copyLogs(ctx context.Context, id string) {
	w, err := e.a.logs.Writer(e.as.Job.ID, e.as.Attempt.ID)
	if err != nil {
		e.a.log.Warn("open log", "attempt", e.as.Attempt.ID, "err", err)
		w = nopCloser{io.Discard}
	}
	defer w.Close()
	if err := e.a.runner.Logs(ctx, id, w); err != nil && ctx.Err() == nil {
		e.a.log.Warn("copy logs", "attempt", e.as.Attempt.ID, "err", err)
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// finish reports the outcome until the server takes it (or refuses it as
// stale), then removes the container: its logs are safe by then.
func (e *execution) finish(ctx context.Context, id string, out berth.Outcome) {
	for {
		err := e.a.server.Finished(ctx, e.as.Attempt.ID, out)
		if err == nil || errors.Is(err, berth.ErrStale) || errors.Is(err, berth.ErrNotFound) {
			break
		}
		e.a.log.Warn("report finished", "attempt", e.as.Attempt.ID, "err", err)
		if !sleep(ctx, time.Second) {
			return
		}
	}
	if id != "" {
		e.remove(ctx, id)
	}
}

func (e *execution) remove(ctx context.Context, id string) {
	if err := e.a.runner.Remove(ctx, id); err != nil && !errors.Is(err, provider.ErrNotFound) {
		e.a.log.Warn("remove container", "container", id, "err", err)
	}
}
