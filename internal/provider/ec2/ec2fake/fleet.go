package ec2fake

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A fleet request is parsed into a fleetRequest, whose candidates (one per
// launch template override and subnet) are then filled by allocate.

type fleetRequest struct {
	token                    string
	fleetID                  string
	odTarget, spotTarget     int
	odStrategy, spotStrategy string
	candidates               []*candidate
	tags                     map[string]map[string]string // by resource type
}

// candidate is one capacity pool a fleet may launch into, and the
// override that named it.
type candidate struct {
	echo     templateAndOverrides
	lt       *LaunchTemplate
	version  int64
	typ      string
	subnet   *subnet
	priority float64 // +Inf when absent: last
	maxPrice float64 // 0: none
}

// fleetResult is what CreateFleet answered to a ClientToken.
type fleetResult struct {
	request string // the request's other parameters
	resp    createFleetResponse
}

type createFleetResponse struct {
	meta
	FleetID   string             `xml:"fleetId"`
	Errors    []fleetErrorXML    `xml:"errorSet>item"`
	Instances []fleetInstanceXML `xml:"fleetInstanceSet>item"`
}

type fleetErrorXML struct {
	Overrides    templateAndOverrides `xml:"launchTemplateAndOverrides"`
	Lifecycle    string               `xml:"lifecycle"`
	ErrorCode    string               `xml:"errorCode"`
	ErrorMessage string               `xml:"errorMessage"`
}

type fleetInstanceXML struct {
	Overrides        templateAndOverrides `xml:"launchTemplateAndOverrides"`
	Lifecycle        string               `xml:"lifecycle"`
	InstanceIDs      []string             `xml:"instanceIds>item"`
	InstanceType     string               `xml:"instanceType"`
	AvailabilityZone string               `xml:"availabilityZone"`
	SubnetID         string               `xml:"subnetId"`
	reservation      string
}

type templateAndOverrides struct {
	Spec struct {
		ID      string `xml:"launchTemplateId,omitempty"`
		Name    string `xml:"launchTemplateName,omitempty"`
		Version string `xml:"version,omitempty"`
	} `xml:"launchTemplateSpecification"`
	Overrides struct {
		InstanceType     string `xml:"instanceType,omitempty"`
		SubnetID         string `xml:"subnetId,omitempty"`
		AvailabilityZone string `xml:"availabilityZone,omitempty"`
		Priority         string `xml:"priority,omitempty"`
		MaxPrice         string `xml:"maxPrice,omitempty"`
	} `xml:"overrides"`
}

// The allocation strategies EC2 Fleet knows, per market.
var (
	spotStrategies = []string{"lowest-price", "diversified", "capacity-optimized", "capacity-optimized-prioritized", "price-capacity-optimized"}
	odStrategies   = []string{"lowest-price", "prioritized"}
)

// maxFleetTarget bounds one fleet, to keep a mistaken test from filling
// memory; EC2's own quotas are per account.
const maxFleetTarget = 10000

// createFleet launches an instant fleet: on-demand first, then Spot, each
// from the candidates in the order of its allocation strategy. What it
// cannot launch is told in errorSet, with HTTP 200, as EC2 does.
func (f *Fake) createFleet(p params, now time.Time) (any, error) {
	req, err := f.parseFleet(p)
	if err != nil {
		return nil, err
	}
	sig := requestSignature(p)
	if res := f.tokens[req.token]; req.token != "" && res != nil {
		if res.request != sig {
			return nil, badRequest("IdempotentParameterMismatch", "The client token %s was already used for a request with other parameters.", req.token)
		}
		resp := res.resp
		return &resp, nil
	}
	f.seq++
	req.fleetID = fmt.Sprintf("fleet-%08x-0000-4000-8000-%012x", f.seq, f.seq)
	resp := createFleetResponse{FleetID: req.fleetID}
	for _, m := range []struct {
		market   Market
		target   int
		strategy string
	}{{OnDemand, req.odTarget, req.odStrategy}, {Spot, req.spotTarget, req.spotStrategy}} {
		if m.target == 0 {
			continue
		}
		launched, failed := f.allocate(req, m.market, m.target, m.strategy, now)
		resp.Instances = append(resp.Instances, launched...)
		resp.Errors = append(resp.Errors, failed...)
	}
	if req.token != "" {
		f.tokens[req.token] = &fleetResult{sig, resp}
	}
	return &resp, nil
}

// requestSignature returns the parameters of a request but its
// ClientToken, to tell a retry from another request with the same token.
func requestSignature(p params) string {
	var b strings.Builder
	for _, k := range sortedKeys(p.form) {
		if k != "ClientToken" {
			fmt.Fprintf(&b, "%s=%q&", k, p.form[k])
		}
	}
	return b.String()
}

// allocate launches up to target instances in market from req's
// candidates, in the order strategy gives them (one at a time round the
// candidates for diversified), and returns them and, if it fell short,
// one error per candidate it could not launch in. f.mu must be held.
func (f *Fake) allocate(req *fleetRequest, m Market, target int, strategy string, now time.Time) ([]fleetInstanceXML, []fleetErrorXML) {
	order := f.order(req.candidates, m, strategy, now)
	items := make([]*fleetInstanceXML, len(order))
	need := target
	take := func(i, n int) {
		if n <= 0 {
			return
		}
		if items[i] == nil {
			c := order[i]
			items[i] = &fleetInstanceXML{Overrides: c.echo, Lifecycle: string(m), InstanceType: c.typ,
				AvailabilityZone: c.subnet.Zone, SubnetID: c.subnet.ID, reservation: f.newID("r-")}
		}
		f.launch(order[i], req, items[i], m, n, now)
		need -= n
	}
	for progress := true; need > 0 && progress; {
		progress = false
		for i, c := range order {
			if need == 0 || !f.priceOK(c, m, now) {
				continue
			}
			n := min(need, f.room(c, m, now))
			if strategy == "diversified" {
				n = min(n, 1)
			}
			take(i, n)
			progress = progress || n > 0
		}
		progress = progress && strategy == "diversified"
	}
	var launched []fleetInstanceXML
	for _, it := range items {
		if it != nil {
			launched = append(launched, *it)
		}
	}
	if need == 0 {
		return launched, nil
	}
	var failed []fleetErrorXML
	for _, c := range order {
		if code, msg := f.why(c, m, now); code != "" {
			failed = append(failed, fleetErrorXML{c.echo, string(m), code, msg})
		}
	}
	return launched, failed
}

// order returns the candidates in the order strategy tries them: cheapest
// first for lowest-price and price-capacity-optimized, most room first
// for capacity-optimized, by priority for the prioritized ones; ties keep
// the request's order. f.mu must be held.
func (f *Fake) order(cands []*candidate, m Market, strategy string, now time.Time) []*candidate {
	out := slices.Clone(cands)
	switch strategy {
	case "lowest-price", "price-capacity-optimized":
		slices.SortStableFunc(out, func(a, b *candidate) int {
			return cmp.Compare(f.price(a.typ, a.subnet.Zone, m, now), f.price(b.typ, b.subnet.Zone, m, now))
		})
	case "capacity-optimized":
		slices.SortStableFunc(out, func(a, b *candidate) int { return f.room(b, m, now) - f.room(a, m, now) })
	case "capacity-optimized-prioritized", "prioritized":
		slices.SortStableFunc(out, func(a, b *candidate) int { return cmp.Compare(a.priority, b.priority) })
	}
	return out
}

// room returns how many more instances c's pool and subnet take in m.
// f.mu must be held.
func (f *Fake) room(c *candidate, m Market, now time.Time) int {
	free := c.subnet.size() - c.subnet.used
	limit, ok := f.capacity[poolKey{c.typ, c.subnet.Zone, m}]
	if !ok {
		return free
	}
	for _, in := range f.instances {
		if in.base.Type == c.typ && in.base.Zone == c.subnet.Zone && in.base.Market == m && f.live(in, now) {
			limit--
		}
	}
	return max(0, min(limit, free))
}

// priceOK reports whether c's MaxPrice allows its pool's Spot price.
func (f *Fake) priceOK(c *candidate, m Market, now time.Time) bool {
	return m != Spot || c.maxPrice == 0 || f.price(c.typ, c.subnet.Zone, m, now) <= c.maxPrice
}

// why returns EC2's error code and message for a candidate that could not
// launch, or "" if it could. f.mu must be held.
func (f *Fake) why(c *candidate, m Market, now time.Time) (string, string) {
	switch {
	case !f.priceOK(c, m, now):
		return "SpotMaxPriceTooLow", fmt.Sprintf("Your Spot request price of %s is lower than the minimum required Spot request fulfillment price of %s.",
			strconv.FormatFloat(c.maxPrice, 'f', -1, 64), strconv.FormatFloat(f.price(c.typ, c.subnet.Zone, m, now), 'f', -1, 64))
	case c.subnet.size()-c.subnet.used <= 0:
		return "InsufficientFreeAddressesInSubnet", fmt.Sprintf("There are not enough free addresses in subnet '%s' to satisfy the requested number of instances.", c.subnet.ID)
	case f.room(c, m, now) > 0:
		return "", ""
	case m == Spot:
		return "InsufficientInstanceCapacity", "There is no Spot capacity available that matches your request."
	}
	return "InsufficientInstanceCapacity", fmt.Sprintf("We currently do not have sufficient %s capacity in the Availability Zone you requested (%s). Our system will be working on provisioning additional capacity.", c.typ, c.subnet.Zone)
}

// launch creates n instances of c in m, in the reservation of item, and
// adds them to it. f.mu must be held.
func (f *Fake) launch(c *candidate, req *fleetRequest, item *fleetInstanceXML, m Market, n int, now time.Time) {
	for range n {
		tags := map[string]string{
			"aws:ec2:fleet-id":              req.fleetID,
			"aws:ec2launchtemplate:id":      c.lt.ID,
			"aws:ec2launchtemplate:version": strconv.FormatInt(c.version, 10),
		}
		maps.Copy(tags, req.tags["instance"])
		in := &instance{reservation: item.reservation, launchIndex: len(item.InstanceIDs), base: Instance{
			ID: f.newID("i-"), Type: c.typ, Zone: c.subnet.Zone, SubnetID: c.subnet.ID, VPCID: c.subnet.VPC,
			PrivateIP: c.subnet.nextIP(), Market: m, FleetID: req.fleetID,
			LaunchTemplateID: c.lt.ID, LaunchTemplateVersion: c.version,
			HTTPTokens: c.lt.HTTPTokens, HopLimit: c.lt.HopLimit,
			Tags: tags, VolumeTags: maps.Clone(req.tags["volume"]), LaunchTime: now,
		}}
		if m == Spot {
			f.seq++
			in.base.SpotRequestID = fmt.Sprintf("sir-%08x", f.seq)
		}
		f.instances = append(f.instances, in)
		f.byID[in.base.ID] = in
		f.launched = append(f.launched, f.view(in, now))
		item.InstanceIDs = append(item.InstanceIDs, in.base.ID)
	}
}

// parseFleet reads and checks a CreateFleet request. f.mu must be held.
func (f *Fake) parseFleet(p params) (*fleetRequest, error) {
	if typ := orDefault(p.get("Type"), "maintain"); typ != "instant" {
		return nil, badRequest("InvalidParameterValue", "Fleet type '%s' is not supported by this endpoint: only instant fleets are", typ)
	}
	req := &fleetRequest{token: p.get("ClientToken")}
	if err := req.readTargets(p); err != nil {
		return nil, err
	}
	req.spotStrategy = orDefault(p.get("SpotOptions.AllocationStrategy"), "lowest-price")
	if !slices.Contains(spotStrategies, req.spotStrategy) {
		return nil, invalidValue("SpotOptions.AllocationStrategy", req.spotStrategy)
	}
	req.odStrategy = orDefault(p.get("OnDemandOptions.AllocationStrategy"), "lowest-price")
	if !slices.Contains(odStrategies, req.odStrategy) {
		return nil, invalidValue("OnDemandOptions.AllocationStrategy", req.odStrategy)
	}
	var err error
	if req.tags, err = readTagSpecs(p); err != nil {
		return nil, err
	}
	configs := p.members("LaunchTemplateConfigs")
	if len(configs) == 0 {
		return nil, missing("LaunchTemplateConfigs")
	}
	for _, cfg := range configs {
		spec := params{p.form, cfg.base + "LaunchTemplateSpecification."}
		lt, version, err := f.resolveTemplate(spec)
		if err != nil {
			return nil, err
		}
		overrides := cfg.members("Overrides")
		if len(overrides) == 0 {
			overrides = []params{{p.form, cfg.base + "Overrides.1."}} // none: the template alone
		}
		for _, o := range overrides {
			cands, err := f.readOverride(spec, lt, version, o)
			if err != nil {
				return nil, err
			}
			req.candidates = append(req.candidates, cands...)
		}
	}
	return req, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// readTargets reads TargetCapacitySpecification: what is not asked of one
// market goes to DefaultTargetCapacityType (on-demand when absent).
func (req *fleetRequest) readTargets(p params) error {
	const tcs = "TargetCapacitySpecification."
	total, ok, err := p.int(tcs + "TotalTargetCapacity")
	if err != nil {
		return err
	}
	if !ok {
		return missing(tcs + "TotalTargetCapacity")
	}
	od, _, err := p.int(tcs + "OnDemandTargetCapacity")
	if err != nil {
		return err
	}
	spot, _, err := p.int(tcs + "SpotTargetCapacity")
	if err != nil {
		return err
	}
	rest := total - od - spot
	if total < 0 || od < 0 || spot < 0 || rest < 0 || total > maxFleetTarget {
		return badRequest("InvalidParameterValue", "The target capacity specification is invalid: total %d, on-demand %d, Spot %d", total, od, spot)
	}
	switch def := orDefault(p.get(tcs+"DefaultTargetCapacityType"), string(OnDemand)); Market(def) {
	case OnDemand:
		od += rest
	case Spot:
		spot += rest
	default:
		return invalidValue(tcs+"DefaultTargetCapacityType", def)
	}
	req.odTarget, req.spotTarget = od, spot
	return nil
}

// readTagSpecs reads TagSpecification.N, by resource type.
func readTagSpecs(p params) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for _, spec := range p.members("TagSpecification") {
		rt := spec.get("ResourceType")
		if rt != "instance" && rt != "volume" && rt != "fleet" {
			return nil, invalidValue(spec.base+"ResourceType", rt)
		}
		if out[rt] == nil {
			out[rt] = map[string]string{}
		}
		for _, tag := range spec.members("Tag") {
			k := tag.get("Key")
			switch {
			case k == "":
				return nil, missing(tag.base + "Key")
			case strings.HasPrefix(strings.ToLower(k), "aws:"):
				return nil, badRequest("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")
			}
			out[rt][k] = tag.get("Value")
		}
	}
	return out, nil
}

// readOverride returns the candidates of one override: one per subnet it
// names (a comma-separated list), or the default subnet of its zone, or of
// every zone when it names neither. f.mu must be held.
func (f *Fake) readOverride(spec params, lt *LaunchTemplate, version int64, o params) ([]*candidate, error) {
	c := candidate{lt: lt, version: version, typ: orDefault(o.get("InstanceType"), lt.InstanceType), priority: math.Inf(1)}
	c.echo.Spec.ID, c.echo.Spec.Name, c.echo.Spec.Version = lt.ID, spec.get("LaunchTemplateName"), spec.get("Version")
	if c.typ == "" {
		return nil, missing(o.base + "InstanceType")
	}
	if _, ok := f.types[c.typ]; !ok {
		return nil, invalidValue("InstanceType", c.typ)
	}
	var err error
	if pr, ok, e := o.float("Priority"); e != nil {
		return nil, e
	} else if ok {
		c.priority = pr
	}
	if c.maxPrice, _, err = o.float("MaxPrice"); err != nil {
		return nil, err
	}
	zone := o.get("AvailabilityZone")
	if zone != "" && !slices.Contains(f.zones, zone) {
		return nil, badRequest("InvalidParameterValue", "Invalid availability zone: [%s]", zone)
	}
	var subnets []*subnet
	for id := range strings.SplitSeq(o.get("SubnetId"), ",") {
		if id = strings.TrimSpace(id); id == "" {
			continue
		}
		s := f.subnet(id)
		switch {
		case s == nil:
			return nil, notFound("InvalidSubnetID.NotFound", "subnet ID", []string{id})
		case zone != "" && s.Zone != zone:
			return nil, badRequest("InvalidParameterValue", "Subnet %s is in %s, not in the availability zone %s", id, s.Zone, zone)
		}
		subnets = append(subnets, s)
	}
	if len(subnets) == 0 {
		for _, z := range f.zones {
			if s := f.defaultSubnet(z); s != nil && (zone == "" || z == zone) {
				subnets = append(subnets, s)
			}
		}
		if len(subnets) == 0 {
			return nil, badRequest("VPCIdNotSpecified", "No default VPC for this user. Specify a subnet in the launch template overrides.")
		}
	}
	var out []*candidate
	for _, s := range subnets {
		cc := c
		cc.subnet = s
		cc.echo.Overrides.InstanceType = c.typ
		cc.echo.Overrides.SubnetID = s.ID
		cc.echo.Overrides.AvailabilityZone = s.Zone
		cc.echo.Overrides.Priority = o.get("Priority")
		cc.echo.Overrides.MaxPrice = o.get("MaxPrice")
		out = append(out, &cc)
	}
	return out, nil
}
