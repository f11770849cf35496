package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/provider"
)

// WarmConfig is the agent's warm pool: containers started ahead of jobs,
// per (image, shape), whose shim execs the job's process when an attempt
// claims one (docs/warm.md). Zero fields mean the default; a nil Runner
// or a negative Max turns the pool off.
type WarmConfig struct {
	Runner provider.WarmRunner
	// Max is the most warm containers the node keeps; default 4.
	Max int
	// TTL is both how far back the images and shapes run on the node are
	// counted, and how old a warm container may grow before it is
	// replaced; default 10m.
	TTL time.Duration
	// Interval is how often the pool is brought to what it should be,
	// besides after each use; default 2s.
	Interval time.Duration
	// ClaimTimeout bounds a claim; one that takes longer is abandoned
	// and the job starts cold. Default 5s.
	ClaimTimeout time.Duration
}

func (c WarmConfig) enabled() bool { return c.Runner != nil && c.Max >= 0 }

func (c WarmConfig) withDefaults() WarmConfig {
	if c.Max == 0 {
		c.Max = 4
	}
	if c.TTL == 0 {
		c.TTL = 10 * time.Minute
	}
	if c.Interval == 0 {
		c.Interval = 2 * time.Second
	}
	if c.ClaimTimeout == 0 {
		c.ClaimTimeout = 5 * time.Second
	}
	return c
}

// createBackoff is how long the pool waits before it creates a warm
// container of an image and shape again after a failure.
const createBackoff = 5 * time.Minute

// replaceAfter is how long after a use its replacement begins.
const replaceAfter = 250 * time.Millisecond

// warmKey is what a warm container serves: jobs of one image and shape.
type warmKey struct {
	Image string
	Shape provider.Shape
}

// keyOf is the warm key of a job.
func keyOf(job berth.Job) warmKey {
	pids := job.PIDs
	if pids <= 0 {
		pids = berth.DefaultPIDs
	}
	return warmKey{job.Image, provider.Shape{CPU: job.CPU, MemoryMB: job.MemoryMB, PIDs: pids}}
}

// warmUse is one attempt started on the node.
type warmUse struct {
	key warmKey
	at  time.Time
}

// WarmStats counts the attempts that found a warm container and those
// that started cold.
type WarmStats struct {
	Hits, Misses int
	// Idle is the idle warm containers by image.
	Idle map[string]int
}

// warmPool keeps the node's warm containers.
type warmPool struct {
	cfg  WarmConfig
	node string
	log  *slog.Logger
	room func() provider.Shape // the node's capacity not held by its attempts
	kick chan struct{}
	// failed is when creating a warm container of a key last failed;
	// only run's goroutine uses it.
	failed map[warmKey]time.Time

	// mu guards the fields below.
	mu           sync.Mutex
	uses         []warmUse                   // within TTL, oldest first
	idle         map[warmKey][]provider.Warm // oldest first
	taken        map[string]bool             // claimed by this agent: the loop leaves them be
	hits, misses int
}

func newWarmPool(cfg WarmConfig, node string, log *slog.Logger, room func() provider.Shape) *warmPool {
	return &warmPool{cfg: cfg.withDefaults(), node: node, log: log, room: room, kick: make(chan struct{}, 1),
		failed: map[warmKey]time.Time{}, idle: map[warmKey][]provider.Warm{}, taken: map[string]bool{}}
}

// take returns an idle warm container for job, taken out of the pool, and
// records the use.
func (p *warmPool) take(job berth.Job, now time.Time) (provider.Warm, bool) {
	k := keyOf(job)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.uses = append(p.uses, warmUse{k, now})
	// The replacement waits a little: creating a container takes the
	// engine's CPU from the job's start.
	defer time.AfterFunc(replaceAfter, p.wake)
	// A job's labels go on its container, which a warm one cannot take
	// after its creation: such a job starts cold.
	if len(job.Labels) > 0 {
		p.misses++
		return provider.Warm{}, false
	}
	ws := p.idle[k]
	if len(ws) == 0 {
		p.misses++
		return provider.Warm{}, false
	}
	// The newest: the oldest are the first to expire anyway.
	w := ws[len(ws)-1]
	p.idle[k] = ws[:len(ws)-1]
	p.taken[w.ID] = true
	p.hits++
	return w, true
}

func (p *warmPool) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *warmPool) stats() WarmStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := WarmStats{Hits: p.hits, Misses: p.misses, Idle: map[string]int{}}
	for k, ws := range p.idle {
		if len(ws) > 0 {
			st.Idle[k.Image] += len(ws)
		}
	}
	return st
}

// run keeps the pool until ctx ends, and then removes its idle
// containers: a stopped agent leaves no shim waiting. Claimed ones are
// left to the next agent, which adopts them.
func (p *warmPool) run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			p.drain()
			return
		case <-t.C:
		case <-p.kick:
		}
		if err := p.reconcile(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("warm containers", "err", err)
		}
		t.Reset(p.cfg.Interval)
	}
}

// drain removes the pool's idle containers, taking them out first so
// that no claim gets one.
func (p *warmPool) drain() {
	p.mu.Lock()
	idle := p.idle
	p.idle = map[warmKey][]provider.Warm{}
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, ws := range idle {
		for _, w := range ws {
			p.remove(ctx, w, "the agent stops")
		}
	}
}

// settle decides the claims that an earlier agent left undecided (it
// stopped mid-claim): each is abandoned, unless its shim ran the job's
// process already, which then is its attempt's container. Run calls it
// before it first lists the node's containers, so that no job's process
// starts in a warm container once its attempt may start elsewhere.
func (p *warmPool) settle(ctx context.Context) error {
	ws, err := p.cfg.Runner.ListWarm(ctx)
	if err != nil {
		return err
	}
	for _, w := range ws {
		if w.Node != p.node || w.State != provider.WarmClaimed {
			continue
		}
		ran, err := p.cfg.Runner.Abandon(ctx, w)
		if err != nil {
			return err
		}
		p.log.Info("settled a claim left undecided", "container", w.ID, "attempt", w.AttemptID, "ran", ran)
	}
	return nil
}

// reconcile brings the pool to what it should be: it removes the warm
// containers that are used up, expired, of an image whose tag moved, or
// surplus, and creates the missing ones.
func (p *warmPool) reconcile(ctx context.Context) error {
	ws, err := p.cfg.Runner.ListWarm(ctx)
	if err != nil {
		return err
	}
	have, listed := p.sort(ctx, ws, time.Now())
	room := p.room()
	p.mu.Lock()
	for id := range p.taken {
		if !listed[id] {
			delete(p.taken, id)
		}
	}
	now := time.Now()
	p.uses = slices.DeleteFunc(p.uses, func(u warmUse) bool { return now.Sub(u.at) > p.cfg.TTL })
	want := warmWanted(p.uses, p.cfg.Max, room)
	p.mu.Unlock()
	for k, list := range have {
		slices.SortFunc(list, func(a, b provider.Warm) int { return a.Created.Compare(b.Created) })
		for len(list) > want[k] {
			p.remove(ctx, list[0], "not wanted")
			list = list[1:]
		}
		have[k] = list
	}
	p.publish(have)
	var errs []error
	for _, k := range slices.SortedFunc(maps.Keys(want), compareKeys) {
		if at, ok := p.failed[k]; ok && time.Since(at) < createBackoff {
			continue
		}
		for len(have[k]) < want[k] && ctx.Err() == nil {
			w, err := p.cfg.Runner.CreateWarm(ctx, p.node, k.Image, k.Shape)
			if err != nil {
				// Tried again after a while, not at every round: an
				// image the shim cannot run in stays cold.
				p.failed[k] = time.Now()
				errs = append(errs, fmt.Errorf("%w (tried again in %s)", err, createBackoff))
				break
			}
			delete(p.failed, k)
			have[k] = append(have[k], w)
			p.publish(have)
		}
	}
	return errors.Join(errs...)
}

// sort goes through the engine's warm containers: it settles and removes
// this node's that serve no one any more (abandoned, exited, older than
// the TTL, of an image whose tag moved) and returns the idle ones that
// may stay, and every listed id.
func (p *warmPool) sort(ctx context.Context, ws []provider.Warm, now time.Time) (map[warmKey][]provider.Warm, map[string]bool) {
	r := p.cfg.Runner
	ids := map[string]string{} // image → its id now
	have := map[warmKey][]provider.Warm{}
	listed := map[string]bool{}
	for _, w := range ws {
		listed[w.ID] = true
		if w.Node != p.node || p.isTaken(w.ID) || w.State == provider.WarmRan {
			continue // another node's, being claimed, or its attempt's now
		}
		switch w.State {
		case provider.WarmIdle:
		case provider.WarmClaimed: // by an agent that stopped mid-claim
			if ran, err := r.Abandon(ctx, w); err == nil && !ran {
				p.remove(ctx, w, "claim abandoned")
			}
			continue
		default: // abandoned, or its shim ended
			p.remove(ctx, w, string(w.State))
			continue
		}
		if now.Sub(w.Created) > p.cfg.TTL {
			p.remove(ctx, w, "older than the TTL")
			continue
		}
		id, ok := ids[w.Image]
		if !ok {
			id, _ = r.ImageID(ctx, w.Image)
			ids[w.Image] = id
		}
		if id != w.ImageID {
			p.remove(ctx, w, "image changed")
			continue
		}
		k := warmKey{w.Image, w.Shape}
		have[k] = append(have[k], w)
	}
	return have, listed
}

// publish makes have the pool's idle containers, but for those taken
// meanwhile.
func (p *warmPool) publish(have map[warmKey][]provider.Warm) {
	p.mu.Lock()
	defer p.mu.Unlock()
	idle := make(map[warmKey][]provider.Warm, len(have))
	for k, ws := range have {
		for _, w := range ws {
			if !p.taken[w.ID] {
				idle[k] = append(idle[k], w)
			}
		}
	}
	p.idle = idle
}

func (p *warmPool) isTaken(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.taken[id]
}

// remove removes a warm container that serves no one.
func (p *warmPool) remove(ctx context.Context, w provider.Warm, why string) {
	p.mu.Lock()
	if p.taken[w.ID] {
		p.mu.Unlock()
		return
	}
	// Out of the pool first, so that no claim takes it now.
	for k, ws := range p.idle {
		p.idle[k] = slices.DeleteFunc(ws, func(x provider.Warm) bool { return x.ID == w.ID })
	}
	p.mu.Unlock()
	p.log.Debug("removing warm container", "container", w.ID, "image", w.Image, "why", why)
	if err := p.cfg.Runner.Remove(ctx, w.ID); err != nil && !errors.Is(err, provider.ErrNotFound) {
		p.log.Warn("remove warm container", "container", w.ID, "err", err)
	}
}

// warmWanted is how many warm containers of each image and shape to keep
// for the uses of the last TTL: the most used first, then the most
// recently, one each in turn, never more of one than its uses, at most
// max in all and never more than fit in room.
func warmWanted(uses []warmUse, max int, room provider.Shape) map[warmKey]int {
	count := map[warmKey]int{}
	last := map[warmKey]time.Time{}
	for _, u := range uses {
		count[u.key]++
		if u.at.After(last[u.key]) {
			last[u.key] = u.at
		}
	}
	keys := slices.Collect(maps.Keys(count))
	slices.SortFunc(keys, func(a, b warmKey) int {
		if c := cmp.Compare(count[b], count[a]); c != 0 {
			return c
		}
		if c := last[b].Compare(last[a]); c != 0 {
			return c
		}
		return compareKeys(a, b)
	})
	want := map[warmKey]int{}
	total := 0
	for round := 1; total < max; round++ {
		added := false
		for _, k := range keys {
			if total >= max {
				break
			}
			if count[k] < round || k.Shape.CPU > room.CPU || k.Shape.MemoryMB > room.MemoryMB {
				continue
			}
			want[k]++
			total++
			room.CPU -= k.Shape.CPU
			room.MemoryMB -= k.Shape.MemoryMB
			added = true
		}
		if !added {
			break
		}
	}
	return want
}

func compareKeys(a, b warmKey) int {
	return cmp.Or(cmp.Compare(a.Image, b.Image), cmp.Compare(a.Shape.CPU, b.Shape.CPU),
		cmp.Compare(a.Shape.MemoryMB, b.Shape.MemoryMB), cmp.Compare(a.Shape.PIDs, b.Shape.PIDs))
}
