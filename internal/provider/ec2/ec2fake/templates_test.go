package ec2fake

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
)

func TestDescribeLaunchTemplates(t *testing.T) {
	w := newWorld(t, Config{})
	ctx := context.Background()
	other := w.f.PutLaunchTemplate(LaunchTemplate{Name: "berth-huge", LatestVersion: 3, DefaultVersion: 2, Tags: map[string]string{"berth:cluster": "c1"}})

	for _, tc := range []struct {
		name string
		in   *ec2.DescribeLaunchTemplatesInput
		want []string
	}{
		{"all", &ec2.DescribeLaunchTemplatesInput{}, []string{w.lt.ID + " berth-pool 1 1", other.ID + " berth-huge 2 3"}},
		{"by name", &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{"berth-huge"}}, []string{other.ID + " berth-huge 2 3"}},
		{"by id", &ec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: []string{w.lt.ID}}, []string{w.lt.ID + " berth-pool 1 1"}},
		{"by tag", &ec2.DescribeLaunchTemplatesInput{Filters: []types.Filter{sdkFilter("tag:berth:cluster", "c1")}}, []string{other.ID + " berth-huge 2 3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := w.ec2.DescribeLaunchTemplates(ctx, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, lt := range out.LaunchTemplates {
				got = append(got, aws.ToString(lt.LaunchTemplateId)+" "+aws.ToString(lt.LaunchTemplateName)+" "+
					strconv.FormatInt(aws.ToInt64(lt.DefaultVersionNumber), 10)+" "+strconv.FormatInt(aws.ToInt64(lt.LatestVersionNumber), 10))
				if !aws.ToTime(lt.CreateTime).Equal(t0) {
					t.Errorf("created %v, want %v", aws.ToTime(lt.CreateTime), t0)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("templates (-want +got):\n%s", diff)
			}
		})
	}

	for _, tc := range []struct {
		name string
		in   *ec2.DescribeLaunchTemplatesInput
		code string
	}{
		{"unknown name", &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{"nope"}}, "InvalidLaunchTemplateName.NotFoundException"},
		{"unknown id", &ec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: []string{"lt-0123456789abcdef0"}}, "InvalidLaunchTemplateId.NotFound"},
		{"malformed id", &ec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: []string{"berth-pool"}}, "InvalidLaunchTemplateId.Malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.ec2.DescribeLaunchTemplates(ctx, tc.in)
			wantError(t, err, tc.code, http.StatusBadRequest)
		})
	}

	// A fleet on the template's default version takes version 2.
	in := w.fleetInput(OnDemand, 1, override("m5.large", ""))
	in.LaunchTemplateConfigs[0].LaunchTemplateSpecification = &types.FleetLaunchTemplateSpecificationRequest{LaunchTemplateId: aws.String(other.ID)}
	out, err := w.ec2.CreateFleet(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := w.f.Instance(fleetIDs(out)[0]); v.LaunchTemplateVersion != 2 || v.Tags["aws:ec2launchtemplate:version"] != "2" || v.HTTPTokens != "optional" {
		t.Errorf("an instance of the default version: %+v", v)
	}
}
