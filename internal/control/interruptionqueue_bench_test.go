package control

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/awsfake"
	"github.com/berth-run/berth/internal/awsfake/sqsfake"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/store"
)

// BenchmarkInterruptionQueue measures, in real time, how long an event
// sent to the interruption queue takes to act on its node: from the
// SendMessage call (the real SDK client, over loopback, to the SQS fake)
// to the node's agent being told, while the loop waits in its long poll.
// The node runs one job and its agent is silent.
//
//   - spot-warning: the node is draining and its job's attempt marked to
//     stop and be re-queued (what the agent is told to do);
//   - terminated: the node is gone and its job back in the queue, no
//     retry spent.
//
// Besides ns/op (the mean), it reports the p50 and p99 in µs.
func BenchmarkInterruptionQueue(b *testing.B) {
	for _, kind := range []string{"spot-warning", "terminated"} {
		b.Run(kind, func(b *testing.B) {
			benchmarkQueue(b, kind)
		})
	}
}

func benchmarkQueue(b *testing.B, kind string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := httptest.NewServer(sqsfake.New())
	defer srv.Close()
	client := sqs.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret-key", ""),
		BaseEndpoint: aws.String(srv.URL),
		HTTPClient:   awsfake.HTTPClient(srv.Client()),
	})
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("berth-interruptions")})
	if err != nil {
		b.Fatal(err)
	}
	url := aws.ToString(out.QueueUrl)
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "berth.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	notifier := NewNotifier()
	reg := NewRegistry(st, notifier, func() {}, log)
	q := NewInterruptionQueue(InterruptionQueueConfig{URL: url, API: client}, reg, NewFleet(FleetConfig{}, nil, st, reg, log), log)
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	r := &queueRig{store: st, reg: reg}
	var took []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		instance := fmt.Sprintf("i-%017d", i)
		node, job := benchNode(b, r, instance)
		body := spotWarningBody(fmt.Sprint("e", i), instance, time.Now())
		if kind == "terminated" {
			body = stateChangeBody(fmt.Sprint("e", i), instance, "terminated", time.Now())
		}
		since := notifier.Wait(ctx, node, 0, 0) // its version now
		b.StartTimer()
		start := time.Now()
		if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)}); err != nil {
			b.Fatal(err)
		}
		if v := notifier.Wait(ctx, node, since, 10*time.Second); v == since {
			b.Fatalf("the node was not told within 10s of the %s", kind)
		}
		took = append(took, time.Since(start))
		b.StopTimer()
		n, err := st.NodeInfo(ctx, node)
		if err != nil {
			b.Fatal(err)
		}
		j, err := st.Job(ctx, job)
		if err != nil {
			b.Fatal(err)
		}
		switch {
		case kind == "spot-warning" && (n.State != berth.NodeDraining || !strings.HasPrefix(j.Reason, "spot reclaimed on")):
			b.Fatalf("after the warning: node %s, job %q", n.State, j.Reason)
		case kind == "terminated" && (n.State != berth.NodeGone || j.State != berth.Queued || j.Retried != 0):
			b.Fatalf("after the end: node %s, job %s (retried %d)", n.State, j.State, j.Retried)
		}
		if kind == "spot-warning" {
			if err := reg.Retire(ctx, node, "done"); err != nil { // keep the live nodes few
				b.Fatal(err)
			}
		}
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
}

// benchNode joins a node on instance and runs a job there.
func benchNode(b *testing.B, r *queueRig, instance string) (string, string) {
	ctx := context.Background()
	st := nodeapi.Status{Name: instance, CPU: 4, MemoryMB: 4096, Healthy: true, Facts: nodeapi.Facts{InstanceID: instance, Market: "spot"}}
	n, _, err := r.reg.Join(ctx, "spot", st)
	if err != nil {
		b.Fatal(err)
	}
	st.Ready = true
	if _, err := r.reg.Heartbeat(ctx, n.ID, st); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	j, _, err := r.store.CreateJob(ctx, berth.JobSpec{Image: "busybox", Retries: berth.RetryPolicy{Attempts: 2}}.WithDefaults(), now)
	if err != nil {
		b.Fatal(err)
	}
	ps, err := r.store.Place(ctx, []store.Placement{{JobID: j.ID, JobVersion: j.Version, NodeID: n.ID}}, now)
	if err != nil || len(ps) != 1 {
		b.Fatalf("place: %v, %v", ps, err)
	}
	if _, err := r.store.AttemptStarted(ctx, ps[0].AttemptID, "c1", now); err != nil {
		b.Fatal(err)
	}
	return n.ID, j.ID
}
