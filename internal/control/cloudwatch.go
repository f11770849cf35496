package control

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/prometheus/client_golang/prometheus"
)

// MetricsAPI is the CloudWatch call the publisher makes; *cloudwatch.Client
// implements it.
type MetricsAPI interface {
	PutMetricData(context.Context, *cloudwatch.PutMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

var _ MetricsAPI = (*cloudwatch.Client)(nil)

// CloudWatch's limits on one PutMetricData call.
const (
	maxPutData  = 1000
	maxPutBytes = 1 << 20
)

// CloudWatchConfig is where and how often the fleet's figures go to
// CloudWatch; zero durations mean the default.
type CloudWatchConfig struct {
	Namespace string // "berth"; see CheckNamespace
	Cluster   string // the Cluster dimension's value
	API       MetricsAPI
	// Period is how often the figures are published; under a minute,
	// they are stored at high resolution (1s).
	Period time.Duration // default 1m
	// Backoff is the first wait before a call that was throttled or met
	// a server fault is made again; it doubles, within the period.
	Backoff time.Duration // default 1s
}

// CheckNamespace returns why CloudWatch would refuse ns as a namespace, or
// nil: it takes 1 to 255 printable ASCII characters, not all spaces, not
// starting with ':', outside the "AWS/" namespaces.
func CheckNamespace(ns string) error {
	switch {
	case ns == "" || len(ns) > 255:
		return fmt.Errorf("want 1 to 255 characters, not %d", len(ns))
	case strings.HasPrefix(ns, "AWS/"):
		return fmt.Errorf("the AWS/ namespaces are AWS's own")
	case strings.HasPrefix(ns, ":") || strings.TrimSpace(ns) == "":
		return fmt.Errorf("a namespace may not start with ':' or be all spaces")
	}
	for _, r := range ns {
		if r < 0x20 || r > 0x7e {
			return fmt.Errorf("%q is not printable ASCII", r)
		}
	}
	return nil
}

// CloudWatch is the loop that publishes the fleet's figures (Fleet.Metrics,
// what /metrics shows) to CloudWatch every period: for each autoscaled
// pool SchedulableContainers, Instances, QueuedJobs, RunningJobs and
// CostPerHour with the dimensions Cluster and Pool, and the last four
// summed over the pools with Cluster alone. Each datum carries the time
// of the round its figures come from; a pool's figures are sent once per
// round. The data go in as few PutMetricData calls as CloudWatch's limits
// allow (1,000 data, 1 MB each). A call throttled or met by a server fault
// is made again after a backoff while the period lasts; what is not sent
// by then is dropped, counted in berth_cloudwatch_publish_failures_total
// and logged, and the next period starts afresh. It never blocks the
// fleet: it only reads the fleet's last figures.
type CloudWatch struct {
	cfg      CloudWatchConfig
	fleet    *Fleet
	log      *slog.Logger
	failures prometheus.Counter
	// sent is when each pool's last published figures were computed,
	// and under "" the latest of them; only Publish touches it.
	sent map[string]time.Time
}

// NewCloudWatch returns the loop that publishes fleet's figures as cfg
// says.
func NewCloudWatch(cfg CloudWatchConfig, fleet *Fleet, log *slog.Logger) *CloudWatch {
	if cfg.Period <= 0 {
		cfg.Period = time.Minute
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	return &CloudWatch{cfg: cfg, fleet: fleet, log: log.With("namespace", cfg.Namespace), sent: map[string]time.Time{},
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "berth_cloudwatch_publish_failures_total",
			Help: "Periods whose figures, or some of them, could not be published to CloudWatch."})}
}

// Collector publishes the count of failed periods for Prometheus.
func (c *CloudWatch) Collector() prometheus.Collector { return c.failures }

// Run publishes every period until ctx ends.
func (c *CloudWatch) Run(ctx context.Context) error {
	t := time.NewTicker(c.cfg.Period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, c.cfg.Period)
		err := c.Publish(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			c.failures.Inc()
			c.log.Warn("publish to CloudWatch", "err", err)
		}
	}
}

// Publish sends the figures of the rounds since the last publish, making
// throttled or failed calls again until ctx ends. What it could not send
// by then is dropped.
func (c *CloudWatch) Publish(ctx context.Context) error {
	pools := c.fleet.Metrics()
	data := CloudWatchData(c.cfg.Cluster, pools, c.sent, c.cfg.Period < time.Minute)
	for _, m := range pools {
		c.sent[m.Pool] = m.At
		if m.At.After(c.sent[""]) {
			c.sent[""] = m.At
		}
	}
	batches := Batches(data, maxPutData, maxPutBytes-len(c.cfg.Namespace)-64)
	for i, batch := range batches {
		if err := c.put(ctx, batch); err != nil {
			return fmt.Errorf("call %d of %d (%d data): %w", i+1, len(batches), len(batch), err)
		}
	}
	return nil
}

// put makes one call, and makes it again after a doubling backoff while
// it is throttled or meets a server fault, until ctx ends.
func (c *CloudWatch) put(ctx context.Context, data []types.MetricDatum) error {
	wait := c.cfg.Backoff
	retryable := retry.IsErrorRetryables(retry.DefaultRetryables)
	for {
		_, err := c.cfg.API.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String(c.cfg.Namespace), MetricData: data})
		if err == nil || retryable.IsErrorRetryable(err) != aws.TrueTernary {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("dropped after %w", err)
		case <-t.C:
		}
		wait *= 2
	}
}

// CloudWatchData turns the pools' figures into CloudWatch data: five per
// pool with the dimensions Cluster and Pool, each with the time of its
// round, and four sums over all the pools with Cluster alone, with the
// latest time. Figures not newer than the time sent has for their pool
// (for the sums, for "") are left out: they were published. highRes
// stores the data at a resolution of one second.
func CloudWatchData(cluster string, pools []PoolMetrics, sent map[string]time.Time, highRes bool) []types.MetricDatum {
	res := int32(60)
	if highRes {
		res = 1
	}
	datum := func(name string, v float64, unit types.StandardUnit, at time.Time, dims ...types.Dimension) types.MetricDatum {
		return types.MetricDatum{MetricName: aws.String(name), Value: aws.Float64(v), Unit: unit, Timestamp: aws.Time(at),
			StorageResolution: aws.Int32(res), Dimensions: dims}
	}
	clusterDim := types.Dimension{Name: aws.String("Cluster"), Value: aws.String(cluster)}
	var out []types.MetricDatum
	var sum PoolMetrics
	for _, m := range pools {
		sum.Pending += m.Instances()
		sum.Waiting += m.Waiting
		sum.RunningJobs += m.RunningJobs
		sum.CostUSDHour += m.CostUSDHour
		if m.At.After(sum.At) {
			sum.At = m.At
		}
		if !m.At.After(sent[m.Pool]) {
			continue
		}
		dims := []types.Dimension{clusterDim, {Name: aws.String("Pool"), Value: aws.String(m.Pool)}}
		out = append(out,
			datum("SchedulableContainers", m.Schedulable, types.StandardUnitCount, m.At, dims...),
			datum("Instances", float64(m.Instances()), types.StandardUnitCount, m.At, dims...),
			datum("QueuedJobs", float64(m.Waiting), types.StandardUnitCount, m.At, dims...),
			datum("RunningJobs", float64(m.RunningJobs), types.StandardUnitCount, m.At, dims...),
			datum("CostPerHour", m.CostUSDHour, types.StandardUnitNone, m.At, dims...))
	}
	if len(pools) == 0 || !sum.At.After(sent[""]) {
		return out
	}
	return append(out,
		datum("Instances", float64(sum.Pending), types.StandardUnitCount, sum.At, clusterDim),
		datum("QueuedJobs", float64(sum.Waiting), types.StandardUnitCount, sum.At, clusterDim),
		datum("RunningJobs", float64(sum.RunningJobs), types.StandardUnitCount, sum.At, clusterDim),
		datum("CostPerHour", sum.CostUSDHour, types.StandardUnitNone, sum.At, clusterDim))
}

// Batches splits data, in order, into calls of at most maxData data and,
// by a generous estimate of their CBOR encoding, at most maxBytes bytes.
func Batches(data []types.MetricDatum, maxData, maxBytes int) [][]types.MetricDatum {
	var out [][]types.MetricDatum
	start, size := 0, 0
	for i, d := range data {
		n := datumSize(d)
		if i > start && (i-start == maxData || size+n > maxBytes) {
			out = append(out, data[start:i])
			start, size = i, 0
		}
		size += n
	}
	if start < len(data) {
		out = append(out, data[start:])
	}
	return out
}

// datumSize bounds the size of d in CBOR: its strings, and for the keys,
// headers and numbers a fixed allowance that exceeds theirs.
func datumSize(d types.MetricDatum) int {
	n := 160 + len(aws.ToString(d.MetricName)) + len(d.Unit)
	for _, dim := range d.Dimensions {
		n += 24 + len(aws.ToString(dim.Name)) + len(aws.ToString(dim.Value))
	}
	return n + 10*(len(d.Values)+len(d.Counts))
}
