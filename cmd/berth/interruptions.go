package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/control"
)

// interruptionQueues returns the SQS queues of EC2's interruption events
// that the server reads: each ec2 pool's interruption_queue and the one
// of --interruption-queue (flagURL), each once; a queue's loop acts on
// every node whose instance an event names, whichever pool named the
// queue. Each is reached through the AWS SDK's default chain, in the
// region its URL names (else its pool's, else the SDK's), and checked at
// once: a queue that does not exist, or that the server may not read,
// stops the server, naming the field.
func interruptionQueues(ctx context.Context, pools []berth.PoolSpec, flagURL string) ([]control.InterruptionQueueConfig, error) {
	type source struct{ field, url, region string }
	var sources []source
	for i, p := range pools {
		if p.Provider == berth.ProviderEC2 && p.InterruptionQueue != "" {
			sources = append(sources, source{fmt.Sprintf("pools[%d].interruption_queue", i), p.InterruptionQueue, p.Region})
		}
	}
	if flagURL != "" {
		sources = append(sources, source{"--interruption-queue", flagURL, ""})
	}
	var out []control.InterruptionQueueConfig
	seen := map[string]bool{}
	for _, s := range sources {
		if seen[s.url] {
			continue
		}
		seen[s.url] = true
		api, err := queueClient(ctx, s.url, s.region, true)
		if err != nil {
			return nil, &berth.FieldError{Field: s.field, Problem: err.Error()}
		}
		out = append(out, control.InterruptionQueueConfig{URL: s.url, API: api})
	}
	return out, nil
}

// queueClient returns an SQS client for the queue at url, after checking,
// when check is set, that it may read the queue's attributes.
func queueClient(ctx context.Context, url, poolRegion string, check bool) (*sqs.Client, error) {
	region, err := berth.ParseQueueURL(url)
	if err != nil {
		return nil, fmt.Errorf("%q is %v", url, err)
	}
	if region == "" {
		region = poolRegion
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var opts []func(*awsconfig.LoadOptions) error
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	if ac.Region == "" {
		return nil, fmt.Errorf("no region: the queue's URL names none, and none is set for the AWS SDK either (AWS_REGION, or the profile's)")
	}
	c := sqs.NewFromConfig(ac)
	if !check {
		return c, nil
	}
	if _, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}}); err != nil {
		return nil, fmt.Errorf("queue %s: %w", url, err)
	}
	return c, nil
}
