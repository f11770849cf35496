package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/store"
)

// QueueAPI is the SQS calls the interruption queue makes; *sqs.Client
// implements it.
type QueueAPI interface {
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(context.Context, *sqs.DeleteMessageInput, ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

var _ QueueAPI = (*sqs.Client)(nil)

// InterruptionQueueConfig is one SQS queue of EC2's interruption events
// and the client that reads it; zero durations mean the default.
type InterruptionQueueConfig struct {
	URL string
	API QueueAPI
	// Wait is how long each receive waits for a message (long polling).
	Wait time.Duration // default 20s, SQS's longest
	// RetryAfter is how soon a message that could not be acted on (the
	// store failed) is received again; it doubles with each receive.
	RetryAfter time.Duration // default 5s
	// MaxBackoff bounds the waits after failed receives (from 1s,
	// doubling) and the delays of messages that could not be acted on.
	MaxBackoff time.Duration // default 1m
}

// InterruptionQueue is the loop that reads an SQS queue which EventBridge
// feeds with EC2's events about berth's instances, and acts on each for
// the node that runs on the instance, whatever its agent does (dead,
// wedged, or reporting the same from the instance metadata service):
//
//   - a Spot interruption warning is the Spot notice the agent reports: the
//     node drains and its jobs are re-queued without spending a retry
//     (Registry.Notice); the fleet counts it in the type's interruption
//     rate and avoids the type for a while;
//   - a rebalance recommendation is the rebalance notice: no new work;
//   - a state change to shutting-down, terminated, stopping or stopped
//     retires the node, as the fleet does when its lists show the end: its
//     attempts are closed and their jobs re-queued without spending a
//     retry;
//   - an AWS Health event of a change scheduled on the instance drains the
//     node.
//
// What is done already is not done again, so the same event twice, or
// the queue's notice and the agent's, re-queue a job once. A message is
// deleted once acted on. One that is not such an event, or names no
// node's instance, is logged once and deleted: it never blocks the queue.
// One that could not be acted on because the store failed is left in the
// queue, to be received again after RetryAfter.
type InterruptionQueue struct {
	cfg   InterruptionQueueConfig
	reg   *Registry
	fleet *Fleet
	log   *slog.Logger

	// logged are the ids of the messages whose fault was logged, oldest
	// first, at most maxLogged; only Run touches them.
	logged     map[string]bool
	loggedList []string
}

// maxLogged bounds the message ids kept to log each fault once.
const maxLogged = 1000

// NewInterruptionQueue returns the loop of the queue cfg names, acting on
// reg's nodes and telling fleet of the Spot notices.
func NewInterruptionQueue(cfg InterruptionQueueConfig, reg *Registry, fleet *Fleet, log *slog.Logger) *InterruptionQueue {
	if cfg.Wait <= 0 || cfg.Wait > 20*time.Second {
		cfg.Wait = 20 * time.Second
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 5 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Minute
	}
	return &InterruptionQueue{cfg: cfg, reg: reg, fleet: fleet, log: log.With("queue", cfg.URL), logged: map[string]bool{}}
}

// Run receives and acts until ctx ends. A failed receive is logged and
// tried again after a wait that doubles, from 1s to MaxBackoff.
func (q *InterruptionQueue) Run(ctx context.Context) error {
	failed := 0
	for {
		out, err := q.cfg.API.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(q.cfg.URL),
			MaxNumberOfMessages:         10,
			WaitTimeSeconds:             int32(q.cfg.Wait / time.Second),
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
		})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			failed++
			wait := q.backoff(time.Second, failed)
			q.log.Warn("receive from the interruption queue", "err", err, "retry_in", wait)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			continue
		}
		failed = 0
		q.handle(ctx, out.Messages, time.Now())
	}
}

// backoff is the wait after the n-th failure in a row: base doubled n-1
// times, at most MaxBackoff.
func (q *InterruptionQueue) backoff(base time.Duration, n int) time.Duration {
	return doubling(base, q.cfg.MaxBackoff, n)
}

// handle acts on a batch of messages, then deletes each that is done
// with. The nodes are read once, for the first message that is an event.
func (q *InterruptionQueue) handle(ctx context.Context, msgs []types.Message, now time.Time) {
	var nodes map[string]store.NodeInfo
	for _, m := range msgs {
		id := aws.ToString(m.MessageId)
		e, err := parseEC2Event(aws.ToString(m.Body))
		if err != nil {
			q.logOnce(id, slog.LevelWarn, "dropped a message that is not an event of EC2 instances", "message", id, "err", err)
			q.delete(ctx, m)
			continue
		}
		if nodes == nil {
			all, err := q.reg.Nodes(ctx)
			if err != nil {
				q.retry(ctx, m, fmt.Errorf("read the nodes: %w", err))
				continue
			}
			nodes = nodesByInstance(all, func(store.NodeInfo) bool { return true })
		}
		if err := q.act(ctx, e, nodes, now); err != nil {
			q.retry(ctx, m, err)
			continue
		}
		if !anyKnown(e, nodes) {
			q.logOnce(id, slog.LevelInfo, "dropped an event about an instance no node runs on", "message", id,
				"event", e.ID, "type", e.Type, "instances", e.Instances)
		}
		q.delete(ctx, m)
	}
}

// anyKnown reports whether a node runs on one of e's instances.
func anyKnown(e ec2Event, nodes map[string]store.NodeInfo) bool {
	for _, id := range e.Instances {
		if _, ok := nodes[id]; ok {
			return true
		}
	}
	return false
}

// act does what e calls for to the nodes on its instances, and keeps
// nodes up to date with what it did, for the next messages of the batch.
func (q *InterruptionQueue) act(ctx context.Context, e ec2Event, nodes map[string]store.NodeInfo, now time.Time) error {
	for _, inst := range e.Instances {
		if e.Type == spotWarning && q.fleet != nil {
			q.fleet.SpotNotice(inst, reclaimAt(e, now), now)
		}
		n, ok := nodes[inst]
		if !ok {
			continue
		}
		var err error
		switch decideEC2Event(e, n) {
		case actSpot:
			at, action := reclaimAt(e, now), e.Action
			if action == "" {
				action = "terminate"
			}
			n, err = q.reg.Notice(ctx, n.ID, nodeapi.Notice{Kind: nodeapi.SpotInterruption, Action: action, Time: &at})
		case actRebalance:
			notice := nodeapi.Notice{Kind: nodeapi.Rebalance}
			if !e.Time.IsZero() {
				notice.Time = &e.Time
			}
			n, err = q.reg.Notice(ctx, n.ID, notice)
		case actRetire:
			err = q.reg.RetireAt(ctx, n.ID, retireReason(e, inst, n), endedAt(e, now))
			n.State = berth.NodeGone
		case actDrain:
			n, err = q.reg.Drain(ctx, n.ID, nil, "AWS scheduled change "+e.Code)
			if errors.Is(err, berth.ErrConflict) {
				err = nil // lost meanwhile: nothing to drain
			}
		}
		if err != nil {
			return fmt.Errorf("%s for instance %s, node %s: %w", e.Type, inst, n.ID, err)
		}
		nodes[inst] = n
	}
	return nil
}

// delete deletes a message acted on. A failure is logged: the message
// comes back, and acting on it again changes nothing.
func (q *InterruptionQueue) delete(ctx context.Context, m types.Message) {
	_, err := q.cfg.API.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.cfg.URL), ReceiptHandle: m.ReceiptHandle})
	if err != nil && ctx.Err() == nil {
		q.log.Warn("delete a message of the interruption queue; it will come back", "message", aws.ToString(m.MessageId), "err", err)
	}
}

// retry logs why a message could not be acted on and leaves it in the
// queue, to be received again after RetryAfter, doubled with each
// receive, at most MaxBackoff.
func (q *InterruptionQueue) retry(ctx context.Context, m types.Message, why error) {
	if ctx.Err() != nil {
		return
	}
	n, _ := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	after := q.backoff(q.cfg.RetryAfter, max(n, 1))
	q.log.Error("act on an interruption event; it stays in the queue", "message", aws.ToString(m.MessageId),
		"receives", n, "retry_in", after, "err", why)
	_, err := q.cfg.API.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(q.cfg.URL),
		ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: int32(after / time.Second)})
	if err != nil && ctx.Err() == nil {
		q.log.Warn("change the visibility of a message; it comes back after the queue's visibility timeout", "message",
			aws.ToString(m.MessageId), "err", err)
	}
}

// logOnce logs msg unless it was logged for message id already.
func (q *InterruptionQueue) logOnce(id string, level slog.Level, msg string, args ...any) {
	if q.logged[id] {
		return
	}
	q.logged[id] = true
	q.loggedList = append(q.loggedList, id)
	if len(q.loggedList) > maxLogged {
		delete(q.logged, q.loggedList[0])
		q.loggedList = q.loggedList[1:]
	}
	q.log.Log(context.Background(), level, msg, args...)
}
