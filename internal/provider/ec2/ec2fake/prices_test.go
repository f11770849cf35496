package ec2fake

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
)

func TestDescribeSpotPriceHistory(t *testing.T) {
	w := newWorld(t, Config{})
	ctx := context.Background()
	w.clk.Advance(10 * time.Minute)
	w.f.SetPrice("m5.large", "us-east-1a", Spot, 0.05)
	w.clk.Advance(10 * time.Minute)
	w.f.SetPrice("m5.large", "us-east-1a", Spot, 0.04)
	w.clk.Advance(10 * time.Minute)

	at := func(d time.Duration) *time.Time { return aws.Time(t0.Add(d)) }
	history := func(in *ec2.DescribeSpotPriceHistoryInput) []string {
		t.Helper()
		var got []string
		pages := ec2.NewDescribeSpotPriceHistoryPaginator(w.ec2, in)
		for pages.HasMorePages() {
			out, err := pages.NextPage(ctx)
			if err != nil {
				t.Fatalf("DescribeSpotPriceHistory: %v", err)
			}
			for _, p := range out.SpotPriceHistory {
				got = append(got, string(p.InstanceType)+" "+aws.ToString(p.AvailabilityZone)+" "+aws.ToString(p.SpotPrice)+" "+
					aws.ToTime(p.Timestamp).Sub(t0).String()+" "+string(p.ProductDescription))
			}
		}
		return got
	}
	m5a := func(start, end *time.Time) *ec2.DescribeSpotPriceHistoryInput {
		return &ec2.DescribeSpotPriceHistoryInput{
			InstanceTypes: []types.InstanceType{"m5.large"}, AvailabilityZone: aws.String("us-east-1a"),
			ProductDescriptions: []string{"Linux/UNIX"}, StartTime: start, EndTime: end,
		}
	}
	for _, tc := range []struct {
		name string
		in   *ec2.DescribeSpotPriceHistoryInput
		want []string
	}{
		{"everything, newest first", m5a(nil, nil), []string{
			"m5.large us-east-1a 0.040000 20m0s Linux/UNIX",
			"m5.large us-east-1a 0.050000 10m0s Linux/UNIX",
			"m5.large us-east-1a 0.028800 0s Linux/UNIX",
		}},
		{"from a start: the price then, and the changes after", m5a(at(15*time.Minute), nil), []string{
			"m5.large us-east-1a 0.040000 20m0s Linux/UNIX",
			"m5.large us-east-1a 0.050000 10m0s Linux/UNIX",
		}},
		{"a window", m5a(at(5*time.Minute), at(15*time.Minute)), []string{
			"m5.large us-east-1a 0.050000 10m0s Linux/UNIX",
			"m5.large us-east-1a 0.028800 0s Linux/UNIX",
		}},
		{"start at a change", m5a(at(20*time.Minute), nil), []string{
			"m5.large us-east-1a 0.040000 20m0s Linux/UNIX",
		}},
		{"every zone, each its own price", &ec2.DescribeSpotPriceHistoryInput{
			InstanceTypes: []types.InstanceType{"c5.large"}, StartTime: at(time.Minute),
		}, []string{
			"c5.large us-east-1a 0.025500 0s Linux/UNIX",
			"c5.large us-east-1b 0.028050 0s Linux/UNIX",
			"c5.large us-east-1c 0.030600 0s Linux/UNIX",
		}},
		{"a filter on the zone", &ec2.DescribeSpotPriceHistoryInput{
			InstanceTypes: []types.InstanceType{"c5.large"}, Filters: []types.Filter{sdkFilter("availability-zone", "*1b")},
		}, []string{"c5.large us-east-1b 0.028050 0s Linux/UNIX"}},
		{"a product the fake does not price", &ec2.DescribeSpotPriceHistoryInput{
			InstanceTypes: []types.InstanceType{"c5.large"}, ProductDescriptions: []string{"Windows"},
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, history(tc.in)); diff != "" {
				t.Errorf("history (-want +got):\n%s", diff)
			}
		})
	}

	// Pages of 10 over every type and zone: 9 types × 3 zones, and the two
	// changes.
	if got := history(&ec2.DescribeSpotPriceHistoryInput{MaxResults: aws.Int32(10)}); len(got) != 29 ||
		got[0] != "m5.large us-east-1a 0.040000 20m0s Linux/UNIX" {
		t.Errorf("every price in pages of 10: %d, first %q; want 29, the newest first", len(got), got[0])
	}

	if p, ok := w.f.Price("m5.large", "us-east-1a", Spot); !ok || p != 0.04 {
		t.Errorf("Price(m5.large, us-east-1a, spot) = %v, %v; want 0.04", p, ok)
	}
	if p, _ := w.f.Price("m5.large", "us-east-1b", OnDemand); p != 0.096 {
		t.Errorf("Price(m5.large, us-east-1b, on-demand) = %v, want 0.096", p)
	}

	for _, tc := range []struct {
		name string
		in   *ec2.DescribeSpotPriceHistoryInput
	}{
		{"an unknown zone", &ec2.DescribeSpotPriceHistoryInput{AvailabilityZone: aws.String("us-east-1z")}},
		{"an end before the start", m5a(at(time.Hour), at(time.Minute))},
		{"an unknown filter", &ec2.DescribeSpotPriceHistoryInput{Filters: []types.Filter{sdkFilter("colour", "blue")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.ec2.DescribeSpotPriceHistory(ctx, tc.in)
			wantError(t, err, "InvalidParameterValue", http.StatusBadRequest)
		})
	}
}
