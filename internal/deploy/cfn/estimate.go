package cfn

import (
	"fmt"
	"sort"
	"strings"

	berth "github.com/berth-run/berth"
)

// HoursPerMonth is AWS's month for monthly prices.
const HoursPerMonth = 730

// Prices in us-east-1 that the estimate assumes (USD).
const (
	priceGP3GBMonth      = 0.08   // EBS gp3 storage, per GB-month
	pricePublicIPv4Hour  = 0.005  // a public IPv4 address, per hour
	priceAlarmMonth      = 0.10   // a standard-resolution CloudWatch alarm, per month
	priceSQSMillion      = 0.40   // SQS standard requests, per million (beyond the free tier)
	sqsIdleRequestsMonth = 130000 // long polls (20 s) of one idle queue a month, one reader
	priceDynamoGBMonth   = 0.25   // DynamoDB Standard storage, per GB-month
	pricePITRGBMonth     = 0.20   // point-in-time recovery, per GB-month
	idleTableGB          = 1.0    // a store at rest, generously
	priceLogsGBMonth     = 0.03   // CloudWatch Logs storage, per GB-month
	idleLogGB            = 0.0    // no tasks, no logs
)

// serverPrices are on-demand Linux prices (USD per hour, us-east-1) of
// the control plane's usual instance types.
var serverPrices = map[string]float64{
	"t3.micro": 0.0104, "t3.small": 0.0208, "t3.medium": 0.0416, "t3.large": 0.0832,
	"t3a.micro": 0.0094, "t3a.small": 0.0188, "t3a.medium": 0.0376,
	"m7i.large": 0.1008, "m6i.large": 0.096, "c7i.large": 0.08925,
}

// Cost is one line of an estimate.
type Cost struct {
	What    string
	Assumes string
	USD     float64 // a month
}

// Costs is the fixed monthly cost of a stack: what it runs before any
// job does.
type Costs struct {
	Lines []Cost
	// NotCounted says what the estimate leaves out.
	NotCounted []string
}

// Total is the sum of the lines.
func (c Costs) Total() float64 {
	var t float64
	for _, l := range c.Lines {
		t += l.USD
	}
	return t
}

// Estimate is the fixed monthly cost of the stack of t and f at zero
// load, at us-east-1's prices.
func Estimate(t *Template, f *File) Costs {
	var c Costs
	typ := f.AWS.InstanceType
	if p, ok := serverPrices[typ]; ok {
		c.Lines = append(c.Lines, Cost{"control plane instance", fmt.Sprintf("1 × %s on-demand at $%.4f/h × %d h", typ, p, HoursPerMonth), p * HoursPerMonth})
	} else {
		c.NotCounted = append(c.NotCounted, "the control plane's instance type "+typ+" (no price known: see the EC2 price list)")
	}
	c.Lines = append(c.Lines,
		Cost{"control plane volume", fmt.Sprintf("%d GB gp3 at $%.2f/GB-month", serverVolumeGiB, priceGP3GBMonth), serverVolumeGiB * priceGP3GBMonth},
		Cost{"control plane public IPv4", fmt.Sprintf("$%.3f/h × %d h (PublicIp=false drops it; the subnets then need a NAT gateway or VPC endpoints)", pricePublicIPv4Hour, HoursPerMonth), pricePublicIPv4Hour * HoursPerMonth})
	counts := map[string]int{}
	for _, r := range t.Resources {
		counts[r.Type]++
	}
	if n := counts["AWS::CloudWatch::Alarm"]; n > 0 {
		c.Lines = append(c.Lines, Cost{"alarms", fmt.Sprintf("%d × $%.2f/month", n, priceAlarmMonth), float64(n) * priceAlarmMonth})
	}
	if _, ok := t.Resources["TaskLogGroup"]; ok {
		c.Lines = append(c.Lines, Cost{"log storage", fmt.Sprintf("%.0f GB at $%.2f/GB-month: no tasks, no logs", idleLogGB, priceLogsGBMonth), idleLogGB * priceLogsGBMonth})
	}
	if polled := len((&builder{f: f}).queueARNs()); polled > 0 {
		req := float64(polled * sqsIdleRequestsMonth)
		c.Lines = append(c.Lines, Cost{"queues", fmt.Sprintf("%d polled × %d long polls a month at $%.2f/million (the first million a month are free)", polled, sqsIdleRequestsMonth, priceSQSMillion), req / 1e6 * priceSQSMillion})
	}
	if n := counts["AWS::DynamoDB::Table"]; n > 0 {
		gb := float64(n) * idleTableGB
		c.Lines = append(c.Lines, Cost{"tables", fmt.Sprintf("%d on-demand, %.0f GB stored at $%.2f + PITR $%.2f/GB-month; no requests", n, gb, priceDynamoGBMonth, pricePITRGBMonth), gb * (priceDynamoGBMonth + pricePITRGBMonth)})
	}
	var warm []string
	for _, p := range f.Pools {
		if p.Provider == berth.ProviderEC2 && p.Min > 0 {
			warm = append(warm, fmt.Sprintf("%s (min %d)", p.Name, p.Min))
		}
	}
	sort.Strings(warm)
	if len(warm) > 0 {
		c.NotCounted = append(c.NotCounted, "the pools' warm instances: "+strings.Join(warm, ", ")+", at their types' prices")
	}
	c.NotCounted = append(c.NotCounted, "the store's requests, data transfer, and the jobs' own instances, tasks and logs")
	return c
}

// String is the estimate as a table.
func (c Costs) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-28s %9s  %s\n", "WHAT", "USD/MONTH", "ASSUMES (us-east-1 prices)")
	for _, l := range c.Lines {
		fmt.Fprintf(&b, "%-28s %9.2f  %s\n", l.What, l.USD, l.Assumes)
	}
	fmt.Fprintf(&b, "%-28s %9.2f\n", "total", c.Total())
	for _, n := range c.NotCounted {
		fmt.Fprintf(&b, "not counted: %s\n", n)
	}
	return b.String()
}
