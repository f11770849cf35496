package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/pricing"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/config"
	"github.com/berth-run/berth/internal/control"
	"github.com/berth-run/berth/internal/fakehost"
	"github.com/berth-run/berth/internal/provider/ec2"
	"github.com/berth-run/berth/internal/provider/fakecloud"
	"github.com/berth-run/berth/internal/provider/fargate"
)

// fleetSetup is what the configuration's pools become in the server.
type fleetSetup struct {
	pools    []control.FleetPool
	machines []fakehost.Pool // the fake pools' machines, run in-process
	local    string          // the local pool's name, "" without one
	// queues are the SQS queues of EC2's interruption events to read.
	queues []control.InterruptionQueueConfig
}

// maxFakeCalls bounds each fake cloud's call log in a long-running server.
const maxFakeCalls = 1000

// buildFleet turns the pools of cfg into providers. Fake pools get an
// in-memory cloud each, whose instances boot in the pool's boot_time and
// whose Spot market follows the instance types' traces (from start) or is
// always available at their spot_price. EC2 pools are checked against
// EC2 (their types, subnets and launch template) through the AWS SDK's
// default chain of credentials, region and endpoint, tagged with cluster.
// Providers this build cannot drive are refused, naming the field.
func buildFleet(ctx context.Context, cfg config.Config, cluster string, start time.Time) (fleetSetup, error) {
	var fs fleetSetup
	// Instance ids differ from those of the clouds of earlier runs, whose
	// nodes may still be in the store.
	var b [3]byte
	_, _ = rand.Read(b[:])
	prefix := "i-" + hex.EncodeToString(b[:]) + "-"
	for i, spec := range cfg.Pools {
		p := control.FleetPool{Spec: spec}
		if spec.Window != nil {
			w, err := config.ParseWindow(*spec.Window)
			if err != nil {
				return fs, fmt.Errorf("pools[%d].window.%w", i, err)
			}
			p.Window = &w
		}
		switch spec.Provider {
		case berth.ProviderLocal:
			fs.local = spec.Name
		case berth.ProviderFake:
			// Each pool's cloud numbers its instances from 1: the prefix
			// names the pool's too, so that ids stay unique across pools.
			cloud := fakecloud.New(fakecloud.Config{BootTime: max(time.Duration(spec.BootTime), time.Millisecond),
				IDPrefix: fmt.Sprintf("%s%d-", prefix, i), MaxCalls: maxFakeCalls})
			if err := spotMarkets(cloud, spec, start); err != nil {
				return fs, fmt.Errorf("pools[%d].%w", i, err)
			}
			p.Provider = cloud.Pool(spec)
			fs.machines = append(fs.machines, fakehost.Pool{Spec: spec, Cloud: cloud})
		case berth.ProviderFakeServerless:
			p.Node = fakehost.ServerlessNode(spec.Name)
			fs.machines = append(fs.machines, fakehost.Pool{Spec: spec})
		case berth.ProviderEC2:
			pool, err := ec2Pool(ctx, spec, cluster)
			var fe *berth.FieldError
			if errors.As(err, &fe) {
				fe.Field = fmt.Sprintf("pools[%d].%s", i, fe.Field)
				return fs, fe
			}
			if err != nil {
				return fs, fmt.Errorf("pools[%d] (%s): %w", i, spec.Name, err)
			}
			p.Provider, p.Spec = pool, pool.Spec() // with the sizes EC2 gives its types
		case berth.ProviderFargate:
			runner, err := fargateRunner(ctx, spec, cluster)
			var fe *berth.FieldError
			if errors.As(err, &fe) {
				fe.Field = fmt.Sprintf("pools[%d].%s", i, fe.Field)
				return fs, fe
			}
			if err != nil {
				return fs, fmt.Errorf("pools[%d] (%s): %w", i, spec.Name, err)
			}
			p.Node = fakehost.ServerlessNode(spec.Name)
			fs.machines = append(fs.machines, fakehost.Pool{Spec: spec, Runner: runner})
		default:
			return fs, &berth.FieldError{Field: fmt.Sprintf("pools[%d].provider", i),
				Problem: fmt.Sprintf("%q is not available in this server yet: use local, fake, fake-serverless, ec2 or fargate", spec.Provider)}
		}
		fs.pools = append(fs.pools, p)
	}
	return fs, nil
}

// spotMarkets gives the Spot instance types of spec that have a trace their
// market, starting at start, at a mean of their spot_price (else 35% of
// their on-demand price).
func spotMarkets(cloud *fakecloud.Cloud, spec berth.PoolSpec, start time.Time) error {
	if spec.Market != berth.Spot {
		return nil
	}
	for j, t := range spec.InstanceTypes {
		if t.SpotTrace == "" {
			continue
		}
		tr, err := fakecloud.LoadTrace(t.SpotTrace, t.SpotTraceInverted)
		if err != nil {
			return &berth.FieldError{Field: fmt.Sprintf("instance_types[%d].spot_trace", j), Problem: err.Error()}
		}
		mean := t.SpotPrice
		if mean == 0 {
			mean = 0.35 * t.Price
		}
		cloud.SetSpotMarket(t.Name, fakecloud.NewSpotMarket(tr, start, mean))
	}
	return nil
}

// awsConfig loads the AWS SDK's configuration for a pool in region ("":
// the SDK's own).
func awsConfig(ctx context.Context, region string) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return ac, fmt.Errorf("AWS configuration: %w", err)
	}
	if ac.Region == "" {
		return ac, &berth.FieldError{Field: "region", Problem: "is required: no region is set for the AWS SDK either (AWS_REGION, or the profile's)"}
	}
	return ac, nil
}

// fargateRunner connects fargate pool spec to ECS and CloudWatch Logs,
// with the AWS SDK's default chain as ec2Pool does, and checks its
// cluster, log group and network.
func fargateRunner(ctx context.Context, spec berth.PoolSpec, cluster string) (*fargate.Runner, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	ac, err := awsConfig(ctx, spec.Region)
	if err != nil {
		return nil, err
	}
	return fargate.New(ctx, ecs.NewFromConfig(ac), cloudwatchlogs.NewFromConfig(ac),
		fargate.Config{Spec: spec, Cluster: cluster, Region: ac.Region, Network: awsec2.NewFromConfig(ac)})
}

// ec2Pool connects pool spec to EC2, with the AWS SDK's default chain: the
// region is the pool's, else the SDK's (AWS_REGION, the profile), and
// AWS_ENDPOINT_URL and the usual credentials settings apply.
func ec2Pool(ctx context.Context, spec berth.PoolSpec, cluster string) (*ec2.Pool, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	ac, err := awsConfig(ctx, spec.Region)
	if err != nil {
		return nil, err
	}
	// The Price List API answers in us-east-1 (and two other regions) for
	// every region.
	prices := pricing.NewFromConfig(ac, func(o *pricing.Options) { o.Region = "us-east-1" })
	return ec2.New(ctx, awsec2.NewFromConfig(ac), ec2.Config{Spec: spec, Cluster: cluster, Prices: prices, Region: ac.Region})
}
