package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/store"
)

// IntakeConfig is one SQS queue of jobs and the client that reads it;
// zero fields mean the default.
type IntakeConfig struct {
	URL string
	API IntakeAPI
	// Wait is how long each receive waits for a message (long polling).
	Wait time.Duration // default 20s, SQS's longest
	// Visibility is the visibility timeout asked for at each receive; a
	// message still being handled after half of it is hidden for another.
	Visibility time.Duration // default 30s
	// RetryAfter is how soon a message whose job berth could not store
	// is received again; RefusedAfter how soon a refused one is, on its
	// way to the queue's dead-letter queue. Both double with each
	// receive, up to MaxBackoff.
	RetryAfter   time.Duration // default 5s
	RefusedAfter time.Duration // default 30s
	// MaxBackoff bounds those delays and the waits after failed receives
	// (from 1s, doubling, with jitter).
	MaxBackoff time.Duration // default 5m
	// Batches is how many received batches are handled at once, so that
	// their jobs share the store's commits.
	Batches int // default 4
	// DepthEvery is how often the queue's depth is read.
	DepthEvery time.Duration // default 30s
}

func (c IntakeConfig) withDefaults() IntakeConfig {
	if c.Wait <= 0 || c.Wait > 20*time.Second {
		c.Wait = 20 * time.Second
	}
	if c.Visibility < 2*time.Second {
		c.Visibility = 30 * time.Second
	}
	c.RetryAfter = cmpOr(c.RetryAfter, 5*time.Second)
	c.RefusedAfter = cmpOr(c.RefusedAfter, 30*time.Second)
	c.MaxBackoff = min(cmpOr(c.MaxBackoff, 5*time.Minute), 12*time.Hour) // SQS's longest visibility timeout
	c.DepthEvery = cmpOr(c.DepthEvery, 30*time.Second)
	if c.Batches <= 0 {
		c.Batches = 4
	}
	return c
}

func cmpOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Intake is the loop that turns the messages of an SQS queue into jobs.
// Each body is a job as POST /v1/jobs takes it, submitted through the
// API's own function (JobSubmitter), under the body's idempotency key or
// else the message's id, so that a message received twice is one job.
// A message is deleted once its job is stored (or was, by the same body
// before). One that is not a job (not valid, empty, too large, or
// repeating a key with another body) is recorded with its reason, once
// per receive, and left in the queue, hidden for a while that doubles with
// each receive, for the queue's redrive policy to move it to its
// dead-letter queue; it never holds up the messages behind it. One whose
// job could not be stored (the store failed) is left to be received
// again. Failed receives are retried after a backoff with jitter and shown
// as the queue's problem; they never stop the loop.
type Intake struct {
	cfg    IntakeConfig
	st     *store.Store
	submit JobSubmitter
	log    *slog.Logger

	// mu guards status.
	mu     sync.Mutex
	status berth.IntakeQueue
}

// NewIntake returns the loop of the queue cfg names, recording refusals
// in st. Its jobs are submitted through submit.
func NewIntake(cfg IntakeConfig, st *store.Store, submit JobSubmitter, log *slog.Logger) *Intake {
	cfg = cfg.withDefaults()
	return &Intake{cfg: cfg, st: st, submit: submit, log: log.With("queue", cfg.URL),
		status: berth.IntakeQueue{URL: cfg.URL, Depth: -1, Refused: map[string]int64{}}}
}

// Status returns the queue's state as of now.
func (q *Intake) Status() berth.IntakeQueue {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.status
	s.Refused = maps.Clone(s.Refused)
	return s
}

// update changes the status under its lock.
func (q *Intake) update(fn func(s *berth.IntakeQueue)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	fn(&q.status)
}

// problem records why the queue could not be read, or clears it (nil).
func (q *Intake) problem(err error, now time.Time) {
	q.update(func(s *berth.IntakeQueue) {
		switch {
		case err == nil:
			s.Problem, s.ProblemSince = "", nil
		case s.ProblemSince == nil:
			s.Problem, s.ProblemSince = err.Error(), &now
		default:
			s.Problem = err.Error()
		}
	})
}

// Run receives and submits until ctx ends, reading the queue's depth
// beside. Up to Batches received batches are handled at once.
func (q *Intake) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		q.watchDepth(ctx)
	}()
	slots := make(chan struct{}, q.cfg.Batches)
	failed := 0
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		out, err := q.cfg.API.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:            aws.String(q.cfg.URL),
			MaxNumberOfMessages: 10,
			WaitTimeSeconds:     int32(q.cfg.Wait / time.Second),
			VisibilityTimeout:   int32(q.cfg.Visibility / time.Second),
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{
				types.MessageSystemAttributeNameApproximateReceiveCount, types.MessageSystemAttributeNameSentTimestamp},
		})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			<-slots
			failed++
			wait := jitter(doubling(time.Second, q.cfg.MaxBackoff, failed))
			q.problem(fmt.Errorf("receive: %w", err), time.Now())
			q.log.Warn("receive from the intake queue", "err", err, "retry_in", wait)
			if !sleep(ctx, wait) {
				return nil
			}
			continue
		}
		if failed > 0 {
			q.log.Info("the intake queue is read again", "after_failures", failed)
			q.problem(nil, time.Now())
		}
		failed = 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			q.handle(ctx, out.Messages, time.Now())
		}()
	}
}

// watchDepth reads the queue's depth now and every DepthEvery.
func (q *Intake) watchDepth(ctx context.Context) {
	for {
		out, err := q.cfg.API.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.cfg.URL),
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages,
				types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			q.log.Warn("read the intake queue's depth", "err", err)
		} else {
			visible, _ := strconv.ParseInt(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)], 10, 64)
			hidden, _ := strconv.ParseInt(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)], 10, 64)
			q.update(func(s *berth.IntakeQueue) { s.Depth, s.InFlight = visible, hidden })
		}
		if !sleep(ctx, q.cfg.DepthEvery) {
			return
		}
	}
}

// outcome is what became of one message.
type outcome int

const (
	msgCreated outcome = iota
	msgDuplicate
	msgRefused
	msgRetry
)

// handle submits a batch's messages at once, keeps them hidden while they
// are, then deletes those done with (one call), records the refused and
// hides them for a while, and leaves the others to come back.
func (q *Intake) handle(ctx context.Context, msgs []types.Message, now time.Time) {
	if len(msgs) == 0 {
		return
	}
	outcomes := make([]outcome, len(msgs))
	reasons := make([]string, len(msgs))
	kinds := make([]string, len(msgs))
	busy := make([]atomic.Bool, len(msgs))
	var wg sync.WaitGroup
	for i, m := range msgs {
		busy[i].Store(true)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer busy[i].Store(false)
			outcomes[i], kinds[i], reasons[i] = q.submitOne(ctx, m)
		}()
	}
	stop := q.keepHidden(ctx, msgs, busy)
	wg.Wait()
	stop()

	var done []types.Message
	var refusals []berth.IntakeRefusal
	count := map[outcome]int64{}
	for i, m := range msgs {
		count[outcomes[i]]++
		switch outcomes[i] {
		case msgCreated, msgDuplicate:
			done = append(done, m)
		case msgRefused:
			refusals = append(refusals, berth.IntakeRefusal{Queue: q.cfg.URL, MessageID: aws.ToString(m.MessageId), ReceivedAt: now,
				Receives: receives(m), Reason: reasons[i], Excerpt: excerpt(aws.ToString(m.Body))})
		}
	}
	q.update(func(s *berth.IntakeQueue) {
		s.Received += int64(len(msgs))
		s.Created += count[msgCreated]
		s.Duplicates += count[msgDuplicate]
		s.Retried += count[msgRetry]
		for i := range msgs {
			if outcomes[i] == msgRefused {
				s.Refused[kinds[i]]++
			}
		}
	})
	q.deleteAll(ctx, done)
	if err := q.st.RefuseIntake(ctx, refusals); err != nil && ctx.Err() == nil {
		q.log.Error("record refused messages", "err", err)
	}
	for i, m := range msgs {
		switch outcomes[i] {
		case msgRefused:
			q.log.Info("refused a message that is not a job; it stays in the queue for its redrive policy",
				"message", aws.ToString(m.MessageId), "receives", receives(m), "reason", reasons[i])
			q.hide(ctx, m, doubling(q.cfg.RefusedAfter, q.cfg.MaxBackoff, receives(m)))
		case msgRetry:
			q.log.Error("store the job of a message; it stays in the queue", "message", aws.ToString(m.MessageId),
				"receives", receives(m), "err", reasons[i])
			q.hide(ctx, m, doubling(q.cfg.RetryAfter, q.cfg.MaxBackoff, receives(m)))
		}
	}
}

// submitOne submits one message's body: its outcome, and for a refusal
// its kind and reason (for a retry, the error).
func (q *Intake) submitOne(ctx context.Context, m types.Message) (outcome, string, string) {
	body := aws.ToString(m.Body)
	if strings.TrimSpace(body) == "" {
		return msgRefused, "empty", "empty body: a message must be a job as POST /v1/jobs takes it (JSON)"
	}
	_, isNew, err := q.submit.SubmitJob(ctx, []byte(body), aws.ToString(m.MessageId))
	var (
		fe       *berth.FieldError
		large    *TooLargeError
		conflict *IdempotencyConflictError
	)
	switch {
	case err == nil && isNew:
		return msgCreated, "", ""
	case err == nil:
		return msgDuplicate, "", ""
	case errors.As(err, &large):
		return msgRefused, "too_large", "too large: " + large.Error()
	case errors.As(err, &conflict):
		return msgRefused, "idempotency_conflict", "idempotency conflict: " + conflict.Error()
	case errors.As(err, &fe):
		msg := fe.Problem
		if fe.Field != "" {
			msg = fe.Field + ": " + fe.Problem
		}
		return msgRefused, "invalid", "not a valid job: " + msg
	default:
		return msgRetry, "", err.Error()
	}
}

// keepHidden hides, every half visibility timeout, the messages still
// busy, for another timeout, until the returned function is called.
func (q *Intake) keepHidden(ctx context.Context, msgs []types.Message, busy []atomic.Bool) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(q.cfg.Visibility / 2)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			for i, m := range msgs {
				if busy[i].Load() {
					q.hide(ctx, m, q.cfg.Visibility)
				}
			}
		}
	}()
	return func() {
		close(quit)
		wg.Wait()
	}
}

// deleteAll deletes the messages done with, ten to a call. A failure is
// logged: the message comes back, and is a duplicate of its job then.
func (q *Intake) deleteAll(ctx context.Context, msgs []types.Message) {
	if len(msgs) == 0 {
		return
	}
	entries := make([]types.DeleteMessageBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
	}
	out, err := q.cfg.API.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(q.cfg.URL), Entries: entries})
	if err != nil {
		if ctx.Err() == nil {
			q.log.Warn("delete messages whose jobs are stored; they will come back", "messages", len(msgs), "err", err)
		}
		return
	}
	for _, f := range out.Failed {
		q.log.Warn("delete a message whose job is stored; it will come back", "entry", aws.ToString(f.Id),
			"code", aws.ToString(f.Code), "err", aws.ToString(f.Message))
	}
}

// hide makes m invisible for d from now.
func (q *Intake) hide(ctx context.Context, m types.Message, d time.Duration) {
	_, err := q.cfg.API.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(q.cfg.URL),
		ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: int32(d / time.Second)})
	if err != nil && ctx.Err() == nil {
		q.log.Warn("change the visibility of a message", "message", aws.ToString(m.MessageId), "err", err)
	}
}

// receives is m's ApproximateReceiveCount, at least 1.
func receives(m types.Message) int {
	n, _ := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	return max(n, 1)
}

// excerptBytes bounds the excerpt of a refused body that is kept.
const excerptBytes = 256

// excerpt is the start of a refused body, with the values of its
// secret_env hidden: a JSON object's are replaced; a body that is not one
// but names secret_env is not kept at all.
func excerpt(body string) string {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &obj); err == nil {
		if _, ok := obj["secret_env"]; ok {
			obj["secret_env"] = json.RawMessage(`"(hidden)"`)
			b, err := json.Marshal(obj)
			if err != nil {
				return ""
			}
			body = string(b)
		}
	} else if strings.Contains(body, "secret_env") {
		return "(not kept: it names secret_env)"
	}
	if len(body) <= excerptBytes {
		return body
	}
	cut := excerptBytes
	for cut > 0 && !utf8.RuneStart(body[cut]) {
		cut--
	}
	return body[:cut] + "…"
}

// doubling is base doubled n-1 times, at most limit.
func doubling(base, limit time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// jitter is d less up to half of it, at random, so that servers that
// failed together do not retry together.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d - rand.N(d/2)
}

// sleep waits d, or until ctx ends: then it returns false.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
