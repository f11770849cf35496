package ec2fake

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
)

// describe returns the ids DescribeInstances lists for in, every page.
func (w *world) describe(t *testing.T, in *ec2.DescribeInstancesInput) []string {
	t.Helper()
	var ids []string
	pages := ec2.NewDescribeInstancesPaginator(w.ec2, in)
	for pages.HasMorePages() {
		out, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatalf("DescribeInstances: %v", err)
		}
		for _, r := range out.Reservations {
			for _, in := range r.Instances {
				ids = append(ids, aws.ToString(in.InstanceId))
			}
		}
	}
	return ids
}

// one describes the instance id.
func (w *world) one(t *testing.T, id string) types.Instance {
	t.Helper()
	out, err := w.ec2.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatalf("DescribeInstances %s: %v", id, err)
	}
	return out.Reservations[0].Instances[0]
}

func sdkFilter(name string, values ...string) types.Filter {
	return types.Filter{Name: aws.String(name), Values: values}
}

func TestDescribeInstancesFilters(t *testing.T) {
	w := newWorld(t, Config{})
	spotA := w.launch(t, Spot, "m5.large", 2, map[string]string{"berth:pool": "batch-a"})
	spotB := w.launch(t, Spot, "c5.large", 1, map[string]string{"berth:pool": "batch-b"})
	base := w.launch(t, OnDemand, "m5.large", 1, map[string]string{"berth:pool": "baseline", "berth:warm": "yes"})
	if _, err := w.ec2.TerminateInstances(context.Background(), &ec2.TerminateInstancesInput{InstanceIds: spotA[1:]}); err != nil {
		t.Fatal(err)
	}
	w.clk.Advance(time.Minute)
	all := slices.Concat(spotA, spotB, base)
	for _, tc := range []struct {
		name    string
		filters []types.Filter
		want    []string
	}{
		{"none", nil, all},
		{"tag value", []types.Filter{sdkFilter("tag:berth:pool", "batch-a")}, spotA},
		{"tag values", []types.Filter{sdkFilter("tag:berth:pool", "batch-b", "baseline")}, slices.Concat(spotB, base)},
		{"tag wildcard", []types.Filter{sdkFilter("tag:berth:pool", "batch-*")}, slices.Concat(spotA, spotB)},
		{"tag-key", []types.Filter{sdkFilter("tag-key", "berth:warm")}, base},
		{"tag-value", []types.Filter{sdkFilter("tag-value", "batch-?")}, slices.Concat(spotA, spotB)},
		{"state", []types.Filter{sdkFilter("instance-state-name", "pending", "running")}, slices.Concat(spotA[:1], spotB, base)},
		{"terminated", []types.Filter{sdkFilter("instance-state-name", "terminated")}, spotA[1:]},
		{"state code", []types.Filter{sdkFilter("instance-state-code", "48")}, spotA[1:]},
		{"spot", []types.Filter{sdkFilter("instance-lifecycle", "spot")}, slices.Concat(spotA, spotB)},
		{"type", []types.Filter{sdkFilter("instance-type", "c5.large")}, spotB},
		{"two filters, both apply", []types.Filter{sdkFilter("instance-lifecycle", "spot"), sdkFilter("instance-state-name", "running")}, slices.Concat(spotA[:1], spotB)},
		{"ids and a filter", nil, nil}, // filled in below
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &ec2.DescribeInstancesInput{Filters: tc.filters}
			if tc.name == "ids and a filter" {
				in = &ec2.DescribeInstancesInput{InstanceIds: slices.Concat(base, spotA), Filters: []types.Filter{sdkFilter("instance-lifecycle", "spot")}}
				tc.want = spotA
			}
			if diff := cmp.Diff(tc.want, w.describe(t, in)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}

	_, err := w.ec2.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{Filters: []types.Filter{sdkFilter("colour", "blue")}})
	wantError(t, err, "InvalidParameterValue", http.StatusBadRequest)
}

func TestDescribeInstancesPages(t *testing.T) {
	w := newWorld(t, Config{})
	ctx := context.Background()
	ids := w.launch(t, OnDemand, "t3.micro", 12, nil)

	out, err := w.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(out.Reservations[0].Instances); n != 5 || out.NextToken == nil {
		t.Errorf("first page: %d instances, next token %v; want 5 and a token", n, out.NextToken)
	}
	if got := w.describe(t, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5)}); !slices.Equal(got, ids) {
		t.Errorf("pages of 5 list %v, want %v", got, ids)
	}

	// An instance launched between two pages is on a later page, and no
	// instance is listed twice.
	first, err := w.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(10)})
	if err != nil {
		t.Fatal(err)
	}
	more := w.launch(t, OnDemand, "t3.micro", 1, nil)
	rest, err := w.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(10), NextToken: first.NextToken})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, page := range []*ec2.DescribeInstancesOutput{first, rest} {
		for _, r := range page.Reservations {
			for _, in := range r.Instances {
				got = append(got, aws.ToString(in.InstanceId))
			}
		}
	}
	if want := slices.Concat(ids, more); !slices.Equal(got, want) || rest.NextToken != nil {
		t.Errorf("two pages around a launch list %v (next %v), want %v", got, rest.NextToken, want)
	}

	for _, tc := range []struct {
		name string
		in   *ec2.DescribeInstancesInput
		code string
	}{
		{"too small a page", &ec2.DescribeInstancesInput{MaxResults: aws.Int32(4)}, "InvalidParameterValue"},
		{"too large a page", &ec2.DescribeInstancesInput{MaxResults: aws.Int32(1001)}, "InvalidParameterValue"},
		{"ids and a page size", &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5), InstanceIds: ids[:1]}, "InvalidParameterCombination"},
		{"a made-up token", &ec2.DescribeInstancesInput{NextToken: aws.String("bm9wZQ")}, "InvalidPaginationToken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.ec2.DescribeInstances(ctx, tc.in)
			wantError(t, err, tc.code, http.StatusBadRequest)
		})
	}
}

func TestDescribeInstancesIDs(t *testing.T) {
	w := newWorld(t, Config{})
	ctx := context.Background()
	ids := w.launch(t, OnDemand, "m5.large", 2, nil)
	if got := w.describe(t, &ec2.DescribeInstancesInput{InstanceIds: []string{ids[1], ids[0], ids[1]}}); !slices.Equal(got, ids) {
		t.Errorf("by id: %v, want %v", got, ids)
	}
	for _, tc := range []struct {
		name string
		ids  []string
		code string
		msg  string
	}{
		{"unknown", []string{ids[0], "i-0123456789abcdef0"}, "InvalidInstanceID.NotFound", "The instance ID 'i-0123456789abcdef0' does not exist"},
		{"two unknown", []string{"i-0123456789abcdef0", "i-0123456789abcdef1"}, "InvalidInstanceID.NotFound", "The instance IDs 'i-0123456789abcdef0, i-0123456789abcdef1' do not exist"},
		{"malformed", []string{"web-1"}, "InvalidInstanceID.Malformed", `Invalid id: "web-1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: tc.ids})
			wantError(t, err, tc.code, http.StatusBadRequest)
			if ae := apiErr(err); ae == nil || ae.ErrorMessage() != tc.msg {
				t.Errorf("message of %v, want %q", err, tc.msg)
			}
		})
	}
}

func TestTerminateInstances(t *testing.T) {
	w := newWorld(t, Config{ShutdownTime: 20 * time.Second})
	ctx := context.Background()
	ids := w.launch(t, OnDemand, "m5.large", 3, nil)
	w.clk.Advance(time.Minute)

	// One unknown id: nothing is terminated.
	_, err := w.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{ids[0], "i-0123456789abcdef0"}})
	wantError(t, err, "InvalidInstanceID.NotFound", http.StatusBadRequest)
	if got := w.one(t, ids[0]).State.Name; got != types.InstanceStateNameRunning {
		t.Fatalf("after a refused TerminateInstances, %s is %s", ids[0], got)
	}

	out, err := w.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids[:2]})
	if err != nil {
		t.Fatal(err)
	}
	type change struct {
		ID       string
		Prev     types.InstanceStateName
		PrevCode int32
		Cur      types.InstanceStateName
		CurCode  int32
	}
	var got []change
	for _, c := range out.TerminatingInstances {
		got = append(got, change{aws.ToString(c.InstanceId), c.PreviousState.Name, aws.ToInt32(c.PreviousState.Code), c.CurrentState.Name, aws.ToInt32(c.CurrentState.Code)})
	}
	want := []change{{ids[0], "running", 16, "shutting-down", 32}, {ids[1], "running", 16, "shutting-down", 32}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("state changes (-want +got):\n%s", diff)
	}

	w.clk.Advance(20 * time.Second)
	in := w.one(t, ids[0])
	if in.State.Name != types.InstanceStateNameTerminated || aws.ToInt32(in.State.Code) != 48 ||
		in.StateReason == nil || aws.ToString(in.StateReason.Code) != ReasonUser ||
		aws.ToString(in.StateReason.Message) != "Client.UserInitiatedShutdown: User initiated shutdown" {
		t.Errorf("after the shutdown time: %s (%d), reason %+v", in.State.Name, aws.ToInt32(in.State.Code), in.StateReason)
	}
	if got := w.one(t, ids[2]).State.Name; got != types.InstanceStateNameRunning {
		t.Errorf("the instance not named is %s, want running", got)
	}

	// Terminating again changes nothing.
	out, err = w.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids[:1]})
	if err != nil {
		t.Fatal(err)
	}
	if c := out.TerminatingInstances[0]; c.PreviousState.Name != "terminated" || c.CurrentState.Name != "terminated" {
		t.Errorf("terminating a terminated instance: %s → %s", c.PreviousState.Name, c.CurrentState.Name)
	}

	_, err = w.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{"i-xyz"}})
	wantError(t, err, "InvalidInstanceID.Malformed", http.StatusBadRequest)
}

func TestRetention(t *testing.T) {
	w := newWorld(t, Config{Retention: time.Hour})
	ctx := context.Background()
	ids := w.launch(t, OnDemand, "m5.large", 2, nil)
	if _, err := w.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids[:1]}); err != nil {
		t.Fatal(err)
	}

	w.clk.Advance(time.Hour - time.Second)
	if got := w.describe(t, &ec2.DescribeInstancesInput{}); !slices.Equal(got, ids) {
		t.Errorf("just within the retention: %v, want %v", got, ids)
	}
	w.clk.Advance(time.Second)
	if got := w.describe(t, &ec2.DescribeInstancesInput{}); !slices.Equal(got, ids[1:]) {
		t.Errorf("after the retention: %v, want %v", got, ids[1:])
	}
	_, err := w.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids[:1]})
	wantError(t, err, "InvalidInstanceID.NotFound", http.StatusBadRequest)
	if _, ok := w.f.Instance(ids[0]); ok {
		t.Errorf("Instance(%s) still known after the retention", ids[0])
	}
}

func TestInterrupt(t *testing.T) {
	w := newWorld(t, Config{})
	spot := w.launch(t, Spot, "m5.large", 1, nil)[0]
	od := w.launch(t, OnDemand, "m5.large", 1, nil)[0]
	w.clk.Advance(time.Minute)
	notice := w.clk.Now()

	if err := w.f.Interrupt(spot); err != nil {
		t.Fatal(err)
	}
	if err := w.f.Interrupt(od); err == nil {
		t.Error("Interrupt of an on-demand instance succeeded")
	}
	if err := w.f.Interrupt("i-0123456789abcdef0"); err == nil {
		t.Error("Interrupt of an unknown instance succeeded")
	}
	if at, ok := w.f.Notice(spot); !ok || !at.Equal(notice) {
		t.Errorf("Notice(%s) = %v, %v; want %v", spot, at, ok, notice)
	}
	if _, ok := w.f.Notice(od); ok {
		t.Errorf("Notice(%s): an on-demand instance has a notice", od)
	}

	w.clk.Advance(SpotNotice - time.Second)
	if in := w.one(t, spot); in.State.Name != types.InstanceStateNameRunning || in.StateReason != nil {
		t.Errorf("a second before the reclaim: %s, reason %+v", in.State.Name, in.StateReason)
	}
	w.f.Interrupt(spot) // a second notice keeps the first
	w.clk.Advance(time.Second)
	in := w.one(t, spot)
	if in.State.Name != types.InstanceStateNameTerminated || in.StateReason == nil ||
		aws.ToString(in.StateReason.Code) != ReasonSpot ||
		aws.ToString(in.StateReason.Message) != "Server.SpotInstanceTermination: Spot instance termination" {
		t.Errorf("two minutes after the notice: %s, reason %+v; want terminated by %s", in.State.Name, in.StateReason, ReasonSpot)
	}
	if got := w.one(t, od).State.Name; got != types.InstanceStateNameRunning {
		t.Errorf("the on-demand instance is %s", got)
	}
	if err := w.f.Interrupt(spot); err == nil {
		t.Error("Interrupt of a reclaimed instance succeeded")
	}

	// Terminating before the reclaim makes it the user's shutdown.
	spot2 := w.launch(t, Spot, "m5.large", 1, nil)[0]
	w.f.Interrupt(spot2)
	w.clk.Advance(time.Minute)
	if _, err := w.ec2.TerminateInstances(context.Background(), &ec2.TerminateInstancesInput{InstanceIds: []string{spot2}}); err != nil {
		t.Fatal(err)
	}
	w.clk.Advance(2 * time.Minute)
	if in := w.one(t, spot2); aws.ToString(in.StateReason.Code) != ReasonUser {
		t.Errorf("terminated within the notice: reason %s, want %s", aws.ToString(in.StateReason.Code), ReasonUser)
	}
}
