// Package agent is berth's node agent: it registers its node with the
// control plane, waits for assignments by long-poll, runs each attempt's
// container through a provider.Runner, enforces timeouts, ships output to a
// log sink and reports every attempt's start and end, naming the attempt.
//
// The agent keeps no truth of its own: after a restart it re-reads its
// assignments from the server and its containers from the engine (by label),
// adopts what still runs, records what finished, and removes containers no
// assignment wants.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/provider"
)

// Server is what the agent needs from the control plane. In one process the
// control package serves it directly; across a network, over HTTP.
type Server interface {
	// Register creates or updates the node (capacity, health) and returns
	// it.
	Register(ctx context.Context, n berth.Node) (berth.Node, error)
	// Assignments returns the node's active attempts. It blocks until they
	// have changed since version since, or until wait has passed, and
	// returns the version they are at.
	Assignments(ctx context.Context, nodeID string, since uint64, wait time.Duration) ([]berth.Assignment, uint64, error)
	// Started reports that the attempt's container runs.
	Started(ctx context.Context, attemptID, containerID string) error
	// Finished reports how the attempt ended. berth.ErrStale means the
	// attempt was already closed; the agent drops the report.
	Finished(ctx context.Context, attemptID string, out berth.Outcome) error
}

// LogSink stores attempts' output.
type LogSink interface {
	Writer(jobID, attemptID string) (io.WriteCloser, error)
}

// Config is the agent's configuration; zero fields mean the default.
type Config struct {
	NodeID   string  // stable identity of the node
	Name     string  // default NodeID
	Pool     string  // default "default"
	CPU      float64 // capacity offered; default the engine's
	MemoryMB int64   // capacity offered; default the engine's
	// StopGrace is how long a container has between SIGTERM and SIGKILL.
	StopGrace time.Duration // default 10s
	// HealthInterval is how often the engine is checked.
	HealthInterval time.Duration // default 5s
	// PollWait bounds one long-poll for assignments.
	PollWait time.Duration // default 30s
}

func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = c.NodeID
	}
	if c.Pool == "" {
		c.Pool = "default"
	}
	if c.StopGrace == 0 {
		c.StopGrace = 10 * time.Second
	}
	if c.HealthInterval == 0 {
		c.HealthInterval = 5 * time.Second
	}
	if c.PollWait == 0 {
		c.PollWait = 30 * time.Second
	}
	return c
}

// Agent runs one node's attempts.
type Agent struct {
	cfg    Config
	server Server
	runner provider.Runner
	logs   LogSink
	log    *slog.Logger

	// mu guards execs, done and healthy.
	mu      sync.Mutex
	execs   map[string]*execution // by attempt id
	done    recent                // attempts this agent finished: a late poll answer must not start them again
	healthy bool
	wg      sync.WaitGroup
}

// New returns an agent for the node cfg.NodeID.
func New(cfg Config, server Server, runner provider.Runner, logs LogSink, log *slog.Logger) *Agent {
	return &Agent{cfg: cfg.withDefaults(), server: server, runner: runner, logs: logs, log: log, execs: make(map[string]*execution)}
}

// Run registers the node and runs its assignments until ctx ends. Running
// containers are left running when ctx ends, to be adopted by the next run.
func (a *Agent) Run(ctx context.Context) error {
	defer a.wg.Wait()
	a.checkHealth(ctx)
	go a.healthLoop(ctx)
	adopted := false
	var version uint64
	for ctx.Err() == nil {
		if !a.isHealthy() {
			if !sleep(ctx, a.cfg.HealthInterval) {
				break
			}
			a.checkHealth(ctx)
			continue
		}
		var containers []provider.Status
		if !adopted {
			cs, err := a.runner.List(ctx)
			if err != nil {
				a.log.Warn("list containers", "err", err)
				a.setHealthy(ctx, false, err.Error())
				continue
			}
			for _, c := range cs {
				if c.Node == a.cfg.NodeID { // other nodes may share the engine
					containers = append(containers, c)
				}
			}
			adopted = true
		}
		as, v, err := a.server.Assignments(ctx, a.cfg.NodeID, version, a.cfg.PollWait)
		if err != nil {
			if ctx.Err() == nil {
				a.log.Warn("poll assignments", "err", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		version = v
		a.reconcile(ctx, as, containers)
	}
	return nil
}

// reconcile starts an execution for each new assignment, stops those the
// server no longer wants, and, given the engine's containers (after a
// restart), adopts them or removes those no assignment wants.
func (a *Agent) reconcile(ctx context.Context, as []berth.Assignment, containers []provider.Status) {
	byAttempt := make(map[string]provider.Status, len(containers))
	for _, c := range containers {
		byAttempt[c.AttemptID] = c
	}
	wanted := make(map[string]bool, len(as))
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, as := range as {
		wanted[as.Attempt.ID] = true
		if e, ok := a.execs[as.Attempt.ID]; ok {
			if as.Stop {
				e.requestStop()
			}
			continue
		}
		if a.done.has(as.Attempt.ID) {
			continue
		}
		var existing *provider.Status
		if c, ok := byAttempt[as.Attempt.ID]; ok {
			existing = &c
		}
		e := newExecution(a, as, existing)
		a.execs[as.Attempt.ID] = e
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			e.run(ctx)
			a.mu.Lock()
			delete(a.execs, as.Attempt.ID)
			if ctx.Err() == nil {
				a.done.add(as.Attempt.ID)
			}
			a.mu.Unlock()
		}()
	}
	for _, c := range containers {
		if !wanted[c.AttemptID] {
			a.log.Info("removing container no attempt wants", "container", c.ID, "attempt", c.AttemptID, "job", c.JobID)
			if err := a.runner.Remove(ctx, c.ID); err != nil && !errors.Is(err, provider.ErrNotFound) {
				a.log.Warn("remove stale container", "container", c.ID, "err", err)
			}
		}
	}
}

func (a *Agent) healthLoop(ctx context.Context) {
	for sleep(ctx, a.cfg.HealthInterval) {
		a.checkHealth(ctx)
	}
}

// checkHealth asks the engine for its capacity and registers the node with
// it, healthy or not.
func (a *Agent) checkHealth(ctx context.Context) {
	capa, err := a.runner.Info(ctx)
	if err != nil {
		a.setHealthy(ctx, false, fmt.Sprintf("engine unavailable: %v", err))
		return
	}
	cpu, mem := capa.CPU, capa.MemoryMB
	if a.cfg.CPU > 0 {
		cpu = a.cfg.CPU
	}
	if a.cfg.MemoryMB > 0 {
		mem = a.cfg.MemoryMB
	}
	a.register(ctx, berth.Node{CPU: cpu, MemoryMB: mem, Healthy: true})
}

func (a *Agent) setHealthy(ctx context.Context, ok bool, reason string) {
	a.register(ctx, berth.Node{CPU: a.cfg.CPU, MemoryMB: a.cfg.MemoryMB, Healthy: ok, Reason: reason})
}

func (a *Agent) register(ctx context.Context, n berth.Node) {
	n.ID, n.Name, n.Pool = a.cfg.NodeID, a.cfg.Name, a.cfg.Pool
	if _, err := a.server.Register(ctx, n); err != nil {
		if ctx.Err() == nil {
			a.log.Warn("register node", "err", err)
		}
		return
	}
	a.mu.Lock()
	changed := a.healthy != n.Healthy
	a.healthy = n.Healthy
	a.mu.Unlock()
	if changed {
		a.log.Info("node health", "node", n.ID, "healthy", n.Healthy, "reason", n.Reason)
	}
}

func (a *Agent) isHealthy() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.healthy
}

// sleep waits d or until ctx ends, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// recent is a bounded set of attempt ids, forgetting the oldest.
type recent struct {
	set   map[string]bool
	order []string
}

const recentSize = 4096

func (r *recent) add(id string) {
	if r.set == nil {
		r.set = make(map[string]bool)
	}
	if r.set[id] {
		return
	}
	if len(r.order) >= recentSize {
		delete(r.set, r.order[0])
		r.order = r.order[1:]
	}
	r.set[id] = true
	r.order = append(r.order, id)
}

func (r *recent) has(id string) bool { return r.set[id] }
