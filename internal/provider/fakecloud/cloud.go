// Package fakecloud is an in-memory cloud for tests and the simulator. A
// Cloud holds one set of instances; Cloud.Pool gives each berth pool its
// provider.Pool over it. Spot capacity and prices follow a trace (the
// published Spot traces, or a seeded Generator); launches boot for a while
// before they run; Spot instances get the two-minute interruption notice
// when their market runs dry, and launches then fail with
// *provider.InsufficientCapacityError. Knobs reclaim instances, cap
// capacity and fail the next call; Calls lists every call made.
//
// Serverless is a Fargate-like provider.Runner: each container starts after
// a 30–90 s latency and is priced per vCPU-second and GB-second.
//
// The cloud reads the time from its Clock, time.Now unless set: inside a
// testing/synctest bubble that is the bubble's clock, and the simulator
// passes its virtual one. It starts no goroutines and sets no timers: an
// instance's state is a function of the time.
package fakecloud

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/provider"
)

// Config tunes a Cloud; zero fields mean the default.
type Config struct {
	Zone string // default "fake-1a"
	// BootTime is how long a launched instance stays pending (a pool's
	// boot_time is berth's estimate of it, not the cloud's). Default 60s;
	// negative means none.
	BootTime time.Duration
	// Clock returns the time; default time.Now.
	Clock func() time.Time
	// RebalanceLead, when positive, sets an instance's rebalance
	// recommendation that long before its interruption notice.
	RebalanceLead time.Duration
	// Retention is how long terminated instances stay in List; default 1h.
	Retention time.Duration
	// DefaultSpotDiscount prices Spot for types with neither a market nor
	// a spot_price: this fraction of the on-demand price. Default 0.35.
	DefaultSpotDiscount float64
	// IDPrefix starts every instance id; default "i-". A cloud that
	// replaces another (a restarted server's) takes a new prefix, so that
	// its ids never name the old cloud's instances.
	IDPrefix string
	// MaxCalls bounds the call log to the latest calls (a long-running
	// server's cloud); 0 keeps them all.
	MaxCalls int
}

// Method names a provider.Pool method, for FailNext and the call log.
type Method string

// The methods of provider.Pool.
const (
	Offerings Method = "Offerings"
	Launch    Method = "Launch"
	Terminate Method = "Terminate"
	List      Method = "List"
)

// Call is one call made to a pool of the cloud. Arg is the instance type
// for Launch and the instance id for Terminate.
type Call struct {
	Method Method
	Pool   string
	Arg    string
	At     time.Time
	Err    error
}

// Cloud is the in-memory cloud. Its zero value is not usable; call New.
type Cloud struct {
	cfg Config

	// mu guards the fields below it.
	mu        sync.Mutex
	markets   map[string]*SpotMarket // by instance type
	capacity  map[capKey]int         // live instances allowed per offering
	failNext  map[Method][]error
	calls     []Call
	instances []*instance // in launch order
	byID      map[string]*instance
	tokens    map[string]*instance
	seq       int
	pruned    time.Time // when prune last ran
}

type capKey struct {
	typ    string
	market berth.Market
}

// instance is what the cloud keeps of an instance; its state at a time is
// computed by view.
type instance struct {
	base       provider.Instance // fixed at launch
	noticeAt   time.Time         // when Spot gives notice; zero: never
	terminated time.Time         // when berth terminated it; zero: not yet
}

// New returns an empty cloud.
func New(cfg Config) *Cloud {
	if cfg.Zone == "" {
		cfg.Zone = "fake-1a"
	}
	switch {
	case cfg.BootTime == 0:
		cfg.BootTime = time.Minute
	case cfg.BootTime < 0:
		cfg.BootTime = 0
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Retention == 0 {
		cfg.Retention = time.Hour
	}
	if cfg.DefaultSpotDiscount == 0 {
		cfg.DefaultSpotDiscount = 0.35
	}
	if cfg.IDPrefix == "" {
		cfg.IDPrefix = "i-"
	}
	return &Cloud{
		cfg:      cfg,
		markets:  make(map[string]*SpotMarket),
		capacity: make(map[capKey]int),
		failNext: make(map[Method][]error),
		byID:     make(map[string]*instance),
		tokens:   make(map[string]*instance),
	}
}

// Zone returns the cloud's one zone.
func (c *Cloud) Zone() string { return c.cfg.Zone }

// SetSpotMarket makes m the Spot market of instance type typ.
func (c *Cloud) SetSpotMarket(typ string, m *SpotMarket) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.markets[typ] = m
}

// SpotMarket returns the Spot market of typ, or nil if it has none yet.
func (c *Cloud) SpotMarket(typ string) *SpotMarket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.markets[typ]
}

// SetCapacity allows at most n live instances of typ in market; n < 0
// lifts the limit. Launches beyond it fail with insufficient capacity.
func (c *Cloud) SetCapacity(typ string, market berth.Market, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n < 0 {
		delete(c.capacity, capKey{typ, market})
		return
	}
	c.capacity[capKey{typ, market}] = n
}

// Reclaim gives the Spot instances ids their interruption notice now: they
// are reclaimed two minutes later. Unknown and on-demand ids are ignored.
func (c *Cloud) Reclaim(ids ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Clock()
	for _, id := range ids {
		in := c.byID[id]
		if in == nil || in.base.Market != berth.Spot {
			continue
		}
		if in.noticeAt.IsZero() || now.Before(in.noticeAt) {
			in.noticeAt = now
		}
	}
}

// FailNext makes the next call of m fail with err, doing nothing else.
// Errors queue: each call of m takes one.
func (c *Cloud) FailNext(m Method, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failNext[m] = append(c.failNext[m], err)
}

// Instance returns instance id as it is now, as the machine itself sees it
// (its instance metadata): not a call of the provider API, so not logged.
func (c *Cloud) Instance(id string) (provider.Instance, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	in := c.byID[id]
	if in == nil {
		return provider.Instance{}, false
	}
	return c.view(in, c.cfg.Clock()), true
}

// Instances returns the instances of pool that have not been terminated, as
// the machines themselves see it: not a call of the provider API, so not
// logged.
func (c *Cloud) Instances(pool string) []provider.Instance {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Clock()
	var out []provider.Instance
	for _, in := range c.instances {
		if in.base.Pool == pool && c.live(in, now) {
			out = append(out, c.view(in, now))
		}
	}
	return out
}

// Calls returns the calls made so far, in order (with MaxCalls set, at
// least the latest MaxCalls of them).
func (c *Cloud) Calls() []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

// NextChange returns the first moment after t when an instance changes on
// its own (finishes booting, gets a rebalance recommendation or a notice,
// is reclaimed), or the zero time if none will.
func (c *Cloud) NextChange(t time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var next time.Time
	consider := func(at time.Time) {
		if at.After(t) && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	for _, in := range c.instances {
		if !in.terminated.IsZero() && !in.terminated.After(t) {
			continue
		}
		consider(in.base.ReadyAt)
		if !in.noticeAt.IsZero() {
			if c.cfg.RebalanceLead > 0 {
				consider(in.noticeAt.Add(-c.cfg.RebalanceLead))
			}
			consider(in.noticeAt)
			consider(in.noticeAt.Add(berth.SpotNotice))
		}
	}
	return next
}

// begin logs a call and returns the error it is to fail with. c.mu must be
// held.
func (c *Cloud) begin(m Method, pool, arg string, now time.Time) error {
	var err error
	if q := c.failNext[m]; len(q) > 0 {
		err, c.failNext[m] = q[0], q[1:]
	}
	c.calls = append(c.calls, Call{Method: m, Pool: pool, Arg: arg, At: now, Err: err})
	if limit := c.cfg.MaxCalls; limit > 0 && len(c.calls) > 2*limit {
		c.calls = slices.Clone(c.calls[len(c.calls)-limit:])
	}
	return err
}

// view returns in as it is at now. c.mu must be held.
func (c *Cloud) view(in *instance, now time.Time) provider.Instance {
	v := in.base
	end := in.terminated
	if n := in.noticeAt; !n.IsZero() && (end.IsZero() || n.Before(end)) && !now.Before(n.Add(-c.cfg.RebalanceLead)) {
		v.Rebalance = c.cfg.RebalanceLead > 0 || !now.Before(n)
		if !now.Before(n) {
			v.InterruptAt = n.Add(berth.SpotNotice)
			if !now.Before(v.InterruptAt) && (end.IsZero() || v.InterruptAt.Before(end)) {
				v.State, v.Reclaimed, v.TerminatedAt = provider.InstanceTerminated, true, v.InterruptAt
				return v
			}
		}
	}
	switch {
	case !end.IsZero() && !now.Before(end):
		v.State, v.TerminatedAt = provider.InstanceTerminated, end
	case !now.Before(v.ReadyAt):
		v.State = provider.InstanceRunning
	default:
		v.State = provider.InstancePending
	}
	return v
}

// live reports whether in holds capacity at now. c.mu must be held.
func (c *Cloud) live(in *instance, now time.Time) bool {
	return c.view(in, now).State != provider.InstanceTerminated
}

// prune forgets instances terminated longer than the retention ago, now
// and then. c.mu must be held.
func (c *Cloud) prune(now time.Time) {
	if now.Sub(c.pruned) < c.cfg.Retention/4 {
		return
	}
	c.pruned = now
	cut := now.Add(-c.cfg.Retention)
	keep := c.instances[:0]
	for _, in := range c.instances {
		v := c.view(in, now)
		if v.State == provider.InstanceTerminated && v.TerminatedAt.Before(cut) {
			delete(c.byID, in.base.ID)
			if tok := in.base.Tags[provider.TagToken]; tok != "" {
				delete(c.tokens, tok)
			}
			continue
		}
		keep = append(keep, in)
	}
	clear(c.instances[len(keep):])
	c.instances = keep
}

// Pool returns the provider.Pool of the berth pool spec on this cloud.
// Calling it again for the same pool name sees the same instances, as
// berth does after a restart.
func (c *Cloud) Pool(spec berth.PoolSpec) *Pool {
	spec = spec.WithDefaults()
	c.mu.Lock()
	defer c.mu.Unlock()
	if spec.Market == berth.Spot {
		for _, t := range spec.InstanceTypes {
			if c.markets[t.Name] == nil {
				p := t.SpotPrice
				if p == 0 {
					p = t.Price * c.cfg.DefaultSpotDiscount
				}
				c.markets[t.Name] = AlwaysAvailable(p)
			}
		}
	}
	return &Pool{c: c, spec: spec}
}

// Pool is one berth pool's view of the cloud.
type Pool struct {
	c    *Cloud
	spec berth.PoolSpec
}

var _ provider.Pool = (*Pool)(nil)

// Offerings lists the pool's instance types in its market at their
// current prices.
func (p *Pool) Offerings(ctx context.Context) ([]provider.Offering, error) {
	c := p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Clock()
	if err := c.begin(Offerings, p.spec.Name, "", now); err != nil {
		return nil, err
	}
	out := make([]provider.Offering, 0, len(p.spec.InstanceTypes))
	for _, t := range p.spec.InstanceTypes {
		out = append(out, provider.Offering{
			InstanceType: t.Name, CPU: t.CPU, MemoryMB: t.MemoryMB,
			Market: p.spec.Market, Zone: c.cfg.Zone, Price: c.price(t, p.spec.Market, now),
		})
	}
	return out, nil
}

// price is the price of t in market at now. c.mu must be held.
func (c *Cloud) price(t berth.InstanceType, market berth.Market, now time.Time) float64 {
	if market == berth.Spot {
		if m := c.markets[t.Name]; m != nil {
			return m.Price(now)
		}
	}
	return t.Price
}

// Launch starts an instance of the pool.
func (p *Pool) Launch(ctx context.Context, req provider.LaunchRequest) (provider.Instance, error) {
	c := p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Clock()
	if err := c.begin(Launch, p.spec.Name, req.InstanceType, now); err != nil {
		return provider.Instance{}, err
	}
	if in := c.tokens[req.Token]; req.Token != "" && in != nil {
		return c.view(in, now), nil
	}
	market := req.Market
	if market == "" {
		market = p.spec.Market
	}
	t, ok := p.spec.InstanceType(req.InstanceType)
	if !ok || market != p.spec.Market || (req.Zone != "" && req.Zone != c.cfg.Zone) {
		return provider.Instance{}, fmt.Errorf("launch %s %s in %q: %w", market, req.InstanceType, req.Zone, provider.ErrNoOffering)
	}
	ice := &provider.InsufficientCapacityError{InstanceType: t.Name, Market: market, Zone: c.cfg.Zone}
	m := c.markets[t.Name]
	if market == berth.Spot && m != nil && !m.Available(now) {
		return provider.Instance{}, ice
	}
	if limit, ok := c.capacity[capKey{t.Name, market}]; ok {
		n := 0
		for _, in := range c.instances {
			if in.base.InstanceType == t.Name && in.base.Market == market && c.live(in, now) {
				n++
			}
		}
		if n >= limit {
			return provider.Instance{}, ice
		}
	}
	c.prune(now)
	c.seq++
	boot := c.cfg.BootTime
	tags := maps.Clone(req.Tags)
	if tags == nil {
		tags = make(map[string]string, 2)
	}
	tags[provider.TagPool] = p.spec.Name
	if req.Token != "" {
		tags[provider.TagToken] = req.Token
	}
	in := &instance{base: provider.Instance{
		ID: fmt.Sprintf("%s%08x", c.cfg.IDPrefix, c.seq), Pool: p.spec.Name, InstanceType: t.Name, Market: market,
		Zone: c.cfg.Zone, CPU: t.CPU, MemoryMB: t.MemoryMB, Tags: tags,
		LaunchedAt: now, ReadyAt: now.Add(boot),
	}}
	if market == berth.Spot && m != nil {
		in.noticeAt = m.NextDown(now)
	}
	c.instances = append(c.instances, in)
	c.byID[in.base.ID] = in
	if req.Token != "" {
		c.tokens[req.Token] = in
	}
	return c.view(in, now), nil
}

// Terminate terminates an instance of the pool.
func (p *Pool) Terminate(ctx context.Context, id string) error {
	c := p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Clock()
	if err := c.begin(Terminate, p.spec.Name, id, now); err != nil {
		return err
	}
	in := c.byID[id]
	if in == nil || in.base.Pool != p.spec.Name {
		return fmt.Errorf("terminate %s: %w", id, provider.ErrNoInstance)
	}
	if c.live(in, now) {
		in.terminated = now
	}
	return nil
}

// List returns the pool's instances, and those terminated within the
// retention.
func (p *Pool) List(ctx context.Context) ([]provider.Instance, error) {
	c := p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Clock()
	if err := c.begin(List, p.spec.Name, "", now); err != nil {
		return nil, err
	}
	c.prune(now)
	var out []provider.Instance
	for _, in := range c.instances {
		if in.base.Pool == p.spec.Name {
			out = append(out, c.view(in, now))
		}
	}
	return out, nil
}
