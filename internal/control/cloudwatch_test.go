package control

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/autoscale"
	"github.com/berth-run/berth/internal/awsfake"
)

func TestCheckNamespace(t *testing.T) {
	for ns, ok := range map[string]bool{
		"berth": true, "Berth/Prod-1": true, strings.Repeat("n", 255): true,
		"": false, strings.Repeat("n", 256): false, "AWS/EC2": false, ":berth": false, "   ": false, "bérth": false, "a\tb": false,
	} {
		if err := CheckNamespace(ns); (err == nil) != ok {
			t.Errorf("CheckNamespace(%q) = %v, want ok %v", ns, err, ok)
		}
		if (awsfake.CheckNamespace(ns) == nil) != ok {
			t.Errorf("the fake's CheckNamespace(%q) = %v, want ok %v", ns, awsfake.CheckNamespace(ns), ok)
		}
	}
}

func TestCloudWatchData(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	pools := []PoolMetrics{
		{Metric: autoscale.Metric{Pool: "spot", Schedulable: 0.5, Waiting: 3}, At: t0, Pending: 1, Running: 2, RunningJobs: 4, CostUSDHour: 0.25},
		{Metric: autoscale.Metric{Pool: "od", Schedulable: 2}, At: t0.Add(time.Second), Running: 1, RunningJobs: 1, CostUSDHour: 0.5},
	}
	name := func(d types.MetricDatum) string {
		s := aws.ToString(d.MetricName)
		for _, dim := range d.Dimensions {
			s += " " + aws.ToString(dim.Name) + "=" + aws.ToString(dim.Value)
		}
		return fmt.Sprintf("%s %v %s %v %d", s, aws.ToFloat64(d.Value), d.Unit, aws.ToTime(d.Timestamp).Sub(t0), aws.ToInt32(d.StorageResolution))
	}
	for _, tc := range []struct {
		name    string
		sent    map[string]time.Time
		highRes bool
		want    []string
	}{
		{"all new", nil, false, []string{
			"SchedulableContainers Cluster=prod Pool=spot 0.5 Count 0s 60",
			"Instances Cluster=prod Pool=spot 3 Count 0s 60",
			"QueuedJobs Cluster=prod Pool=spot 3 Count 0s 60",
			"RunningJobs Cluster=prod Pool=spot 4 Count 0s 60",
			"CostPerHour Cluster=prod Pool=spot 0.25 None 0s 60",
			"SchedulableContainers Cluster=prod Pool=od 2 Count 1s 60",
			"Instances Cluster=prod Pool=od 1 Count 1s 60",
			"QueuedJobs Cluster=prod Pool=od 0 Count 1s 60",
			"RunningJobs Cluster=prod Pool=od 1 Count 1s 60",
			"CostPerHour Cluster=prod Pool=od 0.5 None 1s 60",
			"Instances Cluster=prod 4 Count 1s 60",
			"QueuedJobs Cluster=prod 3 Count 1s 60",
			"RunningJobs Cluster=prod 5 Count 1s 60",
			"CostPerHour Cluster=prod 0.75 None 1s 60",
		}},
		{"spot sent, high resolution: the sums still count it", map[string]time.Time{"spot": t0, "": t0}, true, []string{
			"SchedulableContainers Cluster=prod Pool=od 2 Count 1s 1",
			"Instances Cluster=prod Pool=od 1 Count 1s 1",
			"QueuedJobs Cluster=prod Pool=od 0 Count 1s 1",
			"RunningJobs Cluster=prod Pool=od 1 Count 1s 1",
			"CostPerHour Cluster=prod Pool=od 0.5 None 1s 1",
			"Instances Cluster=prod 4 Count 1s 1",
			"QueuedJobs Cluster=prod 3 Count 1s 1",
			"RunningJobs Cluster=prod 5 Count 1s 1",
			"CostPerHour Cluster=prod 0.75 None 1s 1",
		}},
		{"all sent", map[string]time.Time{"spot": t0, "od": t0.Add(time.Second), "": t0.Add(time.Second)}, false, nil},
	} {
		var got []string
		for _, d := range CloudWatchData("prod", pools, tc.sent, tc.highRes) {
			got = append(got, name(d))
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: CloudWatchData (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestBatches(t *testing.T) {
	data := func(n int, dimLen int) []types.MetricDatum {
		out := make([]types.MetricDatum, n)
		for i := range out {
			out[i] = types.MetricDatum{MetricName: aws.String("M"), Dimensions: []types.Dimension{{Name: aws.String("Pool"), Value: aws.String(strings.Repeat("p", dimLen))}}}
		}
		return out
	}
	sizes := func(bs [][]types.MetricDatum) []int {
		var out []int
		for _, b := range bs {
			out = append(out, len(b))
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		data     []types.MetricDatum
		maxBytes int
		want     []int
	}{
		{"none", nil, maxPutBytes, nil},
		{"1000 in one call", data(1000, 4), maxPutBytes, []int{1000}},
		{"2503 by count", data(2503, 4), maxPutBytes, []int{1000, 1000, 503}},
		{"by size: ~1.2 KB each in 4 KB", data(7, 1000), 4000, []int{3, 3, 1}},
		{"one larger than the limit goes alone", data(2, 5000), 4000, []int{1, 1}},
	} {
		if got := sizes(Batches(tc.data, maxPutData, tc.maxBytes)); !cmp.Equal(got, tc.want) {
			t.Errorf("%s: Batches sizes = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// cloudWatchRig is a publisher over a fleet whose figures the test sets,
// with a real CloudWatch client of the fake, in process.
type cloudWatchRig struct {
	fleet *Fleet
	fake  *awsfake.CloudWatch
	pub   *CloudWatch
}

func newCloudWatchRig(period time.Duration) *cloudWatchRig {
	r := &cloudWatchRig{fake: awsfake.NewCloudWatch()}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r.fleet = NewFleet(FleetConfig{}, nil, nil, nil, log)
	api := cloudwatch.New(cloudwatch.Options{Region: "us-east-1", BaseEndpoint: aws.String("https://monitoring.us-east-1.amazonaws.com"),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""), Retryer: aws.NopRetryer{},
		HTTPClient: awsfake.InProcess(awsfake.Endpoint{CloudWatch: r.fake})})
	r.pub = NewCloudWatch(CloudWatchConfig{Namespace: "berth", Cluster: "prod", API: api, Period: period}, r.fleet, log)
	return r
}

// round sets the figures of n pools as of a round at now.
func (r *cloudWatchRig) round(n int, now time.Time) []PoolMetrics {
	r.fleet.mu.Lock()
	defer r.fleet.mu.Unlock()
	r.fleet.pools = r.fleet.pools[:0]
	var out []PoolMetrics
	for i := range n {
		name := fmt.Sprintf("pool-%03d", i)
		r.fleet.pools = append(r.fleet.pools, FleetPool{Spec: berth.PoolSpec{Name: name}})
		m := PoolMetrics{Metric: autoscale.Metric{Pool: name, Schedulable: float64(i) / 2, Waiting: i % 3}, At: now.UTC(),
			Running: 1 + i%2, RunningJobs: i % 5, CostUSDHour: 0.077 * float64(1+i%2)}
		r.fleet.metrics[name] = m
		out = append(out, m)
	}
	return out
}

// TestCloudWatchPublishBatches: 250 pools' figures, 1,254 data, go in
// two calls, and CloudWatch holds each datum once, as /metrics' values.
func TestCloudWatchPublishBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newCloudWatchRig(time.Minute)
		pools := r.round(250, time.Now())
		if err := r.pub.Publish(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := len(r.fake.Calls()); n != 2 {
			t.Errorf("%d calls, want 2", n)
		}
		var want []awsfake.Datum
		for _, d := range CloudWatchData("prod", pools, nil, false) {
			dims := map[string]string{}
			for _, dim := range d.Dimensions {
				dims[aws.ToString(dim.Name)] = aws.ToString(dim.Value)
			}
			want = append(want, awsfake.Datum{Namespace: "berth", MetricName: aws.ToString(d.MetricName), Dimensions: dims,
				Value: aws.ToFloat64(d.Value), Unit: string(d.Unit), Timestamp: aws.ToTime(d.Timestamp), StorageResolution: 60})
		}
		if len(want) != 250*5+4 {
			t.Fatalf("%d data, want %d", len(want), 250*5+4)
		}
		if diff := cmp.Diff(want, r.fake.Data()); diff != "" {
			t.Errorf("CloudWatch's data (-want +got):\n%s", diff)
		}
		// Nothing new: nothing sent.
		if err := r.pub.Publish(t.Context()); err != nil || len(r.fake.Calls()) != 2 {
			t.Errorf("Publish of the same round: %v, %d calls, want none more", err, len(r.fake.Calls()))
		}
	})
}

// TestCloudWatchThrottledThenSent: a throttle and a 500 are waited out
// within the period; throttled for the whole period, the period's data
// are dropped and counted, and the next period's go.
func TestCloudWatchThrottledThenSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newCloudWatchRig(10 * time.Second)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- r.pub.Run(ctx) }()

		start := time.Now()
		r.round(1, start)
		r.fake.FailNext(awsfake.Throttling, awsfake.InternalServiceError)
		time.Sleep(10*time.Second + 3*time.Second + time.Millisecond) // the tick, then 1s and 2s of backoff
		synctest.Wait()
		if codes := callCodes(r.fake); !cmp.Equal(codes, []string{"Throttling", "InternalServiceError", ""}) {
			t.Errorf("calls' codes = %q, want a throttle, a 500 and a success", codes)
		}
		if n := len(r.fake.Data()); n != 9 {
			t.Errorf("%d data, want 9 (5 of the pool, 4 sums)", n)
		}

		r.round(1, time.Now())
		r.fake.FailNext(awsfake.Throttling, awsfake.Throttling, awsfake.Throttling, awsfake.Throttling)
		time.Sleep(time.Until(start.Add(32 * time.Second)))
		synctest.Wait()
		// Calls at +20s, +21s, +23s and +27s; the next would be at +35s,
		// past the period's end at +30s.
		if codes := callCodes(r.fake)[3:]; !cmp.Equal(codes, []string{"Throttling", "Throttling", "Throttling", "Throttling"}) {
			t.Errorf("throttled period's calls' codes = %q, want 4 throttles", codes)
		}
		if got := counterValue(t, r.pub); got != 1 {
			t.Errorf("publish failures = %v, want 1", got)
		}

		r.round(1, time.Now())
		time.Sleep(time.Until(start.Add(45 * time.Second)))
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := len(r.fake.Data()); n != 18 {
			t.Errorf("%d data at the end, want 18: the first period's and the third's", n)
		}
	})
}

func callCodes(f *awsfake.CloudWatch) []string {
	var out []string
	for _, c := range f.Calls() {
		out = append(out, c.Code)
	}
	return out
}

func counterValue(t *testing.T, c *CloudWatch) float64 {
	var m dto.Metric
	if err := c.failures.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
