package ec2fake

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
)

func override(typ, zone string) types.FleetLaunchTemplateOverridesRequest {
	o := types.FleetLaunchTemplateOverridesRequest{InstanceType: types.InstanceType(typ)}
	if zone != "" {
		o.AvailabilityZone = aws.String(zone)
	}
	return o
}

// placed returns "type zone lifecycle" for each instance a fleet launched.
func placed(out *ec2.CreateFleetOutput) []string {
	var got []string
	for _, in := range out.Instances {
		for range in.InstanceIds {
			got = append(got, string(in.InstanceType)+" "+aws.ToString(in.AvailabilityZone)+" "+string(in.Lifecycle))
		}
	}
	return got
}

func TestCreateFleetPicks(t *testing.T) {
	// Default prices: on-demand m5.large 0.096, c5.large 0.085, r5.large
	// 0.126 in every zone; Spot 30% of that in us-east-1a, 10% more in
	// each next zone.
	for _, tc := range []struct {
		name      string
		market    Market
		spot, od  string // allocation strategies
		n         int
		overrides []types.FleetLaunchTemplateOverridesRequest
		setup     func(f *Fake)
		want      []string
	}{{
		name: "spot price-capacity-optimized takes the cheapest pool", market: Spot, spot: "price-capacity-optimized", n: 2,
		overrides: []types.FleetLaunchTemplateOverridesRequest{override("m5.large", ""), override("c5.large", "")},
		want:      []string{"c5.large us-east-1a spot", "c5.large us-east-1a spot"},
	}, {
		name: "spot skips an exhausted pool", market: Spot, spot: "price-capacity-optimized", n: 1,
		overrides: []types.FleetLaunchTemplateOverridesRequest{override("m5.large", ""), override("c5.large", "")},
		setup:     func(f *Fake) { f.Exhaust("c5.large", "us-east-1a", Spot) },
		want:      []string{"c5.large us-east-1b spot"},
	}, {
		name: "spot follows a price change", market: Spot, spot: "lowest-price", n: 1,
		overrides: []types.FleetLaunchTemplateOverridesRequest{override("m5.large", "us-east-1a"), override("c5.large", "us-east-1a")},
		setup:     func(f *Fake) { f.SetPrice("m5.large", "us-east-1a", Spot, 0.02) },
		want:      []string{"m5.large us-east-1a spot"},
	}, {
		name: "a price tie goes to the first override", market: Spot, spot: "price-capacity-optimized", n: 1,
		overrides: []types.FleetLaunchTemplateOverridesRequest{override("m5.large", "us-east-1a"), override("c5.large", "us-east-1a")},
		setup: func(f *Fake) {
			f.SetPrice("m5.large", "us-east-1a", Spot, 0.02)
			f.SetPrice("c5.large", "us-east-1a", Spot, 0.02)
		},
		want: []string{"m5.large us-east-1a spot"},
	}, {
		name: "capacity spills over to the next pool", market: Spot, spot: "price-capacity-optimized", n: 3,
		overrides: []types.FleetLaunchTemplateOverridesRequest{override("m5.large", "us-east-1b"), override("c5.large", "us-east-1b")},
		setup:     func(f *Fake) { f.SetCapacity("c5.large", "us-east-1b", Spot, 2) },
		want:      []string{"c5.large us-east-1b spot", "c5.large us-east-1b spot", "m5.large us-east-1b spot"},
	}, {
		name: "diversified spreads one at a time", market: Spot, spot: "diversified", n: 3,
		overrides: []types.FleetLaunchTemplateOverridesRequest{override("m5.large", "us-east-1a"), override("c5.large", "us-east-1a")},
		want:      []string{"m5.large us-east-1a spot", "m5.large us-east-1a spot", "c5.large us-east-1a spot"},
	}, {
		name: "on-demand lowest-price", market: OnDemand, od: "lowest-price", n: 1,
		overrides: []types.FleetLaunchTemplateOverridesRequest{override("r5.large", "us-east-1c"), override("m5.large", "us-east-1c"), override("c5.large", "us-east-1c")},
		want:      []string{"c5.large us-east-1c on-demand"},
	}, {
		name: "on-demand prioritized", market: OnDemand, od: "prioritized", n: 1,
		overrides: []types.FleetLaunchTemplateOverridesRequest{
			{InstanceType: "c5.large", AvailabilityZone: aws.String("us-east-1a"), Priority: aws.Float64(2)},
			{InstanceType: "r5.large", AvailabilityZone: aws.String("us-east-1a"), Priority: aws.Float64(1)},
		},
		want: []string{"r5.large us-east-1a on-demand"},
	}, {
		name: "on-demand prioritized skips an exhausted pool", market: OnDemand, od: "prioritized", n: 1,
		overrides: []types.FleetLaunchTemplateOverridesRequest{
			{InstanceType: "c5.large", AvailabilityZone: aws.String("us-east-1a"), Priority: aws.Float64(2)},
			{InstanceType: "r5.large", AvailabilityZone: aws.String("us-east-1a"), Priority: aws.Float64(1)},
		},
		setup: func(f *Fake) { f.Exhaust("r5.large", "us-east-1a", OnDemand) },
		want:  []string{"c5.large us-east-1a on-demand"},
	}, {
		name: "spot MaxPrice below the price leaves that pool out", market: Spot, spot: "lowest-price", n: 1,
		overrides: []types.FleetLaunchTemplateOverridesRequest{
			{InstanceType: "c5.large", AvailabilityZone: aws.String("us-east-1a"), MaxPrice: aws.String("0.01")},
			{InstanceType: "m5.large", AvailabilityZone: aws.String("us-east-1a")},
		},
		want: []string{"m5.large us-east-1a spot"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, Config{})
			if tc.setup != nil {
				tc.setup(w.f)
			}
			in := w.fleetInput(tc.market, tc.n, tc.overrides...)
			if tc.spot != "" {
				in.SpotOptions = &types.SpotOptionsRequest{AllocationStrategy: types.SpotAllocationStrategy(tc.spot)}
			}
			if tc.od != "" {
				in.OnDemandOptions = &types.OnDemandOptionsRequest{AllocationStrategy: types.FleetOnDemandAllocationStrategy(tc.od)}
			}
			out, err := w.ec2.CreateFleet(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, placed(out)); diff != "" || len(out.Errors) > 0 {
				t.Errorf("placed (-want +got):\n%s errors %v", diff, fleetErrors(out))
			}
		})
	}
}

func TestCreateFleetLaunchesInstances(t *testing.T) {
	w := newWorld(t, Config{})
	ctx := context.Background()
	in := w.fleetInput(Spot, 2, override("m5.large", "us-east-1b"))
	in.TagSpecifications = []types.TagSpecification{
		{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("berth:pool"), Value: aws.String("spot")}}},
		{ResourceType: types.ResourceTypeVolume, Tags: []types.Tag{{Key: aws.String("berth:cluster"), Value: aws.String("c1")}}},
		{ResourceType: types.ResourceTypeFleet, Tags: []types.Tag{{Key: aws.String("berth:cluster"), Value: aws.String("c1")}}},
	}
	out, err := w.ec2.CreateFleet(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(aws.ToString(out.FleetId), "fleet-") || len(out.Instances) != 1 {
		t.Fatalf("CreateFleet = fleet %q, %d groups; want one group", aws.ToString(out.FleetId), len(out.Instances))
	}
	group := out.Instances[0]
	spec := group.LaunchTemplateAndOverrides.LaunchTemplateSpecification
	if aws.ToString(spec.LaunchTemplateId) != w.lt.ID || aws.ToString(spec.Version) != "$Latest" ||
		group.LaunchTemplateAndOverrides.Overrides.InstanceType != "m5.large" || group.Lifecycle != types.InstanceLifecycleSpot {
		t.Errorf("group = %+v", group)
	}

	desc, err := w.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: group.InstanceIds})
	if err != nil {
		t.Fatal(err)
	}
	if len(desc.Reservations) != 1 || len(desc.Reservations[0].Instances) != 2 {
		t.Fatalf("DescribeInstances = %d reservations, want one of two instances", len(desc.Reservations))
	}
	subnet := w.f.Subnets()[1] // the default subnet of us-east-1b
	for i, got := range desc.Reservations[0].Instances {
		if aws.ToString(got.InstanceId) != group.InstanceIds[i] || got.InstanceType != "m5.large" ||
			aws.ToString(got.Placement.AvailabilityZone) != "us-east-1b" || aws.ToString(got.SubnetId) != subnet.ID ||
			aws.ToString(got.VpcId) != subnet.VPC || got.State.Name != types.InstanceStateNamePending || aws.ToInt32(got.State.Code) != 0 ||
			!aws.ToTime(got.LaunchTime).Equal(t0) || got.InstanceLifecycle != types.InstanceLifecycleTypeSpot ||
			!strings.HasPrefix(aws.ToString(got.SpotInstanceRequestId), "sir-") || got.StateReason != nil ||
			got.MetadataOptions.HttpTokens != types.HttpTokensStateRequired || aws.ToInt32(got.MetadataOptions.HttpPutResponseHopLimit) != 1 ||
			!strings.HasPrefix(aws.ToString(got.PrivateIpAddress), "172.31.16.") {
			t.Errorf("instance %d = %+v", i, got)
		}
		tags := map[string]string{}
		for _, tag := range got.Tags {
			tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
		want := map[string]string{
			"berth:pool": "spot", "aws:ec2:fleet-id": aws.ToString(out.FleetId),
			"aws:ec2launchtemplate:id": w.lt.ID, "aws:ec2launchtemplate:version": "1",
		}
		if diff := cmp.Diff(want, tags); diff != "" {
			t.Errorf("instance %d tags (-want +got):\n%s", i, diff)
		}
	}
	if v, _ := w.f.Instance(group.InstanceIds[0]); v.VolumeTags["berth:cluster"] != "c1" {
		t.Errorf("volume tags = %v, want berth:cluster=c1", v.VolumeTags)
	}

	w.clk.Advance(30 * time.Second) // the default boot time
	desc, err = w.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: group.InstanceIds[:1]})
	if err != nil {
		t.Fatal(err)
	}
	if got := desc.Reservations[0].Instances[0].State; got.Name != types.InstanceStateNameRunning || aws.ToInt32(got.Code) != 16 {
		t.Errorf("after the boot time, state %s (%d), want running (16)", got.Name, aws.ToInt32(got.Code))
	}
}

func TestCreateFleetNoCapacity(t *testing.T) {
	for _, tc := range []struct {
		market Market
		want   []string
		msg    string
	}{
		{Spot, []string{"InsufficientInstanceCapacity c5.large us-east-1a", "InsufficientInstanceCapacity m5.large us-east-1a"}, "There is no Spot capacity available that matches your request."},
		{OnDemand, []string{"InsufficientInstanceCapacity c5.large us-east-1a", "InsufficientInstanceCapacity m5.large us-east-1a"}, "We currently do not have sufficient c5.large capacity in the Availability Zone you requested (us-east-1a)."},
	} {
		t.Run(string(tc.market), func(t *testing.T) {
			w := newWorld(t, Config{})
			w.f.Exhaust("m5.large", "us-east-1a", tc.market)
			w.f.Exhaust("c5.large", "us-east-1a", tc.market)
			in := w.fleetInput(tc.market, 2, override("m5.large", "us-east-1a"), override("c5.large", "us-east-1a"))
			out, err := w.ec2.CreateFleet(context.Background(), in)
			if err != nil {
				t.Fatalf("CreateFleet with no capacity: %v; want HTTP 200 with errors", err)
			}
			if len(out.Instances) != 0 {
				t.Errorf("launched %v with no capacity", placed(out))
			}
			if diff := cmp.Diff(tc.want, fleetErrors(out)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if msg := aws.ToString(out.Errors[0].ErrorMessage); !strings.HasPrefix(msg, tc.msg) {
				t.Errorf("message %q, want %q", msg, tc.msg)
			}
			if out.Errors[0].Lifecycle != types.InstanceLifecycle(tc.market) {
				t.Errorf("lifecycle %q, want %q", out.Errors[0].Lifecycle, tc.market)
			}

			// Short of the target: what launched, and an error per pool
			// that ran out.
			// The SDK put its ClientToken in the input: a new request needs
			// a new one.
			w.f.SetCapacity("c5.large", "us-east-1a", tc.market, 1)
			in.ClientToken = nil
			out, err = w.ec2.CreateFleet(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if got := placed(out); len(got) != 1 || !strings.HasPrefix(got[0], "c5.large us-east-1a") || len(out.Errors) != 2 {
				t.Errorf("with room for one: placed %v, errors %v", got, fleetErrors(out))
			}

			// Terminating frees the capacity again.
			if _, err := w.ec2.TerminateInstances(context.Background(), &ec2.TerminateInstancesInput{InstanceIds: fleetIDs(out)}); err != nil {
				t.Fatal(err)
			}
			w.f.Restore("m5.large", "us-east-1a", tc.market)
			in.ClientToken = nil
			out, err = w.ec2.CreateFleet(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if got := placed(out); len(got) != 2 || len(out.Errors) != 0 {
				t.Errorf("after a termination and a Restore: placed %v, errors %v", got, fleetErrors(out))
			}
		})
	}
}

func TestCreateFleetClientToken(t *testing.T) {
	w := newWorld(t, Config{})
	ctx := context.Background()
	in := w.fleetInput(Spot, 2, override("m5.large", ""))
	in.ClientToken = aws.String("launch-1")
	first, err := w.ec2.CreateFleet(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := w.ec2.CreateFleet(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(again.FleetId) != aws.ToString(first.FleetId) || !slices.Equal(fleetIDs(again), fleetIDs(first)) {
		t.Errorf("the same ClientToken again: fleet %s %v, want fleet %s %v",
			aws.ToString(again.FleetId), fleetIDs(again), aws.ToString(first.FleetId), fleetIDs(first))
	}
	if n := len(w.f.Instances()); n != 2 {
		t.Errorf("%d instances after a repeated request, want 2", n)
	}

	in.TargetCapacitySpecification.TotalTargetCapacity = aws.Int32(3)
	_, err = w.ec2.CreateFleet(ctx, in)
	wantError(t, err, "IdempotentParameterMismatch", http.StatusBadRequest)

	in.ClientToken = aws.String("launch-2")
	out, err := w.ec2.CreateFleet(ctx, in)
	if err != nil || len(fleetIDs(out)) != 3 {
		t.Errorf("a new ClientToken: %v, %d instances, want 3", err, len(fleetIDs(out)))
	}
}

func TestCreateFleetErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(w *world, in *ec2.CreateFleetInput)
		code string
	}{
		{"type maintain", func(w *world, in *ec2.CreateFleetInput) { in.Type = types.FleetTypeMaintain }, "InvalidParameterValue"},
		{"type request", func(w *world, in *ec2.CreateFleetInput) { in.Type = types.FleetTypeRequest }, "InvalidParameterValue"},
		{"unknown template name", func(w *world, in *ec2.CreateFleetInput) {
			in.LaunchTemplateConfigs[0].LaunchTemplateSpecification.LaunchTemplateName = aws.String("nope")
		}, "InvalidLaunchTemplateName.NotFoundException"},
		{"unknown template id", func(w *world, in *ec2.CreateFleetInput) {
			in.LaunchTemplateConfigs[0].LaunchTemplateSpecification = &types.FleetLaunchTemplateSpecificationRequest{LaunchTemplateId: aws.String("lt-0123456789abcdef0")}
		}, "InvalidLaunchTemplateId.NotFound"},
		{"malformed template id", func(w *world, in *ec2.CreateFleetInput) {
			in.LaunchTemplateConfigs[0].LaunchTemplateSpecification = &types.FleetLaunchTemplateSpecificationRequest{LaunchTemplateId: aws.String("template-1")}
		}, "InvalidLaunchTemplateId.Malformed"},
		{"unknown version", func(w *world, in *ec2.CreateFleetInput) {
			in.LaunchTemplateConfigs[0].LaunchTemplateSpecification.Version = aws.String("7")
		}, "InvalidLaunchTemplateId.VersionNotFound"},
		{"unknown subnet", func(w *world, in *ec2.CreateFleetInput) {
			in.LaunchTemplateConfigs[0].Overrides[0].SubnetId = aws.String("subnet-0123456789abcdef0")
		}, "InvalidSubnetID.NotFound"},
		{"unknown zone", func(w *world, in *ec2.CreateFleetInput) {
			in.LaunchTemplateConfigs[0].Overrides[0].AvailabilityZone = aws.String("us-east-1z")
		}, "InvalidParameterValue"},
		{"unknown instance type", func(w *world, in *ec2.CreateFleetInput) {
			in.LaunchTemplateConfigs[0].Overrides[0].InstanceType = "m9.huge"
		}, "InvalidParameterValue"},
		{"no instance type", func(w *world, in *ec2.CreateFleetInput) {
			in.LaunchTemplateConfigs[0].Overrides = nil
		}, "MissingParameter"},
		{"unknown spot strategy", func(w *world, in *ec2.CreateFleetInput) {
			in.SpotOptions = &types.SpotOptionsRequest{AllocationStrategy: "cheapest-please"}
		}, "InvalidParameterValue"},
		{"unknown on-demand strategy", func(w *world, in *ec2.CreateFleetInput) {
			in.OnDemandOptions = &types.OnDemandOptionsRequest{AllocationStrategy: "capacity-optimized"}
		}, "InvalidParameterValue"},
		{"more spot than the total", func(w *world, in *ec2.CreateFleetInput) {
			in.TargetCapacitySpecification.SpotTargetCapacity = aws.Int32(5)
		}, "InvalidParameterValue"},
		{"a tag on a resource a fleet does not tag", func(w *world, in *ec2.CreateFleetInput) {
			in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeSubnet, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}}
		}, "InvalidParameterValue"},
		{"a reserved tag key", func(w *world, in *ec2.CreateFleetInput) {
			in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("aws:mine"), Value: aws.String("v")}}}}
		}, "InvalidParameterValue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, Config{})
			in := w.fleetInput(Spot, 2, override("m5.large", ""))
			tc.edit(w, in)
			_, err := w.ec2.CreateFleet(context.Background(), in)
			wantError(t, err, tc.code, http.StatusBadRequest)
			if n := len(w.f.Instances()); n != 0 {
				t.Errorf("%d instances launched by a refused fleet", n)
			}
		})
	}

	t.Run("no default VPC", func(t *testing.T) {
		w := newWorld(t, Config{NoDefaultVPC: true})
		_, err := w.ec2.CreateFleet(context.Background(), w.fleetInput(Spot, 1, override("m5.large", "")))
		wantError(t, err, "VPCIdNotSpecified", http.StatusBadRequest)

		s := w.f.AddSubnet(Subnet{Zone: "us-east-1c", CIDR: "10.1.0.0/28"})
		o := override("m5.large", "")
		o.SubnetId = aws.String(s.ID)
		out, err := w.ec2.CreateFleet(context.Background(), w.fleetInput(Spot, 1, o))
		if err != nil || len(fleetIDs(out)) != 1 {
			t.Fatalf("a fleet in a named subnet: %v", err)
		}
		if v, _ := w.f.Instance(fleetIDs(out)[0]); v.SubnetID != s.ID || v.Zone != "us-east-1c" || v.PrivateIP != "10.1.0.4" {
			t.Errorf("instance %+v, want subnet %s in us-east-1c at 10.1.0.4", v, s.ID)
		}
	})
}
