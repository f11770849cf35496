package fake

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-run/berth/internal/provider"
)

// script is what a container does, read from its environment.
type script struct {
	runFor     time.Duration
	exitCode   int
	output     string
	oom        bool
	ignoreTerm bool
	startError string
}

// parseScript reads the FAKE_ variables of env.
func parseScript(env map[string]string) (script, error) {
	sc := script{
		output:     env["FAKE_OUTPUT"],
		oom:        env["FAKE_OOM"] == "1",
		ignoreTerm: env["FAKE_IGNORE_SIGTERM"] == "1",
		startError: env["FAKE_START_ERROR"],
	}
	if v, ok := env["FAKE_RUN_FOR"]; ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return script{}, fmt.Errorf("FAKE_RUN_FOR=%q: not a duration", v)
		}
		sc.runFor = d
	}
	if v, ok := env["FAKE_EXIT_CODE"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 255 {
			return script{}, fmt.Errorf("FAKE_EXIT_CODE=%q: not an exit code", v)
		}
		sc.exitCode = n
	}
	return sc, nil
}

// ctr is one container. Its fields are guarded by the Runner's mu.
type ctr struct {
	id         string
	spec       provider.Container
	script     script
	state      provider.RunState
	exitCode   int
	oom        bool
	startedAt  time.Time
	finishedAt time.Time
	output     []byte
	removed    bool
	timer      *time.Timer
	// done is closed when the current run ends, or when a container never
	// started is removed; a new run gets a new one.
	done chan struct{}
	// changed is closed, and replaced, when the output or state changes.
	changed chan struct{}
}

// run starts a run of c; mu is the Runner's lock, held by the caller.
func (c *ctr) run(mu *sync.Mutex) {
	if c.state == provider.Exited {
		c.done = make(chan struct{})
	}
	c.state = provider.Running
	c.exitCode, c.oom = 0, false
	c.startedAt, c.finishedAt = time.Now(), time.Time{}
	c.output = append(c.output, c.script.output...)
	done := c.done
	code, oom := c.script.exitCode, false
	if c.script.oom {
		code, oom = 137, true
	}
	c.timer = time.AfterFunc(c.script.runFor, func() {
		mu.Lock()
		defer mu.Unlock()
		if c.done == done && c.state == provider.Running {
			c.exit(code, oom)
		}
	})
	c.notify()
}

// exit ends the current run.
func (c *ctr) exit(code int, oom bool) {
	c.timer.Stop()
	c.state = provider.Exited
	c.exitCode, c.oom = code, oom
	c.finishedAt = time.Now()
	close(c.done)
	c.notify()
}

// remove kills c if it runs and marks it removed.
func (c *ctr) remove() {
	switch c.state {
	case provider.Running:
		c.exit(137, false)
	case provider.Created:
		close(c.done)
	}
	c.removed = true
	c.notify()
}

func (c *ctr) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *ctr) status() provider.Status {
	return provider.Status{
		ID:         c.id,
		JobID:      c.spec.JobID,
		AttemptID:  c.spec.AttemptID,
		Node:       c.spec.Node,
		State:      c.state,
		ExitCode:   c.exitCode,
		OOMKilled:  c.oom,
		StartedAt:  c.startedAt,
		FinishedAt: c.finishedAt,
	}
}

// Wait blocks until the container's run ends, or ctx does.
func (r *Runner) Wait(ctx context.Context, id string) (provider.Status, error) {
	r.mu.Lock()
	if err := r.begin(Wait, id); err != nil {
		r.mu.Unlock()
		return provider.Status{}, err
	}
	c, err := r.get("wait", id)
	if err != nil {
		r.mu.Unlock()
		return provider.Status{}, err
	}
	done := c.done
	r.mu.Unlock()

	select {
	case <-done:
	case <-ctx.Done():
		return provider.Status{}, fmt.Errorf("wait %s: %w", id, ctx.Err())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.removed {
		return provider.Status{}, fmt.Errorf("wait %s: removed: %w", id, provider.ErrNotFound)
	}
	return c.status(), nil
}

// Inspect returns a container's status.
func (r *Runner) Inspect(ctx context.Context, id string) (provider.Status, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(Inspect, id); err != nil {
		return provider.Status{}, err
	}
	c, err := r.get("inspect", id)
	if err != nil {
		return provider.Status{}, err
	}
	return c.status(), nil
}

// List returns every container's status, in the order they were created.
func (r *Runner) List(ctx context.Context) ([]provider.Status, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(List, ""); err != nil {
		return nil, err
	}
	out := make([]provider.Status, 0, len(r.containers))
	for _, c := range r.containers {
		out = append(out, c.status())
	}
	slices.SortFunc(out, func(a, b provider.Status) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Logs writes the container's output to w and follows it while the
// container runs.
func (r *Runner) Logs(ctx context.Context, id string, w io.Writer) error {
	r.mu.Lock()
	err := r.begin(Logs, id)
	var c *ctr
	if err == nil {
		c, err = r.get("logs", id)
	}
	r.mu.Unlock()
	if err != nil {
		return err
	}
	for off := 0; ; {
		r.mu.Lock()
		chunk := c.output[off:]
		off = len(c.output)
		running := c.state == provider.Running && !c.removed
		changed := c.changed
		r.mu.Unlock()
		if len(chunk) > 0 {
			if _, err := w.Write(chunk); err != nil {
				return fmt.Errorf("logs %s: %w", id, err)
			}
		}
		if !running {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("logs %s: %w", id, ctx.Err())
		}
	}
}
