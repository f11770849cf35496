// Package fakehost plays, inside the server's process, the machines of
// berth's fake providers, so that a configuration with fake pools runs for
// real. Each running instance of a fake pool (provider "fake") gets a node
// agent (internal/agent) over the server's own side of the agent protocol,
// on an in-memory engine (provider/fake: containers scripted by FAKE_*
// variables). The agent registers the node in the instance's pool with the
// instance's type, market and price, hears the fake cloud's Spot notices
// the way an EC2 agent hears them from the instance metadata service, and
// stops when its instance is terminated or reclaimed.
//
// A serverless pool is one node in the server's process: for provider
// "fake-serverless" its engine is the Fargate-like fakecloud.Serverless,
// where each container starts after the runner's latency; for provider
// "fargate" it is the ECS runner the pool is given (provider/fargate). Its agent reports starts and ends like any
// other, so its attempts have the lifecycle, timeouts, cancels and logs
// of every attempt.
package fakehost

import (
	"context"
	"log/slog"
	"sync"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/agent"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/fake"
	"github.com/berth-run/berth/internal/provider/fakecloud"
)

// Pool is a fake pool and the cloud its instances live in; a serverless
// pool has no cloud.
type Pool struct {
	Spec  berth.PoolSpec // with defaults
	Cloud *fakecloud.Cloud
	// Runner, when set, is a serverless pool's engine: a fargate pool's
	// ECS tasks. Without it, a serverless pool runs on the Fargate-like
	// fakecloud.Serverless.
	Runner provider.Runner
}

// Registry creates the nodes the agents heartbeat (control.Registry).
type Registry interface {
	Ensure(ctx context.Context, id, pool, name string) error
}

// Config tunes the machines; zero fields mean the default.
type Config struct {
	// Interval is how often the clouds are looked at for instances that
	// finished booting or ended.
	Interval time.Duration // default 1s
	// HealthInterval, PollWait and NoticeInterval are the agents'; zero
	// means the agent's default.
	HealthInterval time.Duration
	PollWait       time.Duration
	NoticeInterval time.Duration
	// Seed draws the serverless runners' start latencies.
	Seed uint64
	// Secrets reads the agents' secret_env references (nil: none).
	Secrets agent.Secrets
}

// Hosts runs the agents of the fake pools' machines.
type Hosts struct {
	cfg    Config
	pools  []Pool
	server agent.Server
	reg    Registry
	logs   agent.LogSink
	log    *slog.Logger

	// mu guards running.
	mu      sync.Mutex
	running map[string]*machine // by instance id
	wg      sync.WaitGroup
}

// machine is one running instance and its agent.
type machine struct {
	node   string
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns the machines of pools; their agents talk to server and are
// created in reg.
func New(cfg Config, pools []Pool, server agent.Server, reg Registry, logs agent.LogSink, log *slog.Logger) *Hosts {
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	return &Hosts{cfg: cfg, pools: pools, server: server, reg: reg, logs: logs, log: log, running: map[string]*machine{}}
}

// ServerlessNode is the id of the node that runs serverless pool's
// attempts.
func ServerlessNode(pool string) string { return "node_serverless_" + pool }

// Run starts the serverless pools' agents and follows the clouds'
// instances until ctx ends; then it stops every agent.
func (h *Hosts) Run(ctx context.Context) error {
	defer h.wg.Wait()
	for _, p := range h.pools {
		if p.Spec.IsServerless() {
			if err := h.startServerless(ctx, p); err != nil {
				return err
			}
		}
	}
	for {
		h.sync(ctx)
		t := time.NewTimer(h.cfg.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Nodes returns the node of each instance that has an agent.
func (h *Hosts) Nodes() map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]string, len(h.running))
	for id, m := range h.running {
		out[id] = m.node
	}
	return out
}

// sync starts an agent for each instance that runs and has none, and stops
// the agents of instances that ended.
func (h *Hosts) sync(ctx context.Context) {
	live := map[string]bool{}
	for _, p := range h.pools {
		if p.Cloud == nil {
			continue
		}
		for _, in := range p.Cloud.Instances(p.Spec.Name) {
			if in.State != provider.InstanceRunning {
				continue
			}
			live[in.ID] = true
			h.mu.Lock()
			_, ok := h.running[in.ID]
			h.mu.Unlock()
			if !ok {
				h.start(ctx, p, in)
			}
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, m := range h.running {
		if !live[id] {
			m.cancel()
			delete(h.running, id)
			h.log.Info("machine stopped: its instance ended", "instance", id, "node", m.node)
		}
	}
}

// start boots the agent of instance in.
func (h *Hosts) start(ctx context.Context, p Pool, in provider.Instance) {
	now := time.Now()
	id := berth.NewID("node", now)
	if err := h.reg.Ensure(ctx, id, p.Spec.Name, in.ID); err != nil {
		if ctx.Err() == nil {
			h.log.Warn("create the node of an instance", "instance", in.ID, "err", err)
		}
		return
	}
	facts := nodeapi.Facts{InstanceID: in.ID, InstanceType: in.InstanceType, Zone: in.Zone, Market: string(in.Market),
		Price: price(p, in, now)}
	cfg := agent.Config{NodeID: id, Name: in.ID, CPU: in.CPU, MemoryMB: in.MemoryMB, Facts: facts,
		InterruptionGrace: time.Duration(p.Spec.InterruptionGrace), HealthInterval: h.cfg.HealthInterval, PollWait: h.cfg.PollWait,
		Notices: notices{cloud: p.Cloud, id: in.ID}, NoticeInterval: h.cfg.NoticeInterval, Secrets: h.cfg.Secrets}
	runner := fake.New(provider.Capacity{CPU: in.CPU, MemoryMB: in.MemoryMB})
	h.run(ctx, in.ID, id, agent.New(cfg, h.server, runner, h.logs, h.log.With("instance", in.ID)))
	h.log.Info("machine started", "pool", p.Spec.Name, "instance", in.ID, "node", id, "type", in.InstanceType,
		"market", in.Market, "price", facts.Price)
}

// startServerless starts the agent of serverless pool p's node.
func (h *Hosts) startServerless(ctx context.Context, p Pool) error {
	id := ServerlessNode(p.Spec.Name)
	if err := h.reg.Ensure(ctx, id, p.Spec.Name, p.Spec.Name); err != nil {
		return err
	}
	runner := p.Runner
	if runner == nil {
		s := *p.Spec.Serverless
		fake := fakecloud.NewServerless(s, h.cfg.Seed)
		lat := time.Duration(s.StartLatency)
		fake.SetStartLatency(lat/2, lat*3/2)
		runner = fake
	}
	cfg := agent.Config{NodeID: id, Name: p.Spec.Name + " (serverless)", CPU: berth.MaxCPU, MemoryMB: berth.MaxMemoryMB,
		Facts: nodeapi.Facts{Market: string(berth.OnDemand)}, HealthInterval: h.cfg.HealthInterval, PollWait: h.cfg.PollWait, Secrets: h.cfg.Secrets}
	h.run(ctx, "", id, agent.New(cfg, h.server, runner, h.logs, h.log.With("pool", p.Spec.Name)))
	return nil
}

// run runs an agent until its machine stops or ctx ends.
func (h *Hosts) run(ctx context.Context, instance, node string, ag *agent.Agent) {
	actx, cancel := context.WithCancel(ctx)
	m := &machine{node: node, cancel: cancel, done: make(chan struct{})}
	if instance != "" {
		h.mu.Lock()
		h.running[instance] = m
		h.mu.Unlock()
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer close(m.done)
		defer cancel()
		if err := ag.Run(actx); err != nil && actx.Err() == nil {
			h.log.Error("agent stopped", "node", node, "err", err)
		}
	}()
}

// price is what instance in costs per hour now: the Spot price of the
// moment, or the on-demand price.
func price(p Pool, in provider.Instance, now time.Time) float64 {
	t, _ := p.Spec.InstanceType(in.InstanceType)
	if in.Market == berth.Spot {
		if m := p.Cloud.SpotMarket(t.Name); m != nil {
			return m.Price(now)
		}
	}
	return t.Price
}

// notices reads an instance's Spot notices from the fake cloud, as an EC2
// agent reads them from the instance metadata service.
type notices struct {
	cloud *fakecloud.Cloud
	id    string
}

// Notices implements agent.NoticeSource.
func (n notices) Notices(ctx context.Context) ([]nodeapi.Notice, error) {
	in, ok := n.cloud.Instance(n.id)
	if !ok {
		return nil, nil
	}
	var out []nodeapi.Notice
	switch {
	case in.Interrupted():
		at := in.InterruptAt
		out = append(out, nodeapi.Notice{Kind: nodeapi.SpotInterruption, Action: "terminate", Time: &at})
	case in.Rebalance:
		out = append(out, nodeapi.Notice{Kind: nodeapi.Rebalance})
	}
	return out, nil
}
