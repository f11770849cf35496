package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/client"
	"github.com/berth-run/berth/internal/control"
)

// intakeQueues returns the SQS queues of jobs that --sqs-intake names,
// each once, with a client from the AWS SDK's default chain in the region
// its URL names (else the SDK's). A URL that is not a queue's is an error
// naming the flag; a queue that cannot be read is not: the server starts,
// and shows it as the queue's problem until it can be.
func intakeQueues(ctx context.Context, urls []string) ([]control.IntakeConfig, error) {
	var out []control.IntakeConfig
	seen := map[string]bool{}
	for _, url := range urls {
		if seen[url] {
			continue
		}
		seen[url] = true
		if _, err := berth.ParseQueueURL(url); err != nil {
			return nil, fmt.Errorf("--sqs-intake %q is %v", url, err)
		}
		api, err := queueClient(ctx, url, "", false)
		if err != nil {
			return nil, fmt.Errorf("--sqs-intake: %w", err)
		}
		out = append(out, control.IntakeConfig{URL: url, API: api})
	}
	return out, nil
}

// runIntake runs `berth intake`: the last messages of the SQS intake
// queues that did not become jobs, and why.
func runIntake(ctx context.Context, env *cliEnv, args []string) error {
	var queue string
	var limit int
	return listing[berth.IntakeRefusal]{
		name:     "intake",
		synopsis: "intake [--queue URL] [--limit N] [-o json]",
		key:      "refused",
		header:   []string{"QUEUE", "MESSAGE", "RECEIVED", "RECEIVES", "REASON"},
		row: func(now time.Time, r berth.IntakeRefusal) []string {
			return []string{r.Queue, r.MessageID, age(now, r.ReceivedAt), fmt.Sprint(r.Receives), oneLine(r.Reason)}
		},
		fit: true,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&queue, "queue", "", "only the messages of the queue at this `URL`")
			fs.IntVar(&limit, "limit", 50, "messages at most (up to 1000)")
		},
		fetch: func(ctx context.Context, c *client.Client, _ []string, _ string, _ int) ([]berth.IntakeRefusal, string, error) {
			page, err := c.Intake(ctx, queue, limit)
			return page.Refused, "", err
		},
	}.run(ctx, env, args)
}
