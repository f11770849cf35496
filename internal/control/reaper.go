package control

import (
	"context"
	"log/slog"
	"time"

	"github.com/berth-run/berth/internal/nodeapi"
)

// LeaseConfig sets how long a node's lease lasts and how the reaper works;
// zero fields mean the default.
type LeaseConfig struct {
	// TTL is how long a node may stay silent before it is lost. Agents
	// heartbeat several times per TTL.
	TTL time.Duration // default 30s
	// Interval is how often the reaper looks.
	Interval time.Duration // default TTL/10, at most 1s
	// FlushEvery is how often heartbeats are written to the store.
	FlushEvery time.Duration // default 10s
	// PurgeAfter is how long a node that joined and was never heard from
	// again is kept before its row is deleted.
	PurgeAfter time.Duration // default 15m
}

func (c LeaseConfig) withDefaults() LeaseConfig {
	if c.TTL == 0 {
		c.TTL = 30 * time.Second
	}
	if c.Interval == 0 {
		c.Interval = min(c.TTL/10, time.Second)
	}
	if c.FlushEvery == 0 {
		c.FlushEvery = 10 * time.Second
	}
	if c.PurgeAfter == 0 {
		c.PurgeAfter = 15 * time.Minute
	}
	return c
}

// Reaper is the loop that declares lost the nodes whose lease lapsed (their
// attempts are closed as lost, reason "node lost", and their jobs
// re-queued without spending a retry), stops and re-queues the work of
// nodes whose drain deadline has come, flushes heartbeats to the store,
// and purges the nodes that joined and were never heard from again.
type Reaper struct {
	cfg LeaseConfig
	reg *Registry
	log *slog.Logger
}

// NewReaper returns the reaper of reg's nodes.
func NewReaper(cfg LeaseConfig, reg *Registry, log *slog.Logger) *Reaper {
	return &Reaper{cfg: cfg.withDefaults(), reg: reg, log: log}
}

// Run reaps until ctx ends.
func (p *Reaper) Run(ctx context.Context) error {
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	lastFlush := time.Now()
	for {
		select {
		case <-ctx.Done():
			_ = p.reg.Flush(context.WithoutCancel(ctx))
			return nil
		case now := <-t.C:
			if err := p.Round(ctx, now); err != nil && ctx.Err() == nil {
				p.log.Error("reaper round", "err", err)
			}
			if now.Sub(lastFlush) >= p.cfg.FlushEvery {
				lastFlush = now
				if err := p.reg.Flush(ctx); err != nil && ctx.Err() == nil {
					p.log.Error("flush heartbeats", "err", err)
				}
				if err := p.reg.purge(ctx, now.Add(-p.cfg.PurgeAfter)); err != nil && ctx.Err() == nil {
					p.log.Error("purge silent nodes", "err", err)
				}
			}
		}
	}
}

// Round loses the nodes silent for longer than the TTL at now and acts on
// the drain deadlines that have come.
func (p *Reaper) Round(ctx context.Context, now time.Time) error {
	leases, err := p.reg.store.Leases(ctx)
	if err != nil {
		return err
	}
	for _, l := range leases {
		if since := p.reg.leaseStart(l); now.Sub(since) > p.cfg.TTL {
			if err := p.reg.lose(ctx, l.ID, since); err != nil {
				return err
			}
		}
	}
	due, err := p.reg.store.DrainsDue(ctx, now)
	if err != nil {
		return err
	}
	for _, id := range due {
		n, err := p.reg.store.NodeInfo(ctx, id)
		if err != nil {
			return err
		}
		reason := "drained from " + nodeLabel(n)
		if n.Notice == nodeapi.SpotInterruption {
			reason = "spot reclaimed on " + nodeLabel(n)
		}
		if err := p.reg.requeue(ctx, n, reason); err != nil {
			return err
		}
	}
	return nil
}
