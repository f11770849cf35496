// Package fake is an in-memory provider.Runner for tests of berth's loops.
// What a container does is scripted by its environment:
//
//	FAKE_RUN_FOR=90s        how long it runs (a time.Duration; default 0)
//	FAKE_EXIT_CODE=3        its exit code (default 0)
//	FAKE_OUTPUT=text        written to its logs when it starts
//	FAKE_OOM=1              killed for want of memory when its run ends
//	FAKE_IGNORE_SIGTERM=1   Stop waits the grace, then kills it (137);
//	                        otherwise SIGTERM ends it at once (143)
//	FAKE_START_ERROR=reason Start fails with a *provider.StartError
//
// An image whose name starts with "missing/" does not exist: Create fails
// with a *provider.StartError. Knobs set the capacity, make the engine
// unreachable, fail the next call of a method, and delay starts; Calls
// lists the calls made.
//
// The fake uses only the time package's clock and timers, so inside a
// testing/synctest bubble an hour of containers runs at once.
package fake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berth-run/berth/internal/provider"
)

// Method names a Runner method, for FailNext and the call log.
type Method string

// The methods of provider.Runner.
const (
	Info    Method = "Info"
	Create  Method = "Create"
	Start   Method = "Start"
	Wait    Method = "Wait"
	Stop    Method = "Stop"
	Inspect Method = "Inspect"
	List    Method = "List"
	Logs    Method = "Logs"
	Remove  Method = "Remove"
)

// Call is one call made to a Runner. ID is the container's handle, or for
// Create the attempt id.
type Call struct {
	Method Method
	ID     string
	Err    error
}

// Runner is an in-memory engine. Its zero value is not usable; call New.
type Runner struct {
	// mu guards the fields below it.
	mu          sync.Mutex
	capacity    provider.Capacity
	unavailable bool
	startDelay  time.Duration
	failNext    map[Method][]error
	calls       []Call
	containers  map[string]*ctr
	seq         int
}

var _ provider.Runner = (*Runner)(nil)

// New returns an engine with capacity and no containers.
func New(capacity provider.Capacity) *Runner {
	return &Runner{
		capacity:   capacity,
		failNext:   make(map[Method][]error),
		containers: make(map[string]*ctr),
	}
}

// SetCapacity sets what Info reports.
func (r *Runner) SetCapacity(c provider.Capacity) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.capacity = c
}

// SetUnavailable makes every call fail with provider.ErrUnavailable, or
// undoes it. Containers go on running meanwhile.
func (r *Runner) SetUnavailable(down bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unavailable = down
}

// SetStartDelay makes Start take d before the container runs.
func (r *Runner) SetStartDelay(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.startDelay = d
}

// FailNext makes the next call of m fail with err, doing nothing else.
// Errors queue: each call of m takes one.
func (r *Runner) FailNext(m Method, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failNext[m] = append(r.failNext[m], err)
}

// Calls returns the calls made so far, in order.
func (r *Runner) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// begin logs a call of m and returns the error it is to fail with: an
// injected one, or ErrUnavailable. r.mu must be held.
func (r *Runner) begin(m Method, id string) error {
	var err error
	if q := r.failNext[m]; len(q) > 0 {
		err, r.failNext[m] = q[0], q[1:]
	} else if r.unavailable {
		err = fmt.Errorf("fake engine: %w", provider.ErrUnavailable)
	}
	r.calls = append(r.calls, Call{Method: m, ID: id, Err: err})
	return err
}

// get returns container id, or an error wrapping ErrNotFound. r.mu must be
// held.
func (r *Runner) get(op, id string) (*ctr, error) {
	c, ok := r.containers[id]
	if !ok {
		return nil, fmt.Errorf("%s %s: %w", op, id, provider.ErrNotFound)
	}
	return c, nil
}

// Info reports the capacity set by New or SetCapacity.
func (r *Runner) Info(ctx context.Context) (provider.Capacity, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(Info, ""); err != nil {
		return provider.Capacity{}, err
	}
	return r.capacity, nil
}

// Create creates c's container, or returns the existing one of its
// attempt.
func (r *Runner) Create(ctx context.Context, c provider.Container) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(Create, c.AttemptID); err != nil {
		return "", err
	}
	for id, x := range r.containers {
		if x.spec.AttemptID == c.AttemptID {
			return id, nil
		}
	}
	if strings.HasPrefix(c.Image, "missing/") {
		return "", &provider.StartError{Reason: fmt.Sprintf("image %q not found: no such image in the fake registry", c.Image)}
	}
	sc, err := parseScript(c.Env)
	if err != nil {
		return "", &provider.StartError{Reason: fmt.Sprintf("create container for attempt %s: %v", c.AttemptID, err)}
	}
	r.seq++
	id := fmt.Sprintf("fake%06d", r.seq)
	c.Env, c.Labels = maps.Clone(c.Env), maps.Clone(c.Labels)
	c.Command = slices.Clone(c.Command)
	r.containers[id] = &ctr{
		id:      id,
		spec:    c,
		script:  sc,
		state:   provider.Created,
		done:    make(chan struct{}),
		changed: make(chan struct{}),
	}
	return id, nil
}

// Start runs a created or exited container; an exited one runs again, as
// on a Docker engine.
func (r *Runner) Start(ctx context.Context, id string) error {
	r.mu.Lock()
	err := r.begin(Start, id)
	delay := r.startDelay
	r.mu.Unlock()
	if err != nil {
		return err
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("start %s: %w", id, ctx.Err())
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.get("start", id)
	if err != nil {
		return err
	}
	if c.script.startError != "" {
		return &provider.StartError{Reason: fmt.Sprintf("start %s: %s", id, c.script.startError)}
	}
	if c.state == provider.Running {
		return nil
	}
	c.run(&r.mu)
	return nil
}

// Stop ends a running container: at once if it heeds SIGTERM (exit 143),
// after grace otherwise (exit 137).
func (r *Runner) Stop(ctx context.Context, id string, grace time.Duration) error {
	r.mu.Lock()
	if err := r.begin(Stop, id); err != nil {
		r.mu.Unlock()
		return err
	}
	c, err := r.get("stop", id)
	if err != nil {
		r.mu.Unlock()
		return err
	}
	if c.state != provider.Running {
		r.mu.Unlock()
		return nil
	}
	if !c.script.ignoreTerm {
		c.exit(143, false)
		r.mu.Unlock()
		return nil
	}
	done := c.done
	r.mu.Unlock()

	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop %s: %w", id, ctx.Err())
	case <-t.C:
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.state == provider.Running && c.done == done {
		c.exit(137, false)
	}
	return nil
}

// Remove deletes a container, killing it first if it runs.
func (r *Runner) Remove(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(Remove, id); err != nil {
		return err
	}
	c, err := r.get("remove", id)
	if err != nil {
		return err
	}
	c.remove()
	delete(r.containers, id)
	return nil
}
