package ec2fake

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
)

func TestDescribeInstanceTypes(t *testing.T) {
	w := newWorld(t, Config{})
	ctx := context.Background()
	w.f.SetInstanceType(InstanceType{Name: "c7g.large", VCPUs: 2, MemoryMiB: 4096, Arch: "arm64", OnDemandPrice: 0.0725})

	out, err := w.ec2.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{InstanceTypes: []types.InstanceType{"m5.xlarge", "c7g.large"}})
	if err != nil {
		t.Fatal(err)
	}
	type spec struct {
		Name    string
		VCPUs   int32
		Threads int32
		MiB     int64
		Arch    []types.ArchitectureType
		Classes []types.UsageClassType
	}
	var got []spec
	for _, it := range out.InstanceTypes {
		got = append(got, spec{string(it.InstanceType), aws.ToInt32(it.VCpuInfo.DefaultVCpus), aws.ToInt32(it.VCpuInfo.DefaultThreadsPerCore),
			aws.ToInt64(it.MemoryInfo.SizeInMiB), it.ProcessorInfo.SupportedArchitectures, it.SupportedUsageClasses})
	}
	both := []types.UsageClassType{"on-demand", "spot"}
	want := []spec{
		{"c7g.large", 2, 1, 4096, []types.ArchitectureType{"arm64"}, both},
		{"m5.xlarge", 4, 2, 16384, []types.ArchitectureType{"x86_64"}, both},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("instance types (-want +got):\n%s", diff)
	}

	_, err = w.ec2.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{InstanceTypes: []types.InstanceType{"m5.large", "m9.huge"}})
	wantError(t, err, "InvalidInstanceType", http.StatusBadRequest)
	if ae := apiErr(err); ae == nil || ae.ErrorMessage() != "The following supplied instance types do not exist: [m9.huge]" {
		t.Errorf("message of %v", err)
	}

	// Every type, five a page: the default nine and c7g.large.
	var names []string
	pages := ec2.NewDescribeInstanceTypesPaginator(w.ec2, &ec2.DescribeInstanceTypesInput{MaxResults: aws.Int32(5)})
	for n := 0; pages.HasMorePages(); n++ {
		out, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.InstanceTypes) != 5 {
			t.Errorf("page %d has %d types, want 5", n, len(out.InstanceTypes))
		}
		for _, it := range out.InstanceTypes {
			names = append(names, string(it.InstanceType))
		}
	}
	if len(names) != 10 || !slices.IsSorted(names) {
		t.Errorf("types listed in pages: %v, want all 10 in order", names)
	}

	out, err = w.ec2.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{Filters: []types.Filter{
		sdkFilter("processor-info.supported-architecture", "arm64"), sdkFilter("vcpu-info.default-vcpus", "2"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	names = nil
	for _, it := range out.InstanceTypes {
		names = append(names, string(it.InstanceType))
	}
	if want := []string{"c6g.large", "c7g.large", "m6g.large"}; !slices.Equal(names, want) {
		t.Errorf("arm64 with 2 vCPUs: %v, want %v", names, want)
	}

	_, err = w.ec2.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{MaxResults: aws.Int32(101)})
	wantError(t, err, "InvalidParameterValue", http.StatusBadRequest)
}
