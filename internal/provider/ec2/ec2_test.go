package ec2

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/pricing"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/awsfake"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/ec2/ec2fake"
	"github.com/berth-run/berth/internal/provider/providertest"
)

// world is an EC2 fake on a clock the test moves, and the SDK client
// pointed at it.
type world struct {
	fake   *ec2fake.Fake
	client *awsec2.Client
	mu     sync.Mutex
	now    time.Time
}

const boot = 30 * time.Second

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{now: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	w.fake = ec2fake.New(ec2fake.Config{Clock: w.clock, BootTime: boot})
	w.fake.PutLaunchTemplate(ec2fake.LaunchTemplate{Name: "berth-workers", HTTPTokens: "required", HopLimit: 1})
	w.fake.PutLaunchTemplate(ec2fake.LaunchTemplate{Name: "imdsv1", HTTPTokens: "optional", HopLimit: 1})
	w.fake.PutLaunchTemplate(ec2fake.LaunchTemplate{Name: "two-hops", HTTPTokens: "required", HopLimit: 2})
	w.fake.PutLaunchTemplate(ec2fake.LaunchTemplate{Name: "image-defaults", NoMetadataOptions: true})
	srv := httptest.NewServer(w.fake)
	t.Cleanup(srv.Close)
	w.client = awsec2.New(awsec2.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""), HTTPClient: ec2fake.HTTPClient(srv.Client())})
	return w
}

func (w *world) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *world) wait(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = w.now.Add(d)
}

func spotSpec() berth.PoolSpec {
	return berth.PoolSpec{Name: "spot", Provider: berth.ProviderEC2, Market: berth.Spot, Max: 10, LaunchTemplate: "berth-workers",
		BootTime:      berth.Duration(boot),
		InstanceTypes: []berth.InstanceType{{Name: "m5.large", Price: 0.096}, {Name: "c5.xlarge", CPU: 4, MemoryMB: 8192, Price: 0.17}}}.WithDefaults()
}

func (w *world) pool(t *testing.T, spec berth.PoolSpec) *Pool {
	t.Helper()
	p, err := New(t.Context(), w.client, Config{Spec: spec, Cluster: "test", Clock: w.clock})
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return p
}

// TestPoolConformance: an ec2 pool passes the provider.Pool suite against
// the EC2 fake, on-demand and Spot.
func TestPoolConformance(t *testing.T) {
	for _, market := range []berth.Market{berth.OnDemand, berth.Spot} {
		t.Run(string(market), func(t *testing.T) {
			w := newWorld(t)
			spec := spotSpec()
			spec.Market = market
			providertest.RunPoolTests(t, providertest.PoolHarness{
				NewPool: func(t *testing.T) provider.Pool { return w.pool(t, spec) },
				Exhaust: func(t *testing.T, o provider.Offering) func() {
					m := ec2fake.Market(o.Market)
					for _, z := range w.fake.Zones() {
						w.fake.Exhaust(o.InstanceType, z, m)
					}
					return func() {
						for _, z := range w.fake.Zones() {
							w.fake.Restore(o.InstanceType, z, m)
						}
					}
				},
				Wait:     w.wait,
				BootTime: boot,
			})
		})
	}
}

// TestNewChecksTheConfiguration: what EC2 does not have is an error naming
// the field, before anything is launched.
func TestNewChecksTheConfiguration(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(*berth.PoolSpec)
		noVPC  bool
		field  string
		says   string
	}{
		{"an unknown type", func(s *berth.PoolSpec) { s.InstanceTypes[1].Name = "m9z.huge" }, false, "instance_types[1].name", `no instance type "m9z.huge"`},
		{"an unknown subnet", func(s *berth.PoolSpec) { s.Subnets = []string{"subnet-nope"} }, false, "subnets[0]", "no subnet subnet-nope"},
		{"no subnets and no default VPC", func(*berth.PoolSpec) {}, true, "subnets", "no default VPC"},
		{"an unknown launch template", func(s *berth.PoolSpec) { s.LaunchTemplate = "nope" }, false, "launch_template", "no launch template nope"},
		{"an unknown launch template id", func(s *berth.PoolSpec) { s.LaunchTemplate = "lt-0123456789abcdef0" }, false, "launch_template", "no launch template"},
		{"no price", func(s *berth.PoolSpec) { s.InstanceTypes[0].Price = 0 }, false, "instance_types[0].price", "is required"},
		{"a template without IMDSv2", func(s *berth.PoolSpec) { s.LaunchTemplate = "imdsv1" }, false, "launch_template", "HttpTokens optional"},
		{"a template whose containers reach IMDS", func(s *berth.PoolSpec) { s.LaunchTemplate = "two-hops" }, false, "launch_template", "hop limit 2"},
		{"a template that leaves IMDS to the image", func(s *berth.PoolSpec) { s.LaunchTemplate = "image-defaults" }, false, "launch_template", "leaves the instance metadata options to the image"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			if tt.noVPC {
				w.fake = ec2fake.New(ec2fake.Config{Clock: w.clock, NoDefaultVPC: true})
				w.fake.PutLaunchTemplate(ec2fake.LaunchTemplate{Name: "berth-workers", HTTPTokens: "required", HopLimit: 1})
				srv := httptest.NewServer(w.fake)
				t.Cleanup(srv.Close)
				w.client = awsec2.New(awsec2.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
					Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""), HTTPClient: ec2fake.HTTPClient(srv.Client())})
			}
			spec := spotSpec()
			tt.change(&spec)
			_, err := New(t.Context(), w.client, Config{Spec: spec, Clock: w.clock})
			var fe *berth.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || !strings.Contains(fe.Problem, tt.says) {
				t.Errorf("New() = %v, want an error on %s saying %q", err, tt.field, tt.says)
			}
			if n := len(w.fake.CallsOf("CreateFleet")); n != 0 {
				t.Errorf("%d CreateFleet calls, want none", n)
			}
		})
	}
}

// TestSpecHasEC2Sizes: the pool's spec gives each instance type the
// sizes EC2 tells, unless the configuration gave them, so that placement
// and the checks at submit see the types as they are.
func TestSpecHasEC2Sizes(t *testing.T) {
	w := newWorld(t)
	spec := spotSpec()
	got := w.pool(t, spec).Spec()
	want := []berth.InstanceType{{Name: "m5.large", CPU: 2, MemoryMB: 8192, Price: 0.096}, {Name: "c5.xlarge", CPU: 4, MemoryMB: 8192, Price: 0.17}}
	if !slices.Equal(got.InstanceTypes, want) {
		t.Errorf("Spec().InstanceTypes = %+v, want %+v", got.InstanceTypes, want)
	}
	if !got.Fits(2, 8192) || got.Fits(4, 16384) {
		t.Errorf("Spec().Fits: 2 vCPU/8 GiB %v, 4 vCPU/16 GiB %v; want true, false", got.Fits(2, 8192), got.Fits(4, 16384))
	}
	if spec.InstanceTypes[0].CPU != 0 {
		t.Errorf("Spec() changed the configuration it was given: %+v", spec.InstanceTypes[0])
	}
}

// TestLaunch: one instant fleet per launch, over the pool's subnets, with
// the market's allocation strategy, the token as client token, and the
// cluster, pool, token and name tags on the instance and its volumes.
func TestLaunch(t *testing.T) {
	w := newWorld(t)
	p := w.pool(t, spotSpec())
	os, err := p.Offerings(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range os {
		if o.InstanceType == "m5.large" && (o.CPU != 2 || o.MemoryMB != 8192) {
			t.Errorf("m5.large offered as %v/%d, want EC2's 2/8192", o.CPU, o.MemoryMB)
		}
		if want, _ := w.fake.Price(o.InstanceType, w.fake.Zones()[0], ec2fake.Spot); o.Price != want {
			t.Errorf("%s offered at %v, want the lowest zone's Spot price %v", o.InstanceType, o.Price, want)
		}
	}
	in, err := p.Launch(t.Context(), provider.LaunchRequest{InstanceType: "m5.large", Market: berth.Spot, Token: "tok-1",
		Tags: map[string]string{provider.TagJob: "job_1"}})
	if err != nil {
		t.Fatal(err)
	}
	calls := w.fake.CallsOf("CreateFleet")
	if len(calls) != 1 {
		t.Fatalf("%d CreateFleet calls, want 1", len(calls))
	}
	q := calls[0].Params
	for k, want := range map[string]string{
		"Type": "instant", "ClientToken": "tok-1", "SpotOptions.AllocationStrategy": "price-capacity-optimized",
		"TargetCapacitySpecification.DefaultTargetCapacityType": "spot", "TargetCapacitySpecification.TotalTargetCapacity": "1",
		"LaunchTemplateConfigs.1.LaunchTemplateSpecification.LaunchTemplateName": "berth-workers",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("CreateFleet %s = %q, want %q", k, got, want)
		}
	}
	if n := strings.Count(q.Encode(), "Overrides."); n < len(w.fake.Zones())*2 {
		t.Errorf("CreateFleet has %d override fields, want one override per subnet (%d)", n, len(w.fake.Zones()))
	}
	got, ok := w.fake.Instance(in.ID)
	if !ok {
		t.Fatalf("the fake has no instance %s", in.ID)
	}
	for k, want := range map[string]string{TagCluster: "test", provider.TagPool: "spot", provider.TagToken: "tok-1", provider.TagJob: "job_1", "Name": "berth-test-spot"} {
		if got.Tags[k] != want || got.VolumeTags[k] != want {
			t.Errorf("tag %s = %q on the instance, %q on its volumes; want %q", k, got.Tags[k], got.VolumeTags[k], want)
		}
	}
	if got.Market != ec2fake.Spot || in.Zone == "" || in.Zone != got.Zone {
		t.Errorf("launched %+v, fake has %+v: want a Spot instance in the zone EC2 chose", in, got)
	}
}

// TestLaunchErrors: no capacity in any zone is *InsufficientCapacityError;
// a permission the role lacks and throttling past the retries are errors
// naming AWS's code.
func TestLaunchErrors(t *testing.T) {
	w := newWorld(t)
	p := w.pool(t, spotSpec())
	for _, z := range w.fake.Zones() {
		w.fake.Exhaust("m5.large", z, ec2fake.Spot)
	}
	_, err := p.Launch(t.Context(), provider.LaunchRequest{InstanceType: "m5.large", Market: berth.Spot})
	var ice *provider.InsufficientCapacityError
	if !errors.As(err, &ice) || ice.InstanceType != "m5.large" {
		t.Errorf("Launch() with no capacity = %v, want *InsufficientCapacityError", err)
	}
	if _, err := p.Launch(t.Context(), provider.LaunchRequest{InstanceType: "c5.xlarge", Market: berth.Spot}); err != nil {
		t.Errorf("Launch() of another type = %v, want it launched", err)
	}
	if _, err := p.Launch(t.Context(), provider.LaunchRequest{InstanceType: "c5.xlarge", Market: berth.OnDemand}); !errors.Is(err, provider.ErrNoOffering) {
		t.Errorf("Launch() on-demand in a Spot pool = %v, want ErrNoOffering", err)
	}
	w.fake.Deny("CreateFleet")
	_, err = p.Launch(t.Context(), provider.LaunchRequest{InstanceType: "c5.xlarge", Market: berth.Spot})
	if err == nil || !strings.Contains(err.Error(), "UnauthorizedOperation") || errors.As(err, &ice) {
		t.Errorf("Launch() denied = %v, want an error naming UnauthorizedOperation", err)
	}
	w.fake.Allow("CreateFleet")
	w.fake.Throttle(1)
	if _, err := p.Launch(t.Context(), provider.LaunchRequest{InstanceType: "c5.xlarge", Market: berth.Spot}); err != nil {
		t.Errorf("Launch() throttled once = %v, want the SDK's retry to launch it", err)
	}
}

// TestTerminateOnlyItsOwn: an instance without the pool's and cluster's
// tags is never terminated.
func TestTerminateOnlyItsOwn(t *testing.T) {
	w := newWorld(t)
	mine := w.pool(t, spotSpec())
	spec := spotSpec()
	spec.Name = "other"
	other := w.pool(t, spec)
	in, err := other.Launch(t.Context(), provider.LaunchRequest{InstanceType: "m5.large", Market: berth.Spot})
	if err != nil {
		t.Fatal(err)
	}
	if err := mine.Terminate(t.Context(), in.ID); !errors.Is(err, provider.ErrNoInstance) {
		t.Errorf("Terminate(another pool's instance) = %v, want ErrNoInstance", err)
	}
	if got, _ := w.fake.Instance(in.ID); got.State == "terminated" || got.State == "shutting-down" {
		t.Errorf("another pool's instance is %s", got.State)
	}
	if len(w.fake.CallsOf("TerminateInstances")) != 0 {
		t.Error("TerminateInstances was called")
	}
}

// TestSpotReclaimListed: a Spot instance EC2 reclaims is listed as
// terminated and reclaimed, not as terminated by berth.
func TestSpotReclaimListed(t *testing.T) {
	w := newWorld(t)
	p := w.pool(t, spotSpec())
	in, err := p.Launch(t.Context(), provider.LaunchRequest{InstanceType: "m5.large", Market: berth.Spot})
	if err != nil {
		t.Fatal(err)
	}
	w.wait(boot)
	if err := w.fake.Interrupt(in.ID); err != nil {
		t.Fatal(err)
	}
	w.wait(ec2fake.SpotNotice + time.Second)
	list, err := p.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range list {
		if got.ID == in.ID && (got.State != provider.InstanceTerminated || !got.Reclaimed) {
			t.Errorf("a reclaimed instance is listed as %+v, want terminated and reclaimed", got)
		}
	}
}

// TestPricesFromThePriceList: a type the configuration does not price
// takes its Linux on-demand price from the Price List API, read once at
// start; one it has no price for is an error naming the field.
func TestPricesFromThePriceList(t *testing.T) {
	w := newWorld(t)
	list := awsfake.NewPricing()
	list.SetOnDemand("m5.large", "us-east-1", 0.096)
	srv := httptest.NewServer(list)
	t.Cleanup(srv.Close)
	prices := pricing.New(pricing.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")})
	spec := spotSpec()
	spec.Market = berth.OnDemand
	spec.InstanceTypes[0].Price = 0 // m5.large: from the list
	p, err := New(t.Context(), w.client, Config{Spec: spec, Clock: w.clock, Prices: prices, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	os, err := p.Offerings(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range os {
		if want := map[string]float64{"m5.large": 0.096, "c5.xlarge": 0.17}[o.InstanceType]; o.Price != want {
			t.Errorf("%s offered at %v, want %v", o.InstanceType, o.Price, want)
		}
	}
	calls := list.Calls()
	if len(calls) != 1 {
		t.Errorf("%d GetProducts calls, want 1 (c5.xlarge is priced in the configuration)", len(calls))
	}
	spec.InstanceTypes[1].Price = 0 // c5.xlarge: the list has no price for it
	_, err = New(t.Context(), w.client, Config{Spec: spec, Clock: w.clock, Prices: prices, Region: "us-east-1"})
	var fe *berth.FieldError
	if !errors.As(err, &fe) || fe.Field != "instance_types[1].price" || !strings.Contains(fe.Problem, "Price List API has no") {
		t.Errorf("New() with no price anywhere = %v, want an error on instance_types[1].price", err)
	}
	list.FailNext(awsfake.APIError{Status: 400, Code: "AccessDeniedException", Message: "not authorized to perform: pricing:GetProducts"})
	if _, err := New(t.Context(), w.client, Config{Spec: spec, Clock: w.clock, Prices: prices, Region: "us-east-1"}); err == nil ||
		!strings.Contains(err.Error(), "AccessDeniedException") {
		t.Errorf("New() with the Price List denied = %v, want the error naming AccessDeniedException", err)
	}
}

// TestLaunchAlternatives: the alternatives are overrides of the same
// fleet, so a type with no capacity anywhere does not stop the launch;
// the instance says which type EC2 chose.
func TestLaunchAlternatives(t *testing.T) {
	w := newWorld(t)
	p := w.pool(t, spotSpec())
	for _, z := range w.fake.Zones() {
		w.fake.Exhaust("m5.large", z, ec2fake.Spot)
	}
	in, err := p.Launch(t.Context(), provider.LaunchRequest{InstanceType: "m5.large", Alternatives: []string{"c5.xlarge", "not-in-the-pool"}, Market: berth.Spot})
	if err != nil {
		t.Fatalf("Launch() with an alternative = %v, want the alternative launched", err)
	}
	if in.InstanceType != "c5.xlarge" || in.CPU != 4 || in.MemoryMB != 8192 {
		t.Errorf("launched %s %v/%d, want the c5.xlarge EC2 chose, with its shape", in.InstanceType, in.CPU, in.MemoryMB)
	}
	q := w.fake.CallsOf("CreateFleet")[0].Params.Encode()
	if strings.Contains(q, "not-in-the-pool") {
		t.Error("a type the pool does not have was sent as an override")
	}
	if got := strings.Count(q, "c5.xlarge"); got != len(w.fake.Zones()) {
		t.Errorf("c5.xlarge is in %d overrides, want one per subnet (%d)", got, len(w.fake.Zones()))
	}
}
