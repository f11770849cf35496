package ec2fake

import (
	"context"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
)

func TestDescribeSubnets(t *testing.T) {
	w := newWorld(t, Config{})
	ctx := context.Background()
	defaults := w.f.Subnets()
	private := w.f.AddSubnet(Subnet{Zone: "us-east-1b", VPC: "vpc-0123456789abcdef0", CIDR: "10.2.0.0/24"})

	subnets := func(in *ec2.DescribeSubnetsInput) []string {
		t.Helper()
		out, err := w.ec2.DescribeSubnets(ctx, in)
		if err != nil {
			t.Fatalf("DescribeSubnets: %v", err)
		}
		var got []string
		for _, s := range out.Subnets {
			got = append(got, aws.ToString(s.SubnetId)+" "+aws.ToString(s.AvailabilityZone)+" "+aws.ToString(s.VpcId)+" "+
				aws.ToString(s.CidrBlock)+" "+map[bool]string{true: "default", false: "-"}[aws.ToBool(s.DefaultForAz)])
		}
		return got
	}
	row := func(s Subnet) string {
		return s.ID + " " + s.Zone + " " + s.VPC + " " + s.CIDR + " " + map[bool]string{true: "default", false: "-"}[s.DefaultForAZ]
	}
	for _, tc := range []struct {
		name string
		in   *ec2.DescribeSubnetsInput
		want []Subnet
	}{
		{"all", &ec2.DescribeSubnetsInput{}, append(defaults, private)},
		{"the default ones", &ec2.DescribeSubnetsInput{Filters: []types.Filter{sdkFilter("default-for-az", "true")}}, defaults},
		{"by VPC", &ec2.DescribeSubnetsInput{Filters: []types.Filter{sdkFilter("vpc-id", private.VPC)}}, []Subnet{private}},
		{"by zone", &ec2.DescribeSubnetsInput{Filters: []types.Filter{sdkFilter("availability-zone", "us-east-1b")}}, []Subnet{defaults[1], private}},
		{"by id", &ec2.DescribeSubnetsInput{SubnetIds: []string{private.ID, defaults[0].ID}}, []Subnet{defaults[0], private}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []string
			for _, s := range tc.want {
				want = append(want, row(s))
			}
			if diff := cmp.Diff(want, subnets(tc.in)); diff != "" {
				t.Errorf("subnets (-want +got):\n%s", diff)
			}
		})
	}
	if s := defaults[0]; s.CIDR != "172.31.0.0/20" || s.Zone != "us-east-1a" || !s.DefaultForAZ {
		t.Errorf("the first default subnet: %+v, want 172.31.0.0/20 in us-east-1a", s)
	}

	_, err := w.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{"subnet-0123456789abcdef0"}})
	wantError(t, err, "InvalidSubnetID.NotFound", http.StatusBadRequest)

	out, err := w.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{MaxResults: aws.Int32(5), Filters: []types.Filter{sdkFilter("state", "available")}})
	if err != nil || len(out.Subnets) != 4 || out.NextToken != nil {
		t.Errorf("a page of 5 of the 4 subnets: %v, %d subnets, next %v", err, len(out.Subnets), out.NextToken)
	}

	t.Run("no default VPC", func(t *testing.T) {
		w := newWorld(t, Config{NoDefaultVPC: true})
		out, err := w.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{sdkFilter("default-for-az", "true")}})
		if err != nil || len(out.Subnets) != 0 {
			t.Errorf("default subnets without a default VPC: %v, %d", err, len(out.Subnets))
		}
	})
}
