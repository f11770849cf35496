package awsfake_test

import (
	"context"
	"errors"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	smithy "github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/berth-run/berth/internal/awsfake"
)

// cloudWatch serves a CloudWatch fake behind an Endpoint, as
// AWS_ENDPOINT_URL reaches it, and returns it with a real client of it
// that retries as opts say (not at all by default).
func cloudWatch(t *testing.T, opts ...func(*cloudwatch.Options)) (*awsfake.CloudWatch, *cloudwatch.Client) {
	t.Helper()
	f := awsfake.NewCloudWatch()
	srv := httptest.NewServer(awsfake.Endpoint{CloudWatch: f, SSM: awsfake.NewSSM()})
	t.Cleanup(srv.Close)
	c := cloudwatch.New(cloudwatch.Options{
		BaseEndpoint: aws.String(srv.URL),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		HTTPClient:   awsfake.HTTPClient(srv.Client()),
		Retryer:      aws.NopRetryer{},
	}, opts...)
	return f, c
}

func datum(name string, v float64, dims ...string) types.MetricDatum {
	d := types.MetricDatum{MetricName: aws.String(name), Value: aws.Float64(v), Unit: types.StandardUnitCount}
	for i := 0; i+1 < len(dims); i += 2 {
		d.Dimensions = append(d.Dimensions, types.Dimension{Name: aws.String(dims[i]), Value: aws.String(dims[i+1])})
	}
	return d
}

// TestCloudWatchPutMetricData: what the SDK sends is logged as it was
// meant, namespace, name, dimensions, value, unit, timestamp and
// resolution.
func TestCloudWatchPutMetricData(t *testing.T) {
	f, c := cloudWatch(t)
	at := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	d := datum("SchedulableContainers", 2.5, "Cluster", "prod", "Pool", "spot")
	d.Timestamp, d.StorageResolution = aws.Time(at), aws.Int32(1)
	if _, err := c.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{Namespace: aws.String("berth"),
		MetricData: []types.MetricDatum{d, datum("CostPerHour", 0.077, "Cluster", "prod")}}); err != nil {
		t.Fatal(err)
	}
	want := []awsfake.Datum{
		{Namespace: "berth", MetricName: "SchedulableContainers", Dimensions: map[string]string{"Cluster": "prod", "Pool": "spot"},
			Value: 2.5, Unit: "Count", Timestamp: at, StorageResolution: 1},
		{Namespace: "berth", MetricName: "CostPerHour", Dimensions: map[string]string{"Cluster": "prod"},
			Value: 0.077, Unit: "Count", StorageResolution: 60},
	}
	got := f.Data()
	if len(got) == 2 {
		want[1].Timestamp = got[1].Timestamp // no timestamp: the time of receipt
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Data() (-want +got):\n%s", diff)
	}
	calls := f.Calls()
	if len(calls) != 1 || calls[0].Operation != "PutMetricData" || calls[0].AccessKey != "AKIDTEST" || calls[0].Code != "" || calls[0].Input["Namespace"] != "berth" {
		t.Errorf("Calls() = %+v, want one PutMetricData by AKIDTEST", calls)
	}
}

// TestCloudWatchRefuses: what CloudWatch refuses, the fake refuses with
// CloudWatch's error code, and keeps nothing of the call.
func TestCloudWatchRefuses(t *testing.T) {
	many := make([]types.MetricDatum, awsfake.MaxMetricData+1)
	for i := range many {
		many[i] = datum("M", float64(i))
	}
	wide := datum("M", 1)
	for i := range awsfake.MaxDimensions + 1 {
		wide.Dimensions = append(wide.Dimensions, types.Dimension{Name: aws.String(strings.Repeat("d", i+1)), Value: aws.String("v")})
	}
	both := datum("M", 1)
	both.StatisticValues = &types.StatisticSet{Maximum: aws.Float64(1), Minimum: aws.Float64(1), SampleCount: aws.Float64(1), Sum: aws.Float64(1)}
	unit := datum("M", 1)
	unit.Unit = "Dollars"
	res := datum("M", 1)
	res.StorageResolution = aws.Int32(5)
	future := datum("M", 1)
	future.Timestamp = aws.Time(time.Now().Add(3 * time.Hour))
	for _, tc := range []struct {
		name      string
		namespace string
		data      []types.MetricDatum
		code      string
	}{
		{"an AWS namespace", "AWS/EC2", []types.MetricDatum{datum("M", 1)}, "InvalidParameterValue"},
		{"a namespace too long", strings.Repeat("n", 256), []types.MetricDatum{datum("M", 1)}, "InvalidParameterValue"},
		{"over 1000 data", "berth", many, "InvalidParameterValue"},
		{"over 30 dimensions", "berth", []types.MetricDatum{wide}, "InvalidParameterValue"},
		{"NaN", "berth", []types.MetricDatum{datum("M", math.NaN())}, "InvalidParameterValue"},
		{"+Inf", "berth", []types.MetricDatum{datum("M", math.Inf(1))}, "InvalidParameterValue"},
		{"an unknown unit", "berth", []types.MetricDatum{unit}, "InvalidParameterValue"},
		{"a resolution of 5s", "berth", []types.MetricDatum{res}, "InvalidParameterValue"},
		{"a timestamp 3h ahead", "berth", []types.MetricDatum{future}, "InvalidParameterValue"},
		{"a value and statistics", "berth", []types.MetricDatum{both}, "InvalidParameterCombination"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, c := cloudWatch(t)
			_, err := c.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{Namespace: aws.String(tc.namespace), MetricData: tc.data})
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != tc.code || api.ErrorFault() != smithy.FaultClient {
				t.Fatalf("PutMetricData = %v, want a client fault %s", err, tc.code)
			}
			if got := f.Data(); len(got) != 0 {
				t.Errorf("kept %d data of a refused call", len(got))
			}
		})
	}
}

// TestCloudWatchPayloadLimit: a body over 1 MB as sent is refused with
// 413 RequestEntityTooLarge; the same data gzipped, as the SDK sends
// them by default, are taken.
func TestCloudWatchPayloadLimit(t *testing.T) {
	var data []types.MetricDatum
	for i := range 40 {
		d := datum("M", float64(i))
		for j := range awsfake.MaxDimensions {
			d.Dimensions = append(d.Dimensions, types.Dimension{Name: aws.String(strings.Repeat("d", j+1)), Value: aws.String(strings.Repeat("v", 1000))})
		}
		data = append(data, d)
	}
	in := &cloudwatch.PutMetricDataInput{Namespace: aws.String("berth"), MetricData: data}
	f, c := cloudWatch(t)
	_, err := c.PutMetricData(context.Background(), in, func(o *cloudwatch.Options) { o.DisableRequestCompression = true })
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "RequestEntityTooLarge" {
		t.Fatalf("PutMetricData of 1.2 MB = %v, want RequestEntityTooLarge", err)
	}
	if _, err := c.PutMetricData(context.Background(), in); err != nil {
		t.Fatalf("PutMetricData of 1.2 MB gzipped: %v", err)
	}
	if got := len(f.Data()); got != len(data) {
		t.Errorf("kept %d data, want %d", got, len(data))
	}
}

// TestCloudWatchFailNext: Throttling is a throttle to the SDK's retryer,
// InternalServiceError a server fault; with the SDK's standard retryer
// the call that was throttled succeeds.
func TestCloudWatchFailNext(t *testing.T) {
	f, c := cloudWatch(t)
	in := &cloudwatch.PutMetricDataInput{Namespace: aws.String("berth"), MetricData: []types.MetricDatum{datum("M", 1)}}
	f.FailNext(awsfake.Throttling, awsfake.InternalServiceError)
	_, err := c.PutMetricData(context.Background(), in)
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) != aws.TrueTernary {
		t.Errorf("PutMetricData = %v, want a throttle", err)
	}
	_, err = c.PutMetricData(context.Background(), in)
	var fault *types.InternalServiceFault
	if !errors.As(err, &fault) || fault.ErrorCode() != "InternalServiceError" || fault.ErrorFault() != smithy.FaultServer {
		t.Errorf("PutMetricData = %v, want InternalServiceFault coded InternalServiceError", err)
	}
	f.FailNext(awsfake.Throttling)
	_, err = c.PutMetricData(context.Background(), in, func(o *cloudwatch.Options) { o.Retryer = retry.NewStandard() })
	if err != nil {
		t.Errorf("PutMetricData with retries, after one throttle: %v", err)
	}
	var codes []string
	for _, call := range f.Calls() {
		codes = append(codes, call.Code)
	}
	if want := []string{"Throttling", "InternalServiceError", "Throttling", ""}; !cmp.Equal(codes, want) {
		t.Errorf("calls' codes = %q, want %q", codes, want)
	}
}
