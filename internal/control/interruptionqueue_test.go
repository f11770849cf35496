package control

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/awsfake"
	"github.com/berth-run/berth/internal/awsfake/sqsfake"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/fakecloud"
	"github.com/berth-run/berth/internal/store"
)

// syncBuffer is a log the loops write while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// count returns how many lines of the log contain s.
func (b *syncBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for line := range strings.Lines(b.buf.String()) {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// queueRig is an interruption queue read through the real SDK client from
// the SQS fake, acting on a store's nodes, whose agents are the test's:
// silent unless the test speaks for them.
type queueRig struct {
	path   string // the store's file
	store  *store.Store
	reg    *Registry
	fleet  *Fleet
	sqs    *sqsfake.SQS
	client *sqs.Client
	url    string
	logs   *syncBuffer
	log    *slog.Logger
	// stop stops the loop and waits for it.
	stop func()
}

// newQueueRig returns the rig with its loop not started; the queue's
// visibility timeout is 30s.
func newQueueRig(t *testing.T) *queueRig {
	t.Helper()
	r := &queueRig{path: filepath.Join(t.TempDir(), "berth.db"), sqs: sqsfake.New(), logs: &syncBuffer{}, stop: func() {}}
	r.log = slog.New(slog.NewTextHandler(r.logs, nil))
	r.open(t)
	r.client = sqs.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret-key", ""),
		BaseEndpoint:     aws.String("https://sqs.us-east-1.amazonaws.com"),
		RetryMaxAttempts: 1,
		HTTPClient:       awsfake.InProcess(r.sqs),
	})
	out, err := r.client.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String("berth-interruptions"),
		Attributes: map[string]string{"VisibilityTimeout": "30"}})
	if err != nil {
		t.Fatal(err)
	}
	r.url = aws.ToString(out.QueueUrl)
	t.Cleanup(func() { r.stop() })
	return r
}

// open opens the store, a registry and a fleet over it, as a server
// (re)starting does.
func (r *queueRig) open(t *testing.T) {
	t.Helper()
	st, err := store.Open(context.Background(), r.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r.store = st
	r.reg = NewRegistry(st, NewNotifier(), func() {}, r.log)
	r.fleet = NewFleet(FleetConfig{}, nil, st, r.reg, r.log)
}

// start runs the loop until the test ends or stop.
func (r *queueRig) start(t *testing.T) {
	t.Helper()
	q := NewInterruptionQueue(InterruptionQueueConfig{URL: r.url, API: r.client}, r.reg, r.fleet, r.log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	r.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v", err)
		}
		r.stop = func() {}
	}
}

// send puts body on the queue, as EventBridge does, and lets the loop act.
func (r *queueRig) send(t *testing.T, body string) {
	t.Helper()
	if _, err := r.client.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(r.url), MessageBody: aws.String(body)}); err != nil {
		t.Fatal(err)
	}
	synctest.Wait()
}

// join admits a ready node whose agent runs on EC2 instance id.
func (r *queueRig) join(t *testing.T, id string) string {
	t.Helper()
	st := nodeapi.Status{Name: id, CPU: 4, MemoryMB: 4096, Healthy: true,
		Facts: nodeapi.Facts{InstanceID: id, InstanceType: "m5.large", Zone: "us-east-1a", Market: "spot"}}
	n, _, err := r.reg.Join(context.Background(), "spot", st)
	if err != nil {
		t.Fatal(err)
	}
	st.Ready = true
	if _, err := r.reg.Heartbeat(context.Background(), n.ID, st); err != nil {
		t.Fatal(err)
	}
	return n.ID
}

// run places a new job (two retries) on node and reports it started.
func (r *queueRig) run(t *testing.T, node string) (string, string) {
	t.Helper()
	return (&fleet{store: r.store}).run(t, node)
}

func (r *queueRig) node(t *testing.T, id string) store.NodeInfo {
	t.Helper()
	return (&fleet{store: r.store}).node(t, id)
}

func (r *queueRig) job(t *testing.T, id string) berth.Job {
	t.Helper()
	return (&fleet{store: r.store}).job(t, id)
}

// left returns how many messages are in the queue, received or not.
func (r *queueRig) left() int {
	v, inFlight, delayed := r.sqs.Count("berth-interruptions")
	return v + inFlight + delayed
}

// TestStoryInterruptionQueueSilentAgent: the agent of a Spot host is
// wedged and reports nothing. EC2's interruption warning reaches berth
// through the queue: at once the node drains and its job's attempt is
// stopped, to be re-queued; two minutes later EC2 says the instance is
// terminated, and the node is retired, its job queued again without
// spending a retry. Each message is deleted once acted on.
func TestStoryInterruptionQueueSilentAgent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newQueueRig(t)
		node := r.join(t, "i-0abc")
		job, att := r.run(t, node)
		r.start(t)
		sent := time.Now()
		r.send(t, spotWarningBody("e1", "i-0abc", sent))
		n := r.node(t, node)
		if n.State != berth.NodeDraining || n.Notice != nodeapi.SpotInterruption || time.Since(sent) != 0 {
			t.Errorf("after the warning: node %s, notice %q, after %s; want draining for the Spot notice at once", n.State, n.Notice, time.Since(sent))
		}
		if j := r.job(t, job); j.Reason != "spot reclaimed on i-0abc; stopping its container, then re-queued" {
			t.Errorf("job after the warning: %s %q", j.State, j.Reason)
		}
		as, err := r.store.Assignments(context.Background(), node)
		if err != nil || len(as) != 1 || !as[0].Stop {
			t.Errorf("assignments: %+v, %v; want the attempt, to stop", as, err)
		}
		if r.left() != 0 {
			t.Errorf("%d messages left after the warning was acted on", r.left())
		}
		time.Sleep(2 * time.Minute)
		ended := time.Now().Add(-time.Second)
		r.send(t, stateChangeBody("e2", "i-0abc", "terminated", ended))
		if n := r.node(t, node); n.State != berth.NodeGone {
			t.Errorf("after the instance terminated the node is %s, want gone", n.State)
		}
		j := r.job(t, job)
		if j.State != berth.Queued || j.Requeued != 1 || j.Retried != 0 || len(j.Attempts) != 1 {
			t.Errorf("job: %s, requeued %d, retried %d, %d attempts; want queued once, no retry spent", j.State, j.Requeued, j.Retried, len(j.Attempts))
		}
		if a := j.Attempts[0]; a.ID != att || a.Active() || a.Reason != "spot reclaimed on i-0abc" || !a.FinishedAt.Equal(ended) {
			t.Errorf("attempt: %+v; want ended when the instance did, spot reclaimed", a)
		}
		if r.left() != 0 || r.sqs.CallsTo("DeleteMessage") != 2 {
			t.Errorf("%d messages left, %d deleted; want both deleted", r.left(), r.sqs.CallsTo("DeleteMessage"))
		}
	})
}

// TestInterruptionQueueDuplicates: the same warning twice, in one batch or
// two, and the agent's notice from the instance metadata service before
// or after the queue's: the job is re-queued once, without spending a
// retry, and a warning after that changes nothing.
func TestInterruptionQueueDuplicates(t *testing.T) {
	tests := []struct {
		name  string
		steps []string // "queue", "imds", or "batch" (two copies received together)
	}{
		{"the queue twice", []string{"queue", "queue"}},
		{"twice in one batch", []string{"batch"}},
		{"the agent, then the queue", []string{"imds", "queue"}},
		{"the queue, then the agent", []string{"queue", "imds"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newQueueRig(t)
				node := r.join(t, "i-0abc")
				job, att := r.run(t, node)
				ctx := context.Background()
				at := time.Now().Add(berth.SpotNotice)
				for i, step := range tt.steps {
					switch step {
					case "queue":
						r.start(t)
						r.send(t, spotWarningBody(fmt.Sprint("e", i), "i-0abc", time.Now()))
						r.stop()
					case "batch":
						for range 2 {
							r.send(t, spotWarningBody("e1", "i-0abc", time.Now()))
						}
						r.start(t)
						synctest.Wait()
						r.stop()
					case "imds":
						if _, err := r.reg.Notice(ctx, node, nodeapi.Notice{Kind: nodeapi.SpotInterruption, Action: "terminate", Time: &at}); err != nil {
							t.Fatal(err)
						}
					}
					time.Sleep(5 * time.Second)
				}
				if got := r.logs.count("jobs re-queued"); got != 1 {
					t.Errorf("the node's jobs were re-queued %d times, want once", got)
				}
				if _, err := r.store.FinishAttempt(ctx, att, berth.Outcome{Kind: berth.Stopped, ExitCode: new(143)}, time.Now()); err != nil {
					t.Fatal(err)
				}
				r.start(t)
				r.send(t, spotWarningBody("late", "i-0abc", time.Now()))
				j := r.job(t, job)
				if j.State != berth.Queued || j.Requeued != 1 || j.Retried != 0 || len(j.Attempts) != 1 || j.Reason != "spot reclaimed on i-0abc, re-queued" {
					t.Errorf("job: %s, requeued %d, retried %d, %d attempts, %q; want queued once, no retry spent",
						j.State, j.Requeued, j.Retried, len(j.Attempts), j.Reason)
				}
				if r.left() != 0 {
					t.Errorf("%d messages left", r.left())
				}
			})
		})
	}
}

// TestInterruptionQueueStateChanges: an instance shutting down, stopping
// or ended retires its node when the event was sent, its job re-queued
// without spending a retry; pending and running change nothing.
func TestInterruptionQueueStateChanges(t *testing.T) {
	for _, state := range []string{"shutting-down", "terminated", "stopping", "stopped", "pending", "running"} {
		t.Run(state, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newQueueRig(t)
				node := r.join(t, "i-0abc")
				job, _ := r.run(t, node)
				r.start(t)
				time.Sleep(time.Minute)
				sent := time.Now().Add(-10 * time.Second)
				r.send(t, stateChangeBody("e1", "i-0abc", state, sent))
				n, j := r.node(t, node), r.job(t, job)
				if state == "pending" || state == "running" {
					if n.State != berth.NodeReady || j.State != berth.Running {
						t.Errorf("node %s, job %s; want both as they were", n.State, j.State)
					}
					return
				}
				if n.State != berth.NodeGone || j.State != berth.Queued || j.Retried != 0 || j.Requeued != 1 {
					t.Errorf("node %s, job %s (requeued %d, retried %d); want the node gone, the job queued without a retry spent",
						n.State, j.State, j.Requeued, j.Retried)
				}
				if a := j.Attempts[0]; a.FinishedAt == nil || !a.FinishedAt.Equal(sent) || a.Reason != "instance i-0abc "+state {
					t.Errorf("attempt: finished %v, %q; want at %s, instance i-0abc %s", a.FinishedAt, a.Reason, sent, state)
				}
			})
		})
	}
}

// TestInterruptionQueueRebalanceAndHealth: a rebalance recommendation
// stops placements on its node, whose job runs on; a change AWS Health
// schedules on an instance drains its node.
func TestInterruptionQueueRebalanceAndHealth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newQueueRig(t)
		rebal, retiring, other := r.join(t, "i-0abc"), r.join(t, "i-0def"), r.join(t, "i-0fed")
		job, _ := r.run(t, rebal)
		r.start(t)
		r.send(t, rebalanceBody("e1", "i-0abc", time.Now()))
		if n := r.node(t, rebal); n.State != berth.NodeDraining || n.Notice != nodeapi.Rebalance || n.DrainDeadline != nil {
			t.Errorf("after the recommendation: %s, notice %q, deadline %v; want draining without a deadline", n.State, n.Notice, n.DrainDeadline)
		}
		if j := r.job(t, job); j.State != berth.Running {
			t.Errorf("the job on the rebalancing node is %s, want running on", j.State)
		}
		r.send(t, healthBody("e2", "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", time.Now(), "i-0def", "i-0nobody"))
		if n := r.node(t, retiring); n.State != berth.NodeDraining || n.DrainReason != "AWS scheduled change AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED" {
			t.Errorf("after the scheduled change: %s, %q", n.State, n.DrainReason)
		}
		if n := r.node(t, other); n.State != berth.NodeReady {
			t.Errorf("a node no event named is %s", n.State)
		}
		if r.left() != 0 {
			t.Errorf("%d messages left", r.left())
		}
	})
}

// TestInterruptionQueueDropsWhatItCannotUse: a body that is not JSON, JSON
// that is no event, an event of another service, and an EC2 event about
// an instance no node runs on are each logged once and deleted, and never
// hold up the events behind them; one whose delete failed comes back,
// and is deleted without being logged again.
func TestInterruptionQueueDropsWhatItCannotUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newQueueRig(t)
		node := r.join(t, "i-0abc")
		r.sqs.FailNextOn("DeleteMessage", sqsfake.Internal)
		r.start(t)
		r.send(t, "not json at all")
		for _, body := range []string{
			`{"hello": "world"}`,
			`{"version": "0", "id": "s3", "detail-type": "Object Created", "source": "aws.s3", "detail": {"bucket": {"name": "b"}}}`,
			spotWarningBody("e1", "i-0nobody", time.Now()),
			spotWarningBody("e2", "i-0abc", time.Now()),
		} {
			r.send(t, body)
		}
		if n := r.node(t, node); n.Notice != nodeapi.SpotInterruption {
			t.Errorf("the warning sent after the garbage was not acted on: notice %q", n.Notice)
		}
		if r.left() != 1 {
			t.Errorf("%d messages left, want the one whose delete failed", r.left())
		}
		time.Sleep(31 * time.Second) // its visibility timeout
		synctest.Wait()
		if r.left() != 0 {
			t.Errorf("%d messages left after the failed delete's message came back", r.left())
		}
		for what, want := range map[string]int{
			"not a JSON event":                 1, // received twice, logged once
			"not an EventBridge event":         1,
			"source aws.s3":                    1,
			"an instance no node runs on":      1,
			"will come back":                   1,
			"not an event of EC2 instances":    3,
			"act on an interruption event":     0,
			"dropped an event about an instan": 1,
		} {
			if got := r.logs.count(what); got != want {
				t.Errorf("log lines with %q: %d, want %d", what, got, want)
			}
		}
	})
}

// TestInterruptionQueueStoreFails: while the store fails, a warning is not
// acted on and stays in the queue; it comes back after a few seconds and,
// the store working again (the server restarted), drains its node.
func TestInterruptionQueueStoreFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newQueueRig(t)
		node := r.join(t, "i-0abc")
		job, _ := r.run(t, node)
		r.start(t)
		r.store.Close()
		r.send(t, spotWarningBody("e1", "i-0abc", time.Now()))
		if _, inFlight, _ := r.sqs.Count("berth-interruptions"); inFlight != 1 || r.sqs.CallsTo("DeleteMessage") != 0 {
			t.Fatalf("with the store failing: %d in flight, %d deletes; want the message left in the queue", inFlight, r.sqs.CallsTo("DeleteMessage"))
		}
		if r.logs.count("act on an interruption event; it stays in the queue") != 1 {
			t.Errorf("the failure was not logged:\n%s", r.logs.buf.String())
		}
		r.stop()
		r.open(t)
		r.start(t)
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if n := r.node(t, node); n.State != berth.NodeReady {
			t.Errorf("4s later the node is %s; want the message not back before its 5s", n.State)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if n := r.node(t, node); n.State != berth.NodeDraining || n.Notice != nodeapi.SpotInterruption {
			t.Errorf("once the message came back: node %s, notice %q; want draining", n.State, n.Notice)
		}
		if j := r.job(t, job); !strings.HasPrefix(j.Reason, "spot reclaimed on i-0abc") {
			t.Errorf("job: %q", j.Reason)
		}
		if r.left() != 0 {
			t.Errorf("%d messages left", r.left())
		}
	})
}

// TestInterruptionQueueReceiveFails: receives that fail are tried again
// after 1s, 2s, 4s; then the waiting warning is acted on.
func TestInterruptionQueueReceiveFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newQueueRig(t)
		node := r.join(t, "i-0abc")
		for range 3 {
			r.sqs.FailNextOn("ReceiveMessage", sqsfake.Internal)
		}
		r.send(t, spotWarningBody("e1", "i-0abc", time.Now()))
		r.start(t)
		time.Sleep(6*time.Second + 900*time.Millisecond)
		synctest.Wait()
		if n := r.node(t, node); n.State != berth.NodeReady || r.logs.count("receive from the interruption queue") != 3 {
			t.Errorf("before 7s: node %s, %d failures logged; want ready, 3", n.State, r.logs.count("receive from the interruption queue"))
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if n := r.node(t, node); n.State != berth.NodeDraining {
			t.Errorf("at 7s the node is %s, want draining", n.State)
		}
	})
}

// TestInterruptionQueueFleetLearns: the fleet counts a warning from the
// queue in its type's interruption rate, once however often it comes, and
// avoids the type for a while.
func TestInterruptionQueueFleetLearns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newQueueRig(t)
		ctx := context.Background()
		spec := spotPool().WithDefaults()
		cloud := fakecloud.New(fakecloud.Config{BootTime: time.Minute})
		pool := cloud.Pool(spec)
		r.fleet = NewFleet(FleetConfig{}, []FleetPool{{Spec: spec, Provider: pool}}, r.store, r.reg, r.log)
		in, err := pool.Launch(ctx, provider.LaunchRequest{InstanceType: "m5.large", Market: berth.Spot})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		r.join(t, in.ID)
		if err := r.fleet.Round(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
		r.start(t)
		r.send(t, spotWarningBody("e1", in.ID, time.Now()))
		r.send(t, spotWarningBody("e2", in.ID, time.Now()))
		now := time.Now()
		r.fleet.mu.Lock()
		notices := len(r.fleet.notices[[2]string{"spot", "m5.large"}])
		avoided := r.fleet.avoided("spot", "m5.large", now)
		rate := r.fleet.interruptionRate("spot", "m5.large", now)
		r.fleet.mu.Unlock()
		if notices != 1 || !avoided || !(rate > 0) {
			t.Errorf("the fleet saw %d notices of m5.large, avoided %v, rate %v; want 1, avoided, above 0", notices, avoided, rate)
		}
	})
}
