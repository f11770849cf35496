package control_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/awsfake"
	"github.com/berth-run/berth/internal/awsfake/sqsfake"
	"github.com/berth-run/berth/internal/control"
	"github.com/berth-run/berth/internal/httpapi"
	"github.com/berth-run/berth/internal/store"
)

// TestIntakeBackends runs the SQS intake in real time, over a network,
// against every SQS at hand: the in-repo fake always, and fauxqs when
// BERTH_FAUXQS names its installed package (see
// TestInterruptionQueueBackends).
func TestIntakeBackends(t *testing.T) {
	backends := []struct {
		name  string
		start func(t *testing.T) string
	}{
		{"sqsfake", func(t *testing.T) string {
			srv := httptest.NewServer(sqsfake.New())
			t.Cleanup(srv.Close)
			return srv.URL
		}},
		{"fauxqs", control.StartFauxqs},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { intakeConformance(t, b.start(t)) })
	}
}

// sqsClient is the real SDK client pointed at endpoint.
func sqsClient(endpoint string) *sqs.Client {
	return sqs.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret-key", ""),
		BaseEndpoint:     aws.String(endpoint),
		RetryMaxAttempts: 1,
		HTTPClient:       awsfake.HTTPClient(http.DefaultClient),
	})
}

// intakeConformance: with the loop waiting in its long poll, bad messages
// come first and good ones after; the good ones become jobs at once, the
// same job twice is one job, and every bad one is recorded with its reason
// and stays in the queue (for its redrive policy) without a job.
func intakeConformance(t *testing.T, endpoint string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := sqsClient(endpoint)
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("berth-jobs")})
	if err != nil {
		t.Fatal(err)
	}
	url := aws.ToString(out.QueueUrl)
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	api := httpapi.New(httpapi.Deps{Store: st, Log: log})
	in := control.NewIntake(control.IntakeConfig{URL: url, API: client, RefusedAfter: time.Hour}, st, api, log)
	loopCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- in.Run(loopCtx) }()
	time.Sleep(200 * time.Millisecond) // the loop waits in its long poll

	send := func(body string) string {
		t.Helper()
		out, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.MessageId)
	}
	jobs := func() []berth.Job {
		list, _, err := st.ListJobs(ctx, store.JobFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return list
	}
	keyed := `{"image":"busybox","command":["true"],"idempotency_key":"weekly-1"}`
	want := map[string]string{ // message id → the start of its reason
		send("garbage"): "not a valid job: ",
		send(" \n "):    "empty body",
		send(`{"image":"busybox","cpu":-1,"secret_env":{"TOKEN":"s3cr3t"}}`): "not a valid job: cpu",
		send(`{"image":"busybox","nonsense":true}`):                          "not a valid job: nonsense",
	}
	sent := time.Now()
	plain := send(`{"image":"busybox","command":["echo","hi"]}`)
	send(keyed)
	eventually(t, "the two good messages are jobs", func() bool { return len(jobs()) == 2 })
	if took := time.Since(sent); took > 5*time.Second {
		t.Errorf("the jobs were stored %s after the messages were sent; the long poll should have ended at once", took)
	}
	send(keyed) // the same job again: deleted, no new job
	want[send(`{"image":"busybox","command":["false"],"idempotency_key":"weekly-1"}`)] = "idempotency conflict: idempotency key \"weekly-1\" was used by job"

	var refusals []berth.IntakeRefusal
	eventually(t, "every bad message is refused", func() bool {
		refusals, err = st.IntakeRefusals(ctx, url, 100)
		return err == nil && len(refusals) == len(want) && in.Status().Duplicates == 1
	})
	for _, r := range refusals {
		if !strings.HasPrefix(r.Reason, want[r.MessageID]) || r.Receives != 1 || r.Queue != url {
			t.Errorf("refusal of %s: %+v, want reason %q...", r.MessageID, r, want[r.MessageID])
		}
		if strings.Contains(r.Excerpt, "s3cr3t") {
			t.Errorf("refusal of %s keeps a secret: %q", r.MessageID, r.Excerpt)
		}
	}
	got := jobs()
	byKey := map[string]bool{}
	for _, j := range got {
		byKey[j.IdempotencyKey] = true
	}
	if len(got) != 2 || !byKey["weekly-1"] || !byKey[plain] {
		t.Errorf("jobs keyed %v, want weekly-1 and the plain message's id %s", byKey, plain)
	}
	eventually(t, "the good messages are deleted, the bad ones stay hidden", func() bool {
		a, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
			AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
		return err == nil && a.Attributes["ApproximateNumberOfMessages"] == "0" && a.Attributes["ApproximateNumberOfMessagesNotVisible"] == "5"
	})
	s := in.Status()
	if s.Received != 8 || s.Created != 2 || s.Duplicates != 1 || s.Refused["invalid"] != 3 || s.Refused["empty"] != 1 ||
		s.Refused["idempotency_conflict"] != 1 || s.Problem != "" {
		t.Errorf("Status() = %+v", s)
	}
	stopped := time.Now()
	stop()
	if err := <-done; err != nil || time.Since(stopped) > 2*time.Second {
		t.Errorf("Run() = %v after %s; want nil at once when its context ends", err, time.Since(stopped))
	}
}

// TestIntakeQueueMissing: a queue that does not exist is a problem the
// status shows, retried with a backoff, and never stops the loop.
func TestIntakeQueueMissing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	fake := sqsfake.New()
	srv := httptest.NewServer(fake)
	defer srv.Close()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	url := srv.URL + "/123456789012/nowhere"
	in := control.NewIntake(control.IntakeConfig{URL: url, API: sqsClient(srv.URL)}, st, httpapi.New(httpapi.Deps{Store: st, Log: log}), log)
	loopCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- in.Run(loopCtx) }()
	eventually(t, "the missing queue is a problem", func() bool {
		return strings.Contains(in.Status().Problem, "NonExistentQueue") || strings.Contains(in.Status().Problem, "QueueDoesNotExist")
	})
	time.Sleep(1500 * time.Millisecond)
	if n := fake.CallsTo("ReceiveMessage"); n > 3 {
		t.Errorf("%d receives in 1.5s from a missing queue: want a backoff", n)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
}

// eventually waits up to 10s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within 10s", what)
}
