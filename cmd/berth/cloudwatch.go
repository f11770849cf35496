package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"github.com/berth-run/berth/internal/control"
)

// cloudWatchConfig returns where --cloudwatch-namespace sends the fleet's
// figures, every period, through the AWS SDK's default chain (its
// credentials, its region, AWS_ENDPOINT_URL). The client does not retry:
// the publisher does, within each period.
func cloudWatchConfig(ctx context.Context, namespace, cluster string, period time.Duration) (*control.CloudWatchConfig, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	ac, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("--cloudwatch-namespace: AWS configuration: %w", err)
	}
	if ac.Region == "" {
		return nil, fmt.Errorf("--cloudwatch-namespace: no region is set for the AWS SDK (AWS_REGION, or the profile's)")
	}
	api := cloudwatch.NewFromConfig(ac, func(o *cloudwatch.Options) { o.Retryer = aws.NopRetryer{} })
	return &control.CloudWatchConfig{Namespace: namespace, Cluster: cluster, API: api, Period: period}, nil
}
