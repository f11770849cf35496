// Package ec2fake is an in-memory Amazon EC2 that speaks EC2's wire
// protocol, so that the real aws-sdk-go-v2 EC2 client, pointed at it with
// BaseEndpoint (or AWS_ENDPOINT_URL) and any static credentials, works
// against it. A Fake is an http.Handler: serve it with httptest.NewServer.
//
// It answers the actions berth's EC2 pools use: CreateFleet (type instant),
// DescribeInstances, TerminateInstances, DescribeInstanceTypes,
// DescribeSpotPriceHistory, DescribeSubnets, DescribeSecurityGroups,
// DescribeLaunchTemplates and DescribeLaunchTemplateVersions,
// with EC2's error codes and HTTP statuses; any other action is
// InvalidAction. Requests are the EC2 query protocol (form-encoded
// Action=...&Version=2016-11-15, lists as Name.N and Filter.N.Value.M);
// answers are XML in the 2016-11-15 namespace.
//
// Knobs change the world as a test needs it: instance types, subnets,
// launch templates, prices per type and zone, capacity per type, zone and
// market (SetCapacity, Exhaust, Restore), throttling (Throttle), denied
// actions (Deny) and Spot interruptions (Interrupt). Calls lists every
// request answered.
//
// The fake reads the time from its Clock, time.Now unless set, and starts
// no goroutines: an instance's state (pending, running, shutting-down,
// terminated) is a function of the time, so tests run in virtual time.
package ec2fake

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Market is a purchasing option.
type Market string

// The markets, spelt as EC2 spells them.
const (
	OnDemand Market = "on-demand"
	Spot     Market = "spot"
)

// SpotNotice is how long after its interruption notice EC2 reclaims a Spot
// instance.
const SpotNotice = 2 * time.Minute

// The reasons an instance stopped, as its stateReason code.
const (
	ReasonUser = "Client.UserInitiatedShutdown"
	ReasonSpot = "Server.SpotInstanceTermination"
)

// Config tunes a Fake; zero fields mean the default.
type Config struct {
	Region string   // default "us-east-1"
	Zones  []string // default Region+"a", "b" and "c"
	// NoDefaultVPC leaves out the default VPC, and so its one default
	// subnet per zone: a fleet override must then name a subnet.
	NoDefaultVPC bool
	// InstanceTypes are the types on offer; default DefaultInstanceTypes().
	InstanceTypes []InstanceType
	// Clock returns the time; default time.Now.
	Clock func() time.Time
	// BootTime is how long a launched instance stays pending. Default 30s;
	// negative means none.
	BootTime time.Duration
	// ShutdownTime is how long a terminated instance stays shutting-down
	// before it is terminated; default none.
	ShutdownTime time.Duration
	// Retention is how long terminated instances stay visible to
	// DescribeInstances; default 1h, as EC2.
	Retention time.Duration
	// Launched, when set, is called with each instance the fake creates,
	// after the fake's lock is released and before the response is sent.
	Launched func(Instance)
	// AccountID owns everything; default "123456789012".
	AccountID string
}

// Call is one request the fake answered.
type Call struct {
	Action string
	Params url.Values // the request's parameters less Action and Version
	Code   string     // the error code answered; "" on success
	At     time.Time
}

// Fake is the in-memory EC2. Its zero value is not usable; call New.
type Fake struct {
	cfg   Config
	start time.Time // the default Spot prices are in effect from then on

	// mu guards the fields below it.
	mu        sync.Mutex
	seq       int // for ids
	calls     []Call
	throttle  int
	denied    map[string]bool
	types     map[string]InstanceType
	zones     []string
	subnets   []*subnet // in creation order
	vpc       string    // the VPC of subnets and groups added without one
	groups    []SecurityGroup
	templates []*LaunchTemplate
	prices    map[priceKey][]pricePoint // set by SetPrice, oldest first
	capacity  map[poolKey]int           // live instances allowed; absent: no limit
	instances []*instance               // in launch order, which is id order
	byID      map[string]*instance
	tokens    map[string]*fleetResult // CreateFleet's ClientTokens
	launched  []Instance              // by the request being served, for Config.Launched
}

// poolKey names a capacity pool of EC2: one instance type in one zone and
// market.
type poolKey struct {
	typ, zone string
	market    Market
}

// New returns a fake EC2 with the instance types and, unless
// cfg.NoDefaultVPC, a default VPC with one default subnet per zone.
func New(cfg Config) *Fake {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if len(cfg.Zones) == 0 {
		cfg.Zones = []string{cfg.Region + "a", cfg.Region + "b", cfg.Region + "c"}
	}
	if cfg.InstanceTypes == nil {
		cfg.InstanceTypes = DefaultInstanceTypes()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	switch {
	case cfg.BootTime == 0:
		cfg.BootTime = 30 * time.Second
	case cfg.BootTime < 0:
		cfg.BootTime = 0
	}
	if cfg.ShutdownTime < 0 {
		cfg.ShutdownTime = 0
	}
	if cfg.Retention == 0 {
		cfg.Retention = time.Hour
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "123456789012"
	}
	f := &Fake{
		cfg:      cfg,
		start:    cfg.Clock(),
		denied:   make(map[string]bool),
		types:    make(map[string]InstanceType),
		zones:    slices.Clone(cfg.Zones),
		prices:   make(map[priceKey][]pricePoint),
		capacity: make(map[poolKey]int),
		byID:     make(map[string]*instance),
		tokens:   make(map[string]*fleetResult),
	}
	for _, t := range cfg.InstanceTypes {
		f.types[t.Name] = t.withDefaults()
	}
	if !cfg.NoDefaultVPC {
		vpc := f.newID("vpc-")
		for i, z := range f.zones {
			f.subnets = append(f.subnets, &subnet{Subnet: Subnet{
				ID: f.newID("subnet-"), Zone: z, VPC: vpc, DefaultForAZ: true,
				CIDR: fmt.Sprintf("172.31.%d.0/20", 16*i),
			}})
		}
	}
	return f
}

// Region returns the fake's region, for the client's configuration.
func (f *Fake) Region() string { return f.cfg.Region }

// Zones returns the fake's availability zones.
func (f *Fake) Zones() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.zones)
}

// newID returns a new id with prefix, in EC2's long form: 17 hex digits.
// Ids sort in the order they were made. f.mu must be held, or f unshared.
func (f *Fake) newID(prefix string) string {
	f.seq++
	return fmt.Sprintf("%s%017x", prefix, f.seq)
}

// SetCapacity allows at most n live instances of typ in zone and market;
// n < 0 lifts the limit. A fleet that wants more gets an error item for
// that pool instead.
func (f *Fake) SetCapacity(typ, zone string, m Market, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n < 0 {
		delete(f.capacity, poolKey{typ, zone, m})
		return
	}
	f.capacity[poolKey{typ, zone, m}] = n
}

// Exhaust makes capacity of typ in zone and market run out: no more
// launches there until Restore.
func (f *Fake) Exhaust(typ, zone string, m Market) { f.SetCapacity(typ, zone, m, 0) }

// Restore lifts the capacity limit of typ in zone and market.
func (f *Fake) Restore(typ, zone string, m Market) { f.SetCapacity(typ, zone, m, -1) }

// Throttle makes the next n requests fail with RequestLimitExceeded
// (HTTP 503), as EC2 does when an account calls too fast.
func (f *Fake) Throttle(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.throttle = n
}

// Deny makes action fail with UnauthorizedOperation (HTTP 403) until Allow.
func (f *Fake) Deny(action string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.denied[action] = true
}

// Allow undoes Deny.
func (f *Fake) Allow(action string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.denied, action)
}

// Calls returns the requests answered so far, in order.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.calls)
	for i := range out {
		out[i].Params = cloneValues(out[i].Params)
	}
	return out
}

// CallsOf returns the requests of action answered so far, in order.
func (f *Fake) CallsOf(action string) []Call {
	var out []Call
	for _, c := range f.Calls() {
		if c.Action == action {
			out = append(out, c)
		}
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// Interrupt gives the Spot instance id its interruption notice now: EC2
// reclaims it SpotNotice later (state terminated, stateReason
// Server.SpotInstanceTermination). It fails for an unknown, on-demand or
// already stopped instance; a second notice keeps the first.
func (f *Fake) Interrupt(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.cfg.Clock()
	in := f.byID[id]
	switch {
	case in == nil:
		return fmt.Errorf("interrupt %s: no such instance", id)
	case in.base.Market != Spot:
		return fmt.Errorf("interrupt %s: not a Spot instance", id)
	case in.stopping(now):
		return fmt.Errorf("interrupt %s: already %s", id, f.view(in, now).State)
	}
	if in.notice.IsZero() {
		in.notice = now
	}
	return nil
}

// Notice returns when the Spot instance id got its interruption notice,
// for the instance metadata and EventBridge fakes; false if it got none.
func (f *Fake) Notice(id string) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in := f.byID[id]
	if in == nil || in.notice.IsZero() {
		return time.Time{}, false
	}
	return in.notice, true
}

// Instance returns instance id as it is now, as the machine itself sees
// it: not a request, so not logged. False once EC2 has forgotten it.
func (f *Fake) Instance(id string) (Instance, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.cfg.Clock()
	f.prune(now)
	in := f.byID[id]
	if in == nil {
		return Instance{}, false
	}
	return f.view(in, now), true
}

// Instances returns every instance EC2 still shows, terminated ones
// included, in launch order: not a request, so not logged.
func (f *Fake) Instances() []Instance {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.cfg.Clock()
	f.prune(now)
	out := make([]Instance, 0, len(f.instances))
	for _, in := range f.instances {
		out = append(out, f.view(in, now))
	}
	return out
}

// validID reports whether id is prefix followed by 8 or 17 hex digits, as
// EC2's ids are.
func validID(id, prefix string) bool {
	hex, ok := strings.CutPrefix(id, prefix)
	if !ok || (len(hex) != 8 && len(hex) != 17) {
		return false
	}
	for _, c := range hex {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
