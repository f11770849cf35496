// Package agent is berth's node agent: it heartbeats its node to the
// control plane, waits for assignments by long-poll, runs each attempt's
// container through a provider.Runner, enforces timeouts, ships output to a
// log sink, reports every attempt's start and end, naming the attempt, and
// reports the notices of its cloud (Spot interruptions). It keeps warm
// containers of the images and shapes it ran lately, in which an attempt
// that fits one starts in milliseconds (warm.go, docs/warm.md). On a cloud
// instance it keeps its node from work while the jobs' containers could
// reach the instance metadata service (MetadataGuard).
//
// The agent keeps no truth of its own. After a restart it re-reads its
// assignments from the server and its containers from the engine (by label),
// and adopts what still runs. At every reconcile it stops the executions
// the server no longer lists and removes the containers no listed attempt
// owns. A node the server declared lost (its lease lapsed) gets back to work
// only after its agent has killed everything the server no longer lists: a
// job never has two live attempts.
//
// The same agent runs in the server's process (over control.Local) and as
// `berth agent` on other hosts (over Remote, the HTTP side of the protocol).
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/provider"
)

// Server is what the agent needs from the control plane. In one process the
// control package serves it directly; across a network, Remote over HTTP.
type Server interface {
	// Register reports the node's status, renewing its lease (a
	// heartbeat), and returns the node as the server sees it. st.Ready
	// asks that a joining or lost node become ready.
	Register(ctx context.Context, nodeID string, st nodeapi.Status) (berth.Node, error)
	// Assignments returns the node's active attempts. It blocks until they
	// have changed since version since, or until wait has passed, and
	// returns the version they are at. Since 0 returns at once.
	Assignments(ctx context.Context, nodeID string, since uint64, wait time.Duration) ([]berth.Assignment, uint64, error)
	// Started reports that the attempt's container runs.
	Started(ctx context.Context, attemptID, containerID string) error
	// Finished reports how the attempt ended. berth.ErrStale means the
	// attempt was already closed; the agent drops the report.
	Finished(ctx context.Context, attemptID string, out berth.Outcome) error
	// Notice reports what the node's cloud announced about its host.
	Notice(ctx context.Context, nodeID string, n nodeapi.Notice) error
}

// LogSink stores attempts' output.
type LogSink interface {
	Writer(jobID, attemptID string) (io.WriteCloser, error)
}

// Config is the agent's configuration; zero fields mean the default.
type Config struct {
	// Engine is the address of the node's engine, for messages
	// ("unix:///var/run/docker.sock").
	Engine   string
	NodeID   string  // stable identity of the node
	Name     string  // default NodeID
	CPU      float64 // capacity offered; default the engine's
	MemoryMB int64   // capacity offered; default the engine's
	Facts    nodeapi.Facts
	// StopGrace is how long a container has between SIGTERM and SIGKILL.
	StopGrace time.Duration // default 10s
	// InterruptionGrace is the grace instead once the host's Spot
	// interruption notice has come (the pool's interruption_grace),
	// shortened so that SIGKILL comes before the reclaim. Zero: StopGrace.
	InterruptionGrace time.Duration
	// HealthInterval is how often the engine is checked and the node
	// heartbeats.
	HealthInterval time.Duration // default 5s
	// PollWait bounds one long-poll for assignments.
	PollWait time.Duration // default 30s
	// IMDS, when set, is watched for Spot interruption notices and
	// rebalance recommendations every NoticeInterval.
	IMDS *IMDS
	// Notices, when set, is watched in place of IMDS: another source of
	// the host's notices, such as the fake cloud's.
	Notices        NoticeSource
	NoticeInterval time.Duration // default 2s
	// ContainerIMDS, when set, holds the node back from work while the
	// jobs' containers can reach the instance metadata service (see
	// MetadataGuard): set it on a cloud instance.
	ContainerIMDS *MetadataGuard
	// FenceAfter, when positive, is how long the node may go without a
	// heartbeat the server took before it kills its own containers, their
	// attempts lost: keep it under the server's lease TTL so that a
	// partitioned node has stopped its work before the server runs that
	// work elsewhere. Zero or negative: never (the in-process agent).
	FenceAfter time.Duration
	// OrphanAfter, when positive, is how long the server may take no
	// heartbeat (counted from the agent's start until one is taken)
	// while the node runs nothing, before the agent calls PowerOff: a
	// control plane that is gone never leaves its hosts billing. It is
	// for cloud hosts berth launched; zero or negative: never.
	OrphanAfter time.Duration
	// PowerOff ends the host: on EC2 the instance shuts down, and its
	// launch template's shutdown behaviour terminates it. Required with
	// OrphanAfter.
	PowerOff func() error
	// Secrets reads the secret_env references of the containers it
	// starts. Nil: a job with a reference fails to start.
	Secrets Secrets
	// Warm keeps warm containers for the images and shapes run on the
	// node lately (docs/warm.md); its zero value keeps none.
	Warm WarmConfig
}

// NoticeSource reads the notices the host's cloud has given about it (an
// *IMDS on EC2).
type NoticeSource interface {
	Notices(ctx context.Context) ([]nodeapi.Notice, error)
}

func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = c.NodeID
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
	if c.NoticeInterval == 0 {
		c.NoticeInterval = 2 * time.Second
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

	// mu guards execs, done, listed, healthy, engine, lastBeat, fenced,
	// state, cancelPoll, reclaimAt and displaced.
	mu         sync.Mutex
	reclaimAt  time.Time             // when Spot takes the host back, once noticed
	execs      map[string]*execution // by attempt id
	done       recent                // attempts this agent finished: a late poll answer must not start them again
	listed     map[string]bool       // the attempts the server listed last
	healthy    bool
	engine     provider.Capacity  // what the engine last reported
	lastBeat   time.Time          // when the server last took a heartbeat
	fenced     bool               // the executions were killed for want of heartbeats
	state      berth.NodeState    // as the server last said
	cancelPoll context.CancelFunc // ends the long-poll in flight
	displaced  error              // another agent process acts for the node: this one stops
	wg         sync.WaitGroup

	sweeping  atomic.Bool   // a sweep runs
	imdsCheck metadataCheck // the verdict of cfg.ContainerIMDS
	warm      *warmPool     // nil: no warm containers
}

// New returns an agent for the node cfg.NodeID.
func New(cfg Config, server Server, runner provider.Runner, logs LogSink, log *slog.Logger) *Agent {
	a := &Agent{cfg: cfg.withDefaults(), server: server, runner: runner, logs: logs, log: log,
		execs: make(map[string]*execution), listed: map[string]bool{}}
	if a.cfg.Warm.enabled() {
		a.warm = newWarmPool(a.cfg.Warm, a.cfg.NodeID, log, a.warmRoom)
	}
	return a
}

// WarmStats reports the warm pool's hits and misses and its idle
// containers; the zero value when the pool is off.
func (a *Agent) WarmStats() WarmStats {
	if a.warm == nil {
		return WarmStats{}
	}
	return a.warm.stats()
}

// warmRoom is the node's capacity that its attempts do not hold.
func (a *Agent) warmRoom() provider.Shape {
	st := a.status(false)
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range a.execs {
		st.CPU -= e.as.Job.CPU
		st.MemoryMB -= e.as.Job.MemoryMB
	}
	return provider.Shape{CPU: st.CPU, MemoryMB: st.MemoryMB}
}

// reclaimMargin is how long before the reclaim a container is killed at
// the latest: its exit must still be reported.
const reclaimMargin = 5 * time.Second

// stopGrace is the grace of a container stopped now: StopGrace, or once
// the host's Spot interruption is noticed, InterruptionGrace ending at
// least reclaimMargin before the reclaim.
func (a *Agent) stopGrace(now time.Time) time.Duration {
	a.mu.Lock()
	at := a.reclaimAt
	a.mu.Unlock()
	if at.IsZero() || a.cfg.InterruptionGrace <= 0 {
		return a.cfg.StopGrace
	}
	return max(min(a.cfg.InterruptionGrace, at.Sub(now)-reclaimMargin), 0)
}

// Run heartbeats the node and runs its assignments until ctx ends. Running
// containers are left running when ctx ends, to be adopted by the next run.
func (a *Agent) Run(ctx context.Context) error {
	defer a.wg.Wait()
	go a.healthLoop(ctx) // first, so that a slow first check (a probe) delays no heartbeat
	a.checkHealth(ctx)
	switch {
	case a.cfg.Notices != nil:
		go a.watchNotices(ctx, a.cfg.Notices)
	case a.cfg.IMDS != nil:
		go a.watchNotices(ctx, a.cfg.IMDS)
	}
	if a.warm != nil {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.warm.run(ctx)
		}()
	}
	first := true
	var version uint64
	for ctx.Err() == nil {
		if err := a.displacedBy(); err != nil {
			return err
		}
		if !a.isHealthy() {
			if !sleep(ctx, a.cfg.HealthInterval) {
				break
			}
			a.checkHealth(ctx)
			continue
		}
		if a.needsReady() {
			if err := a.rejoin(ctx); err != nil {
				if ctx.Err() == nil {
					a.log.Warn("rejoin", "err", err)
					sleep(ctx, time.Second)
				}
				continue
			}
			first = false
		}
		var containers []provider.Status
		if first {
			if a.warm != nil {
				if err := a.warm.settle(ctx); err != nil {
					a.log.Warn("settle warm containers", "err", err)
					a.setHealthy(ctx, false, err.Error())
					continue
				}
			}
			cs, err := a.ownContainers(ctx)
			if err != nil {
				a.log.Warn("list containers", "err", err)
				a.setHealthy(ctx, false, err.Error())
				continue
			}
			containers = cs
		}
		as, v, err := a.poll(ctx, version)
		if errors.Is(err, ErrSessionConflict) {
			a.displace(err)
			continue
		}
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				a.log.Warn("poll assignments", "err", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		version = v
		a.reconcile(ctx, as, containers)
		if first {
			first = false
			continue // the containers were listed before the poll: adopted or removed already
		}
		a.sweepAside(ctx)
	}
	return nil
}

// sweepAside sweeps in the background, one sweep at a time, so that the
// next long-poll, and the start of the work it brings, does not wait for
// the engine's listing.
func (a *Agent) sweepAside(ctx context.Context) {
	if !a.sweeping.CompareAndSwap(false, true) {
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer a.sweeping.Store(false)
		if err := a.sweep(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("sweep containers", "err", err)
		}
	}()
}

// poll long-polls for assignments; a heartbeat that finds the node lost
// ends it early.
func (a *Agent) poll(ctx context.Context, version uint64) ([]berth.Assignment, uint64, error) {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a.mu.Lock()
	a.cancelPoll = cancel
	a.mu.Unlock()
	if a.needsReady() {
		return nil, 0, context.Canceled
	}
	as, v, err := a.server.Assignments(pctx, a.cfg.NodeID, version, a.cfg.PollWait)
	a.mu.Lock()
	a.cancelPoll = nil
	a.mu.Unlock()
	return as, v, err
}

// needsReady reports whether the server sees the node joining or lost: it
// gets no work until the agent has cleaned up and asked to be ready.
func (a *Agent) needsReady() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state == berth.NodeJoining || a.state == berth.NodeLost
}

// rejoin makes a joining or lost node ready: it reads what the server still
// lists, kills every execution and container it does not, waits until they
// are gone, and only then asks to be ready.
func (a *Agent) rejoin(ctx context.Context) error {
	as, _, err := a.server.Assignments(ctx, a.cfg.NodeID, 0, 0)
	if err != nil {
		return fmt.Errorf("read assignments: %w", err)
	}
	cs, err := a.ownContainers(ctx)
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	a.reconcile(ctx, as, cs)
	for !a.onlyListed() {
		if !sleep(ctx, 20*time.Millisecond) {
			return ctx.Err()
		}
	}
	if err := a.sweep(ctx); err != nil {
		return err
	}
	n, err := a.server.Register(ctx, a.cfg.NodeID, a.status(true))
	if err != nil {
		return fmt.Errorf("ask to be ready: %w", err)
	}
	a.setState(n.State)
	a.log.Info("node back at work", "node", a.cfg.NodeID, "state", n.State, "attempts", len(as))
	return nil
}

// onlyListed reports whether every execution is of an attempt the server
// listed last.
func (a *Agent) onlyListed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id := range a.execs {
		if !a.listed[id] {
			return false
		}
	}
	return true
}

// ownContainers lists this node's containers; other nodes may share the
// engine.
func (a *Agent) ownContainers(ctx context.Context) ([]provider.Status, error) {
	cs, err := a.runner.List(ctx)
	if err != nil {
		return nil, err
	}
	own := cs[:0]
	for _, c := range cs {
		if c.Node == a.cfg.NodeID {
			own = append(own, c)
		}
	}
	return own, nil
}

// reconcile makes the executions match the server's list: it starts one
// for each new assignment (adopting its container when containers holds
// one), stops those the server wants stopped, and kills those it no longer
// lists: their attempts were closed without this agent (the node was
// lost), so their jobs have moved on. Given containers, it also removes
// those no listed attempt owns.
func (a *Agent) reconcile(ctx context.Context, as []berth.Assignment, containers []provider.Status) {
	byAttempt := make(map[string]provider.Status, len(containers))
	for _, c := range containers {
		byAttempt[c.AttemptID] = c
	}
	listed := make(map[string]bool, len(as))
	a.mu.Lock()
	defer a.mu.Unlock()
	if ctx.Err() != nil {
		// Shutting down: executions are leaving their containers to the
		// next agent, and must not be started again in their place.
		return
	}
	for _, as := range as {
		listed[as.Attempt.ID] = true
	}
	a.listed = listed
	for id, e := range a.execs {
		if !listed[id] {
			e.kill()
		}
	}
	for _, as := range as {
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
		a.startLocked(ctx, as, existing)
	}
	for _, c := range containers {
		if !listed[c.AttemptID] {
			if _, ok := a.execs[c.AttemptID]; !ok {
				a.removeStale(ctx, c)
			}
		}
	}
}

// startLocked starts the execution of an assignment; a.mu is held.
func (a *Agent) startLocked(ctx context.Context, as berth.Assignment, existing *provider.Status) {
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

// sweep removes this node's containers that neither a listed attempt nor a
// running execution owns: leftovers of attempts the server closed.
func (a *Agent) sweep(ctx context.Context) error {
	cs, err := a.ownContainers(ctx)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range cs {
		_, running := a.execs[c.AttemptID]
		if !running && !a.listed[c.AttemptID] {
			a.removeStale(ctx, c)
		}
	}
	return nil
}

func (a *Agent) removeStale(ctx context.Context, c provider.Status) {
	a.log.Info("removing container no attempt wants", "container", c.ID, "attempt", c.AttemptID, "job", c.JobID)
	if err := a.runner.Remove(ctx, c.ID); err != nil && !errors.Is(err, provider.ErrNotFound) {
		a.log.Warn("remove stale container", "container", c.ID, "err", err)
	}
}

func (a *Agent) healthLoop(ctx context.Context) {
	if a.cfg.FenceAfter > 0 {
		go a.fenceLoop(ctx)
	}
	if a.cfg.OrphanAfter > 0 && a.cfg.PowerOff != nil {
		go a.orphanLoop(ctx, time.Now())
	}
	for sleep(ctx, a.cfg.HealthInterval) {
		a.checkHealth(ctx)
	}
}

// fenceLoop checks for a lost contact on its own ticker: a heartbeat stuck
// on a dead link must not hold it up.
func (a *Agent) fenceLoop(ctx context.Context) {
	for sleep(ctx, min(a.cfg.HealthInterval, a.cfg.FenceAfter/4)) {
		a.fenceIfCutOff()
	}
}

// fenceIfCutOff kills every execution when the server has taken no
// heartbeat for FenceAfter: the server will soon declare the node lost and
// run its work elsewhere, and a job must never have two live attempts.
func (a *Agent) fenceIfCutOff() {
	if a.cfg.FenceAfter <= 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lastBeat.IsZero() || time.Since(a.lastBeat) < a.cfg.FenceAfter || len(a.execs) == 0 {
		return
	}
	if !a.fenced {
		a.log.Warn("no heartbeat reached the server; killing this node's containers before the server re-runs their jobs elsewhere",
			"node", a.cfg.NodeID, "since", a.lastBeat, "containers", len(a.execs))
	}
	a.fenced = true
	for _, e := range a.execs {
		e.fence()
	}
}

// orphanLoop powers the host off once the server has taken no heartbeat
// for OrphanAfter (since started, until the first) and nothing runs. A
// power-off that fails is tried again each minute; one that succeeds ends
// the loop, the host going down.
func (a *Agent) orphanLoop(ctx context.Context, started time.Time) {
	var tried time.Time
	for sleep(ctx, min(a.cfg.HealthInterval, a.cfg.OrphanAfter/4)) {
		a.mu.Lock()
		last, running := a.lastBeat, len(a.execs)
		a.mu.Unlock()
		if last.IsZero() {
			last = started
		}
		if since := time.Since(last); since < a.cfg.OrphanAfter || running > 0 || time.Since(tried) < time.Minute {
			continue
		}
		tried = time.Now()
		a.log.Error("the server has been unreachable and this node runs nothing: powering the host off so that it stops billing",
			"node", a.cfg.NodeID, "last_heartbeat", last, "orphan_after", a.cfg.OrphanAfter)
		if err := a.cfg.PowerOff(); err != nil {
			a.log.Error("power off", "err", err)
			continue
		}
		return // the host is going down
	}
}

// displace stops this agent: the server let another agent process act for
// the node (this one went silent too long, and a copy of its data
// directory took over), or no longer takes its credential (the node was
// deleted). Its containers are killed at once, since the node's work is no
// longer this agent's, and Run returns err.
func (a *Agent) displace(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.displaced != nil {
		return
	}
	a.log.Error("this agent may no longer act for its node; killing its containers and stopping",
		"node", a.cfg.NodeID, "containers", len(a.execs), "err", err)
	a.displaced = fmt.Errorf("node %s: %w", a.cfg.NodeID, err)
	a.fenced = true
	for _, e := range a.execs {
		e.fence()
	}
	if a.cancelPoll != nil {
		a.cancelPoll()
	}
}

func (a *Agent) displacedBy() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.displaced
}

// checkHealth asks the engine for its capacity and heartbeats the node
// with it, healthy or not: not while the jobs' containers may reach the
// instance metadata service (cfg.ContainerIMDS).
func (a *Agent) checkHealth(ctx context.Context) {
	ictx, cancel := context.WithTimeout(ctx, max(a.cfg.HealthInterval, 5*time.Second))
	capa, err := a.runner.Info(ictx)
	cancel()
	if err != nil {
		reason := fmt.Sprintf("engine unavailable: %v", err)
		if errors.Is(err, provider.ErrUnavailable) && a.cfg.Engine != "" {
			reason = "Docker engine unreachable at " + a.cfg.Engine
		}
		a.setHealthy(ctx, false, reason)
		return
	}
	a.mu.Lock()
	a.engine = capa
	a.mu.Unlock()
	if reason := a.metadataRefusal(ctx); reason != "" {
		a.setHealthy(ctx, false, reason)
		return
	}
	st := a.status(false)
	st.Healthy = true
	a.register(ctx, st)
}

// status is the node's status: its configured capacity, else what the
// engine last reported.
func (a *Agent) status(ready bool) nodeapi.Status {
	a.mu.Lock()
	engine := a.engine
	a.mu.Unlock()
	st := nodeapi.Status{Name: a.cfg.Name, CPU: a.cfg.CPU, MemoryMB: a.cfg.MemoryMB, Facts: a.cfg.Facts, Ready: ready,
		Healthy: a.isHealthy()}
	if st.CPU == 0 {
		st.CPU = engine.CPU
	}
	if st.MemoryMB == 0 {
		st.MemoryMB = engine.MemoryMB
	}
	st.Facts.EngineID = engine.EngineID
	return st
}

func (a *Agent) setHealthy(ctx context.Context, ok bool, reason string) {
	st := a.status(false)
	st.Healthy, st.Reason = ok, reason
	a.register(ctx, st)
}

func (a *Agent) register(ctx context.Context, st nodeapi.Status) {
	n, err := a.server.Register(ctx, a.cfg.NodeID, st)
	if errors.Is(err, ErrSessionConflict) {
		a.displace(err)
		return
	}
	if errors.Is(err, ErrUnauthorized) {
		a.displace(fmt.Errorf("the server no longer takes this node's credential (the node was deleted or purged; run the agent again to join as a new node): %w", err))
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("heartbeat", "err", err)
		}
		return
	}
	a.mu.Lock()
	changed := a.healthy != st.Healthy
	a.healthy = st.Healthy
	a.lastBeat = time.Now()
	a.fenced = false
	a.mu.Unlock()
	if changed {
		a.log.Info("node health", "node", a.cfg.NodeID, "healthy", st.Healthy, "reason", st.Reason)
	}
	a.setState(n.State)
}

// setState records the node's state as the server sees it. A node the
// server declared lost ends the long-poll in flight, so that the agent
// cleans up at once.
func (a *Agent) setState(s berth.NodeState) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s == a.state {
		return
	}
	if a.state != "" || s != berth.NodeReady {
		a.log.Info("node state", "node", a.cfg.NodeID, "from", a.state, "to", s)
	}
	a.state = s
	if (s == berth.NodeLost || s == berth.NodeJoining) && a.cancelPoll != nil {
		a.cancelPoll()
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
