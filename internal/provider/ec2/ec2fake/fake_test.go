package ec2fake

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

// clock is a virtual clock for the fake.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// world is a fake served over loopback, with the real SDK client on it.
type world struct {
	f      *Fake
	clk    *clock
	srv    *httptest.Server
	ec2    *ec2.Client // retries off
	lt     LaunchTemplate
	region string
}

// newWorld serves a fake of cfg (its Clock the world's) with one launch
// template, "berth-pool", that requires IMDSv2 with a hop limit of 1.
func newWorld(t *testing.T, cfg Config) *world {
	t.Helper()
	clk := &clock{now: t0}
	cfg.Clock = clk.Now
	f := New(cfg)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	w := &world{f: f, clk: clk, srv: srv, region: f.Region()}
	w.ec2 = w.client(func(o *ec2.Options) { o.Retryer = aws.NopRetryer{} })
	w.lt = f.PutLaunchTemplate(LaunchTemplate{Name: "berth-pool", HTTPTokens: "required", HopLimit: 1})
	return w
}

// client returns the real EC2 client pointed at the fake, with static
// credentials; opts tune it (the default retryer unless one sets another).
func (w *world) client(opts ...func(*ec2.Options)) *ec2.Client {
	return ec2.New(ec2.Options{
		Region:       w.region,
		BaseEndpoint: aws.String(w.srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:   HTTPClient(w.srv.Client()),
	}, opts...)
}

// post sends a raw query-protocol request, for what the SDK refuses to
// send, and returns the status and body.
func (w *world) post(t *testing.T, form url.Values) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", w.srv.URL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260302/us-east-1/ec2/aws4_request")
	resp, err := w.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// apiErr returns EC2's error in err, or nil.
func apiErr(err error) smithy.APIError {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae
	}
	return nil
}

// errorCode returns the code of err and its HTTP status, or "" and 0.
func errorCode(err error) (string, int) {
	ae := apiErr(err)
	if ae == nil {
		return "", 0
	}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return ae.ErrorCode(), status
}

// wantError fails t unless err is the EC2 error code with status.
func wantError(t *testing.T, err error, code string, status int) {
	t.Helper()
	gotCode, gotStatus := errorCode(err)
	if gotCode != code || gotStatus != status {
		t.Errorf("error = %v, want %s (HTTP %d)", err, code, status)
	}
}

// launch launches n instances of typ in market through the SDK and
// returns their ids.
func (w *world) launch(t *testing.T, market Market, typ string, n int, tags map[string]string) []string {
	t.Helper()
	in := w.fleetInput(market, n, types.FleetLaunchTemplateOverridesRequest{InstanceType: types.InstanceType(typ)})
	for k, v := range tags {
		in.TagSpecifications = append(in.TagSpecifications, types.TagSpecification{
			ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String(k), Value: aws.String(v)}},
		})
	}
	out, err := w.ec2.CreateFleet(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateFleet: %v", err)
	}
	ids := fleetIDs(out)
	if len(ids) != n {
		t.Fatalf("CreateFleet launched %d instances, want %d; errors %v", len(ids), n, fleetErrors(out))
	}
	return ids
}

// fleetInput asks an instant fleet for n instances in market of the
// world's launch template with overrides.
func (w *world) fleetInput(market Market, n int, overrides ...types.FleetLaunchTemplateOverridesRequest) *ec2.CreateFleetInput {
	return &ec2.CreateFleetInput{
		Type: types.FleetTypeInstant,
		TargetCapacitySpecification: &types.TargetCapacitySpecificationRequest{
			TotalTargetCapacity:       aws.Int32(int32(n)),
			DefaultTargetCapacityType: types.DefaultTargetCapacityType(market),
		},
		LaunchTemplateConfigs: []types.FleetLaunchTemplateConfigRequest{{
			LaunchTemplateSpecification: &types.FleetLaunchTemplateSpecificationRequest{
				LaunchTemplateName: aws.String(w.lt.Name), Version: aws.String("$Latest"),
			},
			Overrides: overrides,
		}},
	}
}

func fleetIDs(out *ec2.CreateFleetOutput) []string {
	var ids []string
	for _, in := range out.Instances {
		ids = append(ids, in.InstanceIds...)
	}
	return ids
}

// fleetErrors returns the fleet's errors as "code type zone" strings.
func fleetErrors(out *ec2.CreateFleetOutput) []string {
	var errs []string
	for _, e := range out.Errors {
		o := e.LaunchTemplateAndOverrides.Overrides
		errs = append(errs, aws.ToString(e.ErrorCode)+" "+string(o.InstanceType)+" "+aws.ToString(o.AvailabilityZone))
	}
	return errs
}

func TestThrottle(t *testing.T) {
	w := newWorld(t, Config{})
	ctx := context.Background()

	w.f.Throttle(1)
	_, err := w.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	wantError(t, err, "RequestLimitExceeded", http.StatusServiceUnavailable)
	if _, err := w.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Errorf("the call after the throttled one: %v", err)
	}

	// The SDK's standard retryer retries RequestLimitExceeded (after up
	// to a second of real time: its backoff for throttles).
	w.f.Throttle(1)
	if _, err := w.client().DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Fatalf("DescribeInstances with the default retryer, one throttle: %v", err)
	}
	calls := w.f.CallsOf("DescribeInstances")
	var codes []string
	for _, c := range calls[len(calls)-2:] {
		codes = append(codes, c.Code)
	}
	if want := []string{"RequestLimitExceeded", ""}; strings.Join(codes, ",") != strings.Join(want, ",") {
		t.Errorf("the retried call's codes = %q, want %q", codes, want)
	}
}

func TestDeny(t *testing.T) {
	w := newWorld(t, Config{})
	ctx := context.Background()
	ids := w.launch(t, OnDemand, "m5.large", 1, nil)

	w.f.Deny("TerminateInstances")
	_, err := w.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids})
	wantError(t, err, "UnauthorizedOperation", http.StatusForbidden)
	if _, err := w.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Errorf("DescribeInstances while TerminateInstances is denied: %v", err)
	}
	if in, _ := w.f.Instance(ids[0]); in.State == "terminated" {
		t.Errorf("a denied TerminateInstances terminated %s", ids[0])
	}

	w.f.Allow("TerminateInstances")
	if _, err := w.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids}); err != nil {
		t.Errorf("TerminateInstances once allowed: %v", err)
	}
}

func TestDryRun(t *testing.T) {
	w := newWorld(t, Config{})
	_, err := w.ec2.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{DryRun: aws.Bool(true)})
	wantError(t, err, "DryRunOperation", http.StatusPreconditionFailed)
	w.f.Deny("DescribeInstances")
	_, err = w.ec2.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{DryRun: aws.Bool(true)})
	wantError(t, err, "UnauthorizedOperation", http.StatusForbidden)
}

func TestUnknownAction(t *testing.T) {
	w := newWorld(t, Config{})
	_, err := w.ec2.RunInstances(context.Background(), &ec2.RunInstancesInput{
		ImageId: aws.String("ami-12345678"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
	})
	wantError(t, err, "InvalidAction", http.StatusBadRequest)
}

func TestRawRequests(t *testing.T) {
	w := newWorld(t, Config{})
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"no action", url.Values{"Version": {"2016-11-15"}}, 400, "MissingAction"},
		{"unknown action", url.Values{"Action": {"LaunchRockets"}, "Version": {"2016-11-15"}}, 400, "InvalidAction"},
		{"fleet without a target", url.Values{
			"Action": {"CreateFleet"}, "Version": {"2016-11-15"}, "Type": {"instant"},
			"LaunchTemplateConfigs.1.LaunchTemplateSpecification.LaunchTemplateName": {"berth-pool"},
		}, 400, "MissingParameter"},
		{"fleet without a template", url.Values{
			"Action": {"CreateFleet"}, "Version": {"2016-11-15"}, "Type": {"instant"},
			"TargetCapacitySpecification.TotalTargetCapacity": {"1"},
		}, 400, "MissingParameter"},
		{"terminate nothing", url.Values{"Action": {"TerminateInstances"}, "Version": {"2016-11-15"}}, 400, "MissingParameter"},
		{"filter without a name", url.Values{
			"Action": {"DescribeInstances"}, "Version": {"2016-11-15"}, "Filter.1.Value.1": {"x"},
		}, 400, "MissingParameter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := w.post(t, tc.form)
			if status != tc.status || !strings.Contains(body, "<Code>"+tc.code+"</Code>") ||
				!strings.Contains(body, "<Response><Errors><Error>") || !strings.Contains(body, "<RequestID>") {
				t.Errorf("status %d, body %s; want %d with code %s", status, body, tc.status, tc.code)
			}
		})
	}

	// Unsigned requests fail as EC2 fails them.
	resp, err := w.srv.Client().PostForm(w.srv.URL, url.Values{"Action": {"DescribeInstances"}, "Version": {"2016-11-15"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an unsigned request: HTTP %d, want 401", resp.StatusCode)
	}
}

func TestSuccessEnvelope(t *testing.T) {
	w := newWorld(t, Config{})
	status, body := w.post(t, url.Values{"Action": {"DescribeSubnets"}, "Version": {"2016-11-15"}})
	want := `<DescribeSubnetsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>`
	if status != 200 || !strings.Contains(body, want) || !strings.Contains(body, "<subnetSet><item><subnetId>subnet-") {
		t.Errorf("status %d, body %s; want 200 and %s", status, body, want)
	}
}

func TestCallLog(t *testing.T) {
	w := newWorld(t, Config{})
	ctx := context.Background()
	ids := w.launch(t, Spot, "m5.large", 1, map[string]string{"berth:pool": "spot"})
	w.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{ids[0], "i-00000000000000bad"}})

	calls := w.f.Calls()
	if len(calls) != 2 {
		t.Fatalf("%d calls logged, want 2: %+v", len(calls), calls)
	}
	fleet, term := calls[0], calls[1]
	if fleet.Action != "CreateFleet" || fleet.Code != "" || fleet.Params.Get("TagSpecification.1.Tag.1.Value") != "spot" ||
		fleet.Params.Get("ClientToken") == "" || fleet.Params.Has("Action") || !fleet.At.Equal(t0) {
		t.Errorf("CreateFleet logged as %+v", fleet)
	}
	if term.Action != "TerminateInstances" || term.Code != "InvalidInstanceID.NotFound" || term.Params.Get("InstanceId.1") != ids[0] {
		t.Errorf("TerminateInstances logged as %+v", term)
	}
}

func TestLaunchedHook(t *testing.T) {
	var mu sync.Mutex
	var got []Instance
	cfg := Config{Launched: func(in Instance) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, in)
	}}
	w := newWorld(t, cfg)
	ids := w.launch(t, Spot, "c5.large", 2, map[string]string{"berth:pool": "spot"})
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("Launched called %d times, want 2", len(got))
	}
	for i, in := range got {
		if in.ID != ids[i] || in.State != "pending" || in.Market != Spot || in.Tags["berth:pool"] != "spot" ||
			in.HTTPTokens != "required" || in.PrivateIP == "" {
			t.Errorf("Launched(%+v), want instance %s, pending Spot, tagged, IMDSv2", in, ids[i])
		}
	}
}

// TestConcurrentUse runs fleets, listings and terminations side by side;
// with -race it checks the fake's locking.
func TestConcurrentUse(t *testing.T) {
	w := newWorld(t, Config{})
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5 {
				out, err := w.ec2.CreateFleet(ctx, w.fleetInput(Spot, 2, types.FleetLaunchTemplateOverridesRequest{InstanceType: "m5.large"}))
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := w.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
					t.Error(err)
				}
				if _, err := w.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: fleetIDs(out)}); err != nil {
					t.Error(err)
				}
				w.f.Instances()
			}
		})
	}
	wg.Wait()
	if n := len(w.f.Instances()); n != 40 {
		t.Errorf("%d instances, want 40", n)
	}
}

// TestEndpointFromEnvironment: the client berth builds, from the shared
// configuration with AWS_ENDPOINT_URL, reaches the fake.
func TestEndpointFromEnvironment(t *testing.T) {
	w := newWorld(t, Config{})
	for _, name := range []string{"AWS_CA_BUNDLE", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_EC2", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"} {
		t.Setenv(name, "") // whatever the machine has
	}
	t.Setenv("AWS_ENDPOINT_URL", w.srv.URL)
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", w.region)
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithHTTPClient(HTTPClient(w.srv.Client())))
	if err != nil {
		t.Fatal(err)
	}
	out, err := ec2.NewFromConfig(cfg).DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Subnets) != 3 {
		t.Errorf("%d subnets, want the 3 default ones", len(out.Subnets))
	}
}
