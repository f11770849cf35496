package control_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/berth-run/berth/internal/awsfake/sqsfake"
	"github.com/berth-run/berth/internal/control"
	"github.com/berth-run/berth/internal/httpapi"
	"github.com/berth-run/berth/internal/store"
)

// BenchmarkIntake: messages of the in-repo SQS fake (over loopback HTTP,
// the real SDK client) turned into durably stored jobs through the API's
// own submit function.
//
//   - backlog: b.N messages wait in the queue; the figure is stored jobs
//     a second from the intake's start to the last job.
//   - trickle: b.N messages sent one at a time, each after the last one's
//     job is stored; the figures are message sent → job queued, p50 and
//     p99.
func BenchmarkIntake(b *testing.B) {
	b.Run("backlog", func(b *testing.B) {
		r := newIntakeRig(b)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for i := range b.N {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				r.send(b, i)
			}()
		}
		wg.Wait()
		b.ResetTimer()
		start := time.Now()
		r.start(b)
		r.waitJobs(b, b.N)
		took := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(b.N)/took.Seconds(), "jobs/s")
	})
	b.Run("trickle", func(b *testing.B) {
		r := newIntakeRig(b)
		r.start(b)
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := range b.N {
			sent := time.Now()
			r.send(b, i)
			r.waitJobs(b, i+1)
			lat = append(lat, time.Since(sent))
		}
		b.StopTimer()
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	})
}

type intakeRig struct {
	ctx    context.Context
	cancel context.CancelFunc
	client *sqs.Client
	url    string
	st     *store.Store
	in     *control.Intake
}

func newIntakeRig(b *testing.B) *intakeRig {
	ctx, cancel := context.WithCancel(context.Background())
	srv := httptest.NewServer(sqsfake.New())
	b.Cleanup(srv.Close)
	client := sqsClient(srv.URL)
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("berth-jobs")})
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "berth.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	url := aws.ToString(out.QueueUrl)
	in := control.NewIntake(control.IntakeConfig{URL: url, API: client}, st, httpapi.New(httpapi.Deps{Store: st, Log: log}), log)
	b.Cleanup(cancel) // first: the long poll ends before the fake closes
	return &intakeRig{ctx: ctx, cancel: cancel, client: client, url: url, st: st, in: in}
}

// start runs the intake until the benchmark ends.
func (r *intakeRig) start(b *testing.B) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.in.Run(r.ctx) //nolint:errcheck // nil once ctx ends
	}()
	b.Cleanup(func() {
		r.cancel()
		<-done
	})
}

func (r *intakeRig) send(b *testing.B, i int) {
	body := fmt.Sprintf(`{"image":"busybox","command":["echo","%d"],"labels":{"batch":"weekly"}}`, i)
	if _, err := r.client.SendMessage(r.ctx, &sqs.SendMessageInput{QueueUrl: aws.String(r.url), MessageBody: aws.String(body)}); err != nil {
		b.Fatal(err)
	}
}

// waitJobs waits until the intake has created n jobs.
func (r *intakeRig) waitJobs(b *testing.B, n int) {
	for deadline := time.Now().Add(5 * time.Minute); r.in.Status().Created < int64(n); time.Sleep(200 * time.Microsecond) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d jobs stored after 5m", r.in.Status().Created, n)
		}
	}
}
