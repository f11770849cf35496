// Package ec2 is the provider.Pool of Amazon EC2: a berth pool's hosts are
// EC2 instances, on-demand or Spot, launched one at a time through an
// instant EC2 Fleet from the pool's launch template, tagged with the
// cluster and the pool so that List re-reads them after a restart, and
// terminated only when their tags say berth launched them for this pool.
//
// The pool calls EC2 through the few operations of API, which the AWS
// SDK's *ec2.Client has; tests point that client at the wire fake in
// ec2fake. Errors are typed at the seam: no capacity is
// *provider.InsufficientCapacityError, a type the pool does not have is
// provider.ErrNoOffering, an unknown instance provider.ErrNoInstance, and
// everything else (permissions, throttling past the SDK's retries) is
// returned wrapped, with AWS's code in the message.
package ec2

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	pricingtypes "github.com/aws/aws-sdk-go-v2/service/pricing/types"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/provider"
)

// API is the EC2 calls the pool makes; *ec2.Client implements it.
type API interface {
	CreateFleet(context.Context, *ec2.CreateFleetInput, ...func(*ec2.Options)) (*ec2.CreateFleetOutput, error)
	DescribeInstances(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	TerminateInstances(context.Context, *ec2.TerminateInstancesInput, ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error)
	DescribeInstanceTypes(context.Context, *ec2.DescribeInstanceTypesInput, ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error)
	DescribeSpotPriceHistory(context.Context, *ec2.DescribeSpotPriceHistoryInput, ...func(*ec2.Options)) (*ec2.DescribeSpotPriceHistoryOutput, error)
	DescribeSubnets(context.Context, *ec2.DescribeSubnetsInput, ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	DescribeLaunchTemplates(context.Context, *ec2.DescribeLaunchTemplatesInput, ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplatesOutput, error)
	DescribeLaunchTemplateVersions(context.Context, *ec2.DescribeLaunchTemplateVersionsInput, ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplateVersionsOutput, error)
}

var _ API = (*ec2.Client)(nil)

// PriceAPI is the Price List API call the pool makes for on-demand prices
// the configuration does not give; *pricing.Client implements it.
type PriceAPI interface {
	GetProducts(context.Context, *pricing.GetProductsInput, ...func(*pricing.Options)) (*pricing.GetProductsOutput, error)
}

var _ PriceAPI = (*pricing.Client)(nil)

var _ provider.Pool = (*Pool)(nil)

// TagCluster names the berth cluster an instance belongs to, so that two
// servers in one account never take each other's instances.
const TagCluster = "berth.cluster"

// Config is one ec2 pool; zero fields mean the default.
type Config struct {
	// Spec is the pool as configured, with defaults: its name, market,
	// instance types (a size or price given there wins over EC2's),
	// subnets and launch template.
	Spec berth.PoolSpec
	// Cluster is the server's cluster name, tagged on every instance.
	Cluster string // default "berth"
	// SpotPriceTTL is how long Spot prices are kept before they are read
	// again.
	SpotPriceTTL time.Duration // default 5m
	// Clock returns the time; default time.Now.
	Clock func() time.Time
	// Prices, when set, gives the on-demand prices of the types the
	// configuration prices not, read once at start; Region is the region
	// they are read for. Without, every type needs its price.
	Prices PriceAPI
	Region string
}

// Pool is one berth pool's EC2 instances.
type Pool struct {
	api     API
	cfg     Config
	types   map[string]berth.InstanceType // the pool's, with sizes from EC2
	zones   map[string]string             // subnet → availability zone
	subnets []string                      // in the configured order
	tmpl    types.FleetLaunchTemplateSpecificationRequest

	mu        sync.Mutex
	spot      map[string]float64 // type → the lowest Spot price over the pool's zones
	spotAt    time.Time          // when spot was read
	extraType map[string]berth.InstanceType
}

// New checks the pool's configuration against EC2 and returns the pool:
// every instance type must exist (its vCPUs and memory are read unless
// the configuration gives them), every subnet too (without subnets, the
// default VPC's are used), and the launch template. Each problem is a
// *berth.FieldError naming the field, before anything is launched.
func New(ctx context.Context, api API, cfg Config) (*Pool, error) {
	if cfg.Cluster == "" {
		cfg.Cluster = "berth"
	}
	if cfg.SpotPriceTTL == 0 {
		cfg.SpotPriceTTL = 5 * time.Minute
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	p := &Pool{api: api, cfg: cfg, types: map[string]berth.InstanceType{}, zones: map[string]string{}, extraType: map[string]berth.InstanceType{}}
	if err := p.resolveTypes(ctx); err != nil {
		return nil, err
	}
	if err := p.resolveSubnets(ctx); err != nil {
		return nil, err
	}
	if err := p.resolveTemplate(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Pool) name() string { return p.cfg.Spec.Name }

// Spec returns the pool as configured, each instance type with the vCPUs
// and memory EC2 gives it where the configuration gave none: what
// placement, the checks at submit and the API should know of the pool.
func (p *Pool) Spec() berth.PoolSpec {
	spec := p.cfg.Spec
	spec.InstanceTypes = make([]berth.InstanceType, len(p.cfg.Spec.InstanceTypes))
	for i, t := range p.cfg.Spec.InstanceTypes {
		spec.InstanceTypes[i] = p.types[t.Name]
	}
	return spec
}

// resolveTypes reads the sizes of the pool's types from EC2.
func (p *Pool) resolveTypes(ctx context.Context) error {
	spec := p.cfg.Spec
	names := make([]types.InstanceType, len(spec.InstanceTypes))
	for i, t := range spec.InstanceTypes {
		names[i] = types.InstanceType(t.Name)
	}
	got, err := p.describeTypes(ctx, names)
	if err != nil {
		var fe *unknownTypeError
		if errors.As(err, &fe) {
			i := slices.IndexFunc(spec.InstanceTypes, func(t berth.InstanceType) bool { return t.Name == fe.name })
			return &berth.FieldError{Field: fmt.Sprintf("instance_types[%d].name", max(i, 0)),
				Problem: fmt.Sprintf("EC2 has no instance type %q in %s", fe.name, regionOf(spec))}
		}
		return fmt.Errorf("pool %s: describe instance types: %w", p.name(), err)
	}
	for i, t := range spec.InstanceTypes {
		ec, ok := got[t.Name]
		if !ok {
			return &berth.FieldError{Field: fmt.Sprintf("instance_types[%d].name", i),
				Problem: fmt.Sprintf("EC2 has no instance type %q in %s", t.Name, regionOf(spec))}
		}
		if t.CPU == 0 && t.MemoryMB == 0 {
			t.CPU, t.MemoryMB = ec.CPU, ec.MemoryMB
		}
		if !(t.Price > 0) && p.cfg.Prices != nil {
			price, err := p.onDemandPrice(ctx, t.Name)
			if err != nil {
				return fmt.Errorf("pool %s: the on-demand price of %s: %w", p.name(), t.Name, err)
			}
			t.Price = price
		}
		if !(t.Price > 0) {
			why := "is required: the on-demand price in USD per hour"
			if p.cfg.Prices != nil {
				why = fmt.Sprintf("is required: the Price List API has no Linux on-demand price of %s in %s", t.Name, p.cfg.Region)
			}
			return &berth.FieldError{Field: fmt.Sprintf("instance_types[%d].price", i), Problem: why}
		}
		p.types[t.Name] = t
	}
	return nil
}

// onDemandPrice reads the Linux, shared-tenancy on-demand price of typ in
// the pool's region from the Price List API; 0 when it has none.
func (p *Pool) onDemandPrice(ctx context.Context, typ string) (float64, error) {
	filter := func(field, value string) pricingtypes.Filter {
		return pricingtypes.Filter{Type: pricingtypes.FilterTypeTermMatch, Field: aws.String(field), Value: aws.String(value)}
	}
	out, err := p.cfg.Prices.GetProducts(ctx, &pricing.GetProductsInput{ServiceCode: aws.String("AmazonEC2"), Filters: []pricingtypes.Filter{
		filter("instanceType", typ), filter("regionCode", p.cfg.Region), filter("operatingSystem", "Linux"),
		filter("tenancy", "Shared"), filter("preInstalledSw", "NA"), filter("capacitystatus", "Used")}})
	if err != nil {
		return 0, err
	}
	for _, doc := range out.PriceList {
		var product struct {
			Terms struct {
				OnDemand map[string]struct {
					PriceDimensions map[string]struct {
						Unit         string            `json:"unit"`
						PricePerUnit map[string]string `json:"pricePerUnit"`
					} `json:"priceDimensions"`
				} `json:"OnDemand"`
			} `json:"terms"`
		}
		if err := json.Unmarshal([]byte(doc), &product); err != nil {
			return 0, fmt.Errorf("a Price List document: %w", err)
		}
		for _, term := range product.Terms.OnDemand {
			for _, d := range term.PriceDimensions {
				var v float64
				if _, err := fmt.Sscan(d.PricePerUnit["USD"], &v); err == nil && v > 0 && d.Unit == "Hrs" {
					return v, nil
				}
			}
		}
	}
	return 0, nil
}

// unknownTypeError is EC2 refusing a type name.
type unknownTypeError struct{ name string }

func (e *unknownTypeError) Error() string { return "unknown instance type " + e.name }

// describeTypes returns the sizes EC2 gives the named types.
func (p *Pool) describeTypes(ctx context.Context, names []types.InstanceType) (map[string]berth.InstanceType, error) {
	out := map[string]berth.InstanceType{}
	pages := ec2.NewDescribeInstanceTypesPaginator(p.api, &ec2.DescribeInstanceTypesInput{InstanceTypes: names})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if code(err) == "InvalidInstanceType" {
			return nil, &unknownTypeError{name: badTypeName(err, names)}
		}
		if err != nil {
			return nil, err
		}
		for _, t := range page.InstanceTypes {
			it := berth.InstanceType{Name: string(t.InstanceType)}
			if t.VCpuInfo != nil {
				it.CPU = float64(aws.ToInt32(t.VCpuInfo.DefaultVCpus))
			}
			if t.MemoryInfo != nil {
				it.MemoryMB = aws.ToInt64(t.MemoryInfo.SizeInMiB)
			}
			out[it.Name] = it
		}
	}
	return out, nil
}

// badTypeName finds, in EC2's message, which of names it refused.
func badTypeName(err error, names []types.InstanceType) string {
	msg := err.Error()
	for _, n := range names {
		if strings.Contains(msg, string(n)) {
			return string(n)
		}
	}
	if len(names) > 0 {
		return string(names[0])
	}
	return ""
}

func regionOf(spec berth.PoolSpec) string {
	if spec.Region != "" {
		return spec.Region
	}
	return "this region"
}

// resolveSubnets finds the zone of each subnet, or the default VPC's
// subnets when none is configured.
func (p *Pool) resolveSubnets(ctx context.Context) error {
	spec := p.cfg.Spec
	in := &ec2.DescribeSubnetsInput{SubnetIds: spec.Subnets}
	if len(spec.Subnets) == 0 {
		in = &ec2.DescribeSubnetsInput{Filters: []types.Filter{{Name: aws.String("default-for-az"), Values: []string{"true"}}}}
	}
	pages := ec2.NewDescribeSubnetsPaginator(p.api, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if code(err) == "InvalidSubnetID.NotFound" {
			for i, s := range spec.Subnets {
				if strings.Contains(err.Error(), s) {
					return &berth.FieldError{Field: fmt.Sprintf("subnets[%d]", i), Problem: fmt.Sprintf("EC2 has no subnet %s in %s", s, regionOf(spec))}
				}
			}
			return &berth.FieldError{Field: "subnets", Problem: "EC2 does not know one of them: " + message(err)}
		}
		if err != nil {
			return fmt.Errorf("pool %s: describe subnets: %w", p.name(), err)
		}
		for _, s := range page.Subnets {
			id := aws.ToString(s.SubnetId)
			if _, seen := p.zones[id]; !seen {
				p.subnets = append(p.subnets, id)
			}
			p.zones[id] = aws.ToString(s.AvailabilityZone)
		}
	}
	if len(p.subnets) == 0 {
		return &berth.FieldError{Field: "subnets", Problem: fmt.Sprintf("none given, and %s has no default VPC: list the subnets to launch into", regionOf(spec))}
	}
	if len(spec.Subnets) > 0 {
		p.subnets = slices.Clone(spec.Subnets) // the configured order
	} else {
		slices.Sort(p.subnets)
	}
	return nil
}

// resolveTemplate checks that the launch template exists.
func (p *Pool) resolveTemplate(ctx context.Context) error {
	name := p.cfg.Spec.LaunchTemplate
	in := &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{name}}
	p.tmpl = types.FleetLaunchTemplateSpecificationRequest{LaunchTemplateName: aws.String(name), Version: aws.String("$Default")}
	if strings.HasPrefix(name, "lt-") {
		in = &ec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: []string{name}}
		p.tmpl = types.FleetLaunchTemplateSpecificationRequest{LaunchTemplateId: aws.String(name), Version: aws.String("$Default")}
	}
	out, err := p.api.DescribeLaunchTemplates(ctx, in)
	switch c := code(err); {
	case strings.Contains(c, "NotFound") || strings.HasPrefix(c, "InvalidLaunchTemplate"):
		return &berth.FieldError{Field: "launch_template", Problem: fmt.Sprintf("EC2 has no launch template %s in %s", name, regionOf(p.cfg.Spec))}
	case err != nil:
		return fmt.Errorf("pool %s: describe launch template %s: %w", p.name(), name, err)
	case len(out.LaunchTemplates) == 0:
		return &berth.FieldError{Field: "launch_template", Problem: fmt.Sprintf("EC2 has no launch template %s in %s", name, regionOf(p.cfg.Spec))}
	}
	return p.checkMetadataOptions(ctx, aws.ToString(out.LaunchTemplates[0].LaunchTemplateId))
}

// checkMetadataOptions refuses a launch template whose default version
// lets containers reach the instance metadata service, where the
// instance's role credentials are: it must require IMDSv2 tokens with a
// hop limit of 1 (a container's requests take two hops). A template that
// leaves them to the image is refused too: Amazon Linux 2023's images
// default to a hop limit of 2. The agent's own probe would refuse work on
// such an instance; this says so before any is launched.
func (p *Pool) checkMetadataOptions(ctx context.Context, id string) error {
	out, err := p.api.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateId: aws.String(id), Versions: []string{"$Default"}})
	if err != nil {
		return fmt.Errorf("pool %s: describe launch template %s: %w", p.name(), id, err)
	}
	const fix = "set its metadata options to HttpTokens required and HttpPutResponseHopLimit 1 (berth deploy aws template does)"
	if len(out.LaunchTemplateVersions) == 0 || out.LaunchTemplateVersions[0].LaunchTemplateData == nil ||
		out.LaunchTemplateVersions[0].LaunchTemplateData.MetadataOptions == nil {
		return &berth.FieldError{Field: "launch_template", Problem: fmt.Sprintf(
			"%s leaves the instance metadata options to the image, whose defaults may let containers reach the instance's credentials: %s", p.cfg.Spec.LaunchTemplate, fix)}
	}
	mo := out.LaunchTemplateVersions[0].LaunchTemplateData.MetadataOptions
	switch {
	case mo.HttpEndpoint == types.LaunchTemplateInstanceMetadataEndpointStateDisabled:
		return &berth.FieldError{Field: "launch_template", Problem: fmt.Sprintf(
			"%s turns the instance metadata service off; the agent reads its instance's identity and Spot notices there: %s", p.cfg.Spec.LaunchTemplate, fix)}
	case mo.HttpTokens != types.LaunchTemplateHttpTokensStateRequired || aws.ToInt32(mo.HttpPutResponseHopLimit) > 1:
		return &berth.FieldError{Field: "launch_template", Problem: fmt.Sprintf(
			"%s lets containers reach the instance metadata service and the instance's credentials (HttpTokens %s, hop limit %d): %s",
			p.cfg.Spec.LaunchTemplate, mo.HttpTokens, aws.ToInt32(mo.HttpPutResponseHopLimit), fix)}
	}
	return nil
}

// Offerings lists the pool's types in its market: on-demand at the
// configured price, Spot at the lowest current Spot price over the pool's
// zones (read again once SpotPriceTTL has passed).
func (p *Pool) Offerings(ctx context.Context) ([]provider.Offering, error) {
	spec := p.cfg.Spec
	var spot map[string]float64
	if spec.Market == berth.Spot {
		var err error
		if spot, err = p.spotPrices(ctx); err != nil {
			return nil, err
		}
	}
	out := make([]provider.Offering, 0, len(spec.InstanceTypes))
	for _, ct := range spec.InstanceTypes {
		t := p.types[ct.Name]
		o := provider.Offering{InstanceType: t.Name, CPU: t.CPU, MemoryMB: t.MemoryMB, Market: spec.Market, Price: t.Price}
		if spec.Market == berth.Spot {
			o.Price = spotPrice(t, spot)
		}
		out = append(out, o)
	}
	return out, nil
}

// spotPrice is t's Spot price: EC2's now, else the configured one, else
// the on-demand price (what Spot costs at most).
func spotPrice(t berth.InstanceType, spot map[string]float64) float64 {
	if v, ok := spot[t.Name]; ok {
		return v
	}
	if t.SpotPrice > 0 {
		return t.SpotPrice
	}
	return t.Price
}

// spotPrices returns the lowest current Spot price of each type over the
// pool's zones.
func (p *Pool) spotPrices(ctx context.Context) (map[string]float64, error) {
	now := p.cfg.Clock()
	p.mu.Lock()
	if p.spot != nil && now.Sub(p.spotAt) < p.cfg.SpotPriceTTL {
		defer p.mu.Unlock()
		return p.spot, nil
	}
	p.mu.Unlock()
	names := make([]types.InstanceType, 0, len(p.types))
	for _, t := range p.cfg.Spec.InstanceTypes {
		names = append(names, types.InstanceType(t.Name))
	}
	zones := map[string]bool{}
	for _, z := range p.zones {
		zones[z] = true
	}
	prices := map[string]float64{}
	// StartTime now asks for the price in effect now, per type and zone.
	pages := ec2.NewDescribeSpotPriceHistoryPaginator(p.api, &ec2.DescribeSpotPriceHistoryInput{InstanceTypes: names,
		ProductDescriptions: []string{"Linux/UNIX"}, StartTime: aws.Time(now)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("pool %s: describe spot prices: %w", p.name(), err)
		}
		for _, h := range page.SpotPriceHistory {
			if !zones[aws.ToString(h.AvailabilityZone)] {
				continue
			}
			var v float64
			if _, err := fmt.Sscan(aws.ToString(h.SpotPrice), &v); err != nil || !(v >= 0) {
				continue
			}
			name := string(h.InstanceType)
			if cur, ok := prices[name]; !ok || v < cur {
				prices[name] = v
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.spot, p.spotAt = prices, now
	return prices, nil
}

// Launch starts one instance of req's type, or of one of its alternatives,
// in the pool's market through an instant EC2 Fleet over the pool's
// subnets (those of req.Zone, when set): price-capacity-optimized for
// Spot, lowest-price for on-demand.
// The launch's token is the fleet's client token, so a retried launch
// launches nothing more.
func (p *Pool) Launch(ctx context.Context, req provider.LaunchRequest) (provider.Instance, error) {
	spec := p.cfg.Spec
	t, ok := p.types[req.InstanceType]
	if !ok || (req.Market != "" && req.Market != spec.Market) {
		return provider.Instance{}, fmt.Errorf("pool %s: %s in %s: %w", p.name(), req.InstanceType, req.Market, provider.ErrNoOffering)
	}
	var subnets []string
	for _, s := range p.subnets {
		if req.Zone == "" || p.zones[s] == req.Zone {
			subnets = append(subnets, s)
		}
	}
	if len(subnets) == 0 {
		return provider.Instance{}, fmt.Errorf("pool %s: no subnet in zone %s: %w", p.name(), req.Zone, provider.ErrNoOffering)
	}
	token := req.Token
	if token == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		token = hex.EncodeToString(b[:])
	}
	tags := map[string]string{}
	for k, v := range req.Tags {
		tags[k] = v
	}
	tags[provider.TagPool], tags[provider.TagToken], tags[TagCluster] = p.name(), token, p.cfg.Cluster
	tags["Name"] = "berth-" + p.cfg.Cluster + "-" + p.name()
	// One override per type and subnet: the requested type, then the
	// alternatives the pool has, for EC2 to weigh their capacity.
	names := []string{t.Name}
	for _, a := range req.Alternatives {
		if _, ok := p.types[a]; ok && !slices.Contains(names, a) {
			names = append(names, a)
		}
	}
	var overrides []types.FleetLaunchTemplateOverridesRequest
	for _, n := range names {
		for _, s := range subnets {
			overrides = append(overrides, types.FleetLaunchTemplateOverridesRequest{InstanceType: types.InstanceType(n), SubnetId: aws.String(s)})
		}
	}
	in := &ec2.CreateFleetInput{
		Type:        types.FleetTypeInstant,
		ClientToken: aws.String(token),
		LaunchTemplateConfigs: []types.FleetLaunchTemplateConfigRequest{{
			LaunchTemplateSpecification: &p.tmpl, Overrides: overrides}},
		TargetCapacitySpecification: &types.TargetCapacitySpecificationRequest{TotalTargetCapacity: aws.Int32(1),
			DefaultTargetCapacityType: types.DefaultTargetCapacityTypeOnDemand},
		OnDemandOptions:   &types.OnDemandOptionsRequest{AllocationStrategy: types.FleetOnDemandAllocationStrategyLowestPrice},
		TagSpecifications: []types.TagSpecification{tagSpec(types.ResourceTypeInstance, tags), tagSpec(types.ResourceTypeVolume, tags)},
	}
	if spec.Market == berth.Spot {
		in.TargetCapacitySpecification.DefaultTargetCapacityType = types.DefaultTargetCapacityTypeSpot
		in.SpotOptions = &types.SpotOptionsRequest{AllocationStrategy: types.SpotAllocationStrategyPriceCapacityOptimized}
	}
	out, err := p.api.CreateFleet(ctx, in)
	if err != nil {
		if capacityCodes[code(err)] {
			return provider.Instance{}, &provider.InsufficientCapacityError{InstanceType: t.Name, Market: spec.Market, Zone: req.Zone}
		}
		return provider.Instance{}, fmt.Errorf("pool %s: launch %s: %w", p.name(), t.Name, err)
	}
	for _, fi := range out.Instances {
		if len(fi.InstanceIds) == 0 {
			continue
		}
		now := p.cfg.Clock()
		zone := aws.ToString(fi.AvailabilityZone)
		if fi.LaunchTemplateAndOverrides != nil && fi.LaunchTemplateAndOverrides.Overrides != nil {
			if o := fi.LaunchTemplateAndOverrides.Overrides; zone == "" {
				zone = p.zones[aws.ToString(o.SubnetId)]
				if zone == "" {
					zone = aws.ToString(o.AvailabilityZone)
				}
			}
		}
		got := t
		if lt, ok := p.types[string(fi.InstanceType)]; ok {
			got = lt // EC2 chose an alternative
		}
		return provider.Instance{ID: fi.InstanceIds[0], Pool: p.name(), InstanceType: got.Name, Market: spec.Market, Zone: zone,
			State: provider.InstancePending, CPU: got.CPU, MemoryMB: got.MemoryMB, Tags: tags, LaunchedAt: now,
			ReadyAt: now.Add(time.Duration(spec.BootTime))}, nil
	}
	// An instant fleet that launched nothing says why in its errors.
	var why []string
	capacity := len(out.Errors) > 0
	for _, e := range out.Errors {
		c := aws.ToString(e.ErrorCode)
		capacity = capacity && capacityCodes[c]
		why = append(why, c+": "+aws.ToString(e.ErrorMessage))
	}
	if capacity {
		return provider.Instance{}, &provider.InsufficientCapacityError{InstanceType: t.Name, Market: spec.Market, Zone: req.Zone}
	}
	return provider.Instance{}, fmt.Errorf("pool %s: launch %s: the fleet launched nothing: %s", p.name(), t.Name, strings.Join(why, "; "))
}

func tagSpec(rt types.ResourceType, tags map[string]string) types.TagSpecification {
	ts := types.TagSpecification{ResourceType: rt}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		ts.Tags = append(ts.Tags, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return ts
}

// capacityCodes are EC2's ways of saying there is no capacity for an
// offering now: another type, zone or market may have some.
var capacityCodes = map[string]bool{
	"InsufficientInstanceCapacity":      true,
	"InsufficientCapacity":              true,
	"InsufficientHostCapacity":          true,
	"UnfulfillableCapacity":             true,
	"MaxSpotInstanceCountExceeded":      true,
	"SpotMaxPriceTooLow":                true,
	"InsufficientFreeAddressesInSubnet": true,
}

// Terminate terminates instance id if it is this pool's: tagged with the
// cluster and the pool. Anything else is provider.ErrNoInstance: berth
// never terminates an instance it did not launch.
func (p *Pool) Terminate(ctx context.Context, id string) error {
	out, err := p.api.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}, Filters: p.ownFilters()})
	switch c := code(err); {
	case c == "InvalidInstanceID.NotFound" || c == "InvalidInstanceID.Malformed":
		return fmt.Errorf("pool %s: instance %s: %w", p.name(), id, provider.ErrNoInstance)
	case err != nil:
		return fmt.Errorf("pool %s: describe instance %s: %w", p.name(), id, err)
	}
	found := false
	for _, r := range out.Reservations {
		for _, in := range r.Instances {
			found = found || aws.ToString(in.InstanceId) == id
		}
	}
	if !found {
		return fmt.Errorf("pool %s: instance %s: %w", p.name(), id, provider.ErrNoInstance)
	}
	_, err = p.api.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	if c := code(err); c == "InvalidInstanceID.NotFound" {
		return fmt.Errorf("pool %s: instance %s: %w", p.name(), id, provider.ErrNoInstance)
	} else if err != nil {
		return fmt.Errorf("pool %s: terminate %s: %w", p.name(), id, err)
	}
	return nil
}

// ownFilters select the instances of this pool of this cluster.
func (p *Pool) ownFilters() []types.Filter {
	return []types.Filter{
		{Name: aws.String("tag:" + TagCluster), Values: []string{p.cfg.Cluster}},
		{Name: aws.String("tag:" + provider.TagPool), Values: []string{p.name()}},
	}
}

// List returns the pool's instances, as EC2 lists them: terminated ones
// stay for about an hour.
func (p *Pool) List(ctx context.Context) ([]provider.Instance, error) {
	var out []provider.Instance
	pages := ec2.NewDescribeInstancesPaginator(p.api, &ec2.DescribeInstancesInput{Filters: p.ownFilters()})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("pool %s: describe instances: %w", p.name(), err)
		}
		for _, r := range page.Reservations {
			for _, in := range r.Instances {
				got, err := p.instance(ctx, in)
				if err != nil {
					return nil, err
				}
				out = append(out, got)
			}
		}
	}
	return out, nil
}

// instance is EC2's instance in as berth sees it.
func (p *Pool) instance(ctx context.Context, in types.Instance) (provider.Instance, error) {
	tags := map[string]string{}
	for _, t := range in.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	got := provider.Instance{ID: aws.ToString(in.InstanceId), Pool: p.name(), InstanceType: string(in.InstanceType),
		Market: berth.OnDemand, Tags: tags, LaunchedAt: aws.ToTime(in.LaunchTime)}
	if in.InstanceLifecycle == types.InstanceLifecycleTypeSpot {
		got.Market = berth.Spot
	}
	if in.Placement != nil {
		got.Zone = aws.ToString(in.Placement.AvailabilityZone)
	}
	t, err := p.typeOf(ctx, got.InstanceType)
	if err != nil {
		return got, err
	}
	got.CPU, got.MemoryMB = t.CPU, t.MemoryMB
	got.ReadyAt = got.LaunchedAt.Add(time.Duration(p.cfg.Spec.BootTime))
	var state types.InstanceStateName
	if in.State != nil {
		state = in.State.Name
	}
	switch state {
	case types.InstanceStateNamePending:
		got.State = provider.InstancePending
	case types.InstanceStateNameRunning:
		got.State = provider.InstanceRunning
		if now := p.cfg.Clock(); got.ReadyAt.After(now) {
			got.ReadyAt = now
		}
	default: // shutting-down, terminated, stopping, stopped: of no use to berth
		got.State = provider.InstanceTerminated
		got.TerminatedAt = transitionTime(aws.ToString(in.StateTransitionReason))
		if in.StateReason != nil && aws.ToString(in.StateReason.Code) == "Server.SpotInstanceTermination" {
			got.Reclaimed = true
		}
	}
	return got, nil
}

// typeOf returns the size of typ: the pool's, else EC2's (an instance of a
// type the configuration no longer lists).
func (p *Pool) typeOf(ctx context.Context, typ string) (berth.InstanceType, error) {
	if t, ok := p.types[typ]; ok {
		return t, nil
	}
	p.mu.Lock()
	t, ok := p.extraType[typ]
	p.mu.Unlock()
	if ok {
		return t, nil
	}
	got, err := p.describeTypes(ctx, []types.InstanceType{types.InstanceType(typ)})
	if err != nil {
		return t, fmt.Errorf("pool %s: describe instance type %s: %w", p.name(), typ, err)
	}
	t = got[typ]
	p.mu.Lock()
	p.extraType[typ] = t
	p.mu.Unlock()
	return t, nil
}

// transitionTime reads the time in EC2's state transition reason, such as
// "User initiated (2026-12-07 10:00:00 GMT)"; zero when there is none.
func transitionTime(reason string) time.Time {
	open, end := strings.LastIndexByte(reason, '('), strings.LastIndexByte(reason, ')')
	if open < 0 || end < open {
		return time.Time{}
	}
	t, err := time.Parse("2006-01-02 15:04:05 MST", reason[open+1:end])
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
