package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/awsfake/sqsfake"
	"github.com/berth-run/berth/internal/dockertest"
)

// intakeQueue is an SQS queue of the in-repo fake, the server's
// environment to reach it (AWS_ENDPOINT_URL) and a client to send to it.
type intakeQueue struct {
	url    string
	env    []string
	client *sqs.Client
}

func newIntakeQueue(t *testing.T) *intakeQueue {
	t.Helper()
	srv := httptest.NewServer(sqsfake.New())
	t.Cleanup(srv.Close)
	client := sqs.NewFromConfig(aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDE2E", "x", "")})
	out, err := client.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String("berth-jobs")})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := []string{"AWS_ENDPOINT_URL=" + srv.URL, "AWS_REGION=eu-west-1", "AWS_ACCESS_KEY_ID=AKIDE2E", "AWS_SECRET_ACCESS_KEY=x",
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PROFILE=", "AWS_SESSION_TOKEN="}
	return &intakeQueue{url: aws.ToString(out.QueueUrl), env: env, client: client}
}

func (q *intakeQueue) send(t *testing.T, body string) string {
	t.Helper()
	out, err := q.client.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(q.url), MessageBody: aws.String(body)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.MessageId)
}

// jobsLabelled lists the server's jobs with the label k=v.
func (s *server) jobsLabelled(k, v string) []berth.Job {
	s.t.Helper()
	var page struct {
		Jobs []berth.Job `json:"jobs"`
	}
	s.call("GET", "/v1/jobs?label="+k+"="+v+"&limit=1000", nil, &page)
	return page.Jobs
}

// TestSQSIntake: a job put on the intake queue runs on the local engine;
// a message that is not a job is listed by berth intake with its reason,
// and the next good message is not held up by it.
func TestSQSIntake(t *testing.T) {
	q := newIntakeQueue(t)
	s := &server{t: t, data: privateDir(t), addr: freeAddr(t), args: []string{"--sqs-intake", q.url}, env: q.env,
		image: dockertest.Image(t), scheme: "http", hc: http.DefaultClient}
	s.start()
	t.Cleanup(func() {
		s.stop(syscall.SIGTERM)
		removeContainers(t, s.data)
	})
	bad := q.send(t, `{"image":"`+s.image+`","command":["true"],"memory_mb":"lots"}`)
	q.send(t, `{"image":"`+s.image+`","command":["echo","from the queue"],"labels":{"via":"sqs"},"idempotency_key":"e2e-intake-1"}`)
	var jobs []berth.Job
	deadline := time.Now().Add(15 * time.Second)
	for jobs = s.jobsLabelled("via", "sqs"); len(jobs) == 0; jobs = s.jobsLabelled("via", "sqs") {
		if time.Now().After(deadline) {
			t.Fatalf("no job from the queue within 15s; server output:\n%s", s.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	j := s.waitTerminal(jobs[0].ID, 60*time.Second)
	if j.State != berth.Succeeded || j.IdempotencyKey != "e2e-intake-1" || !strings.Contains(s.logs(j.ID), "from the queue") {
		t.Errorf("job from the queue: %s (%q), key %q, output %q; want succeeded, echoing", j.State, j.Reason, j.IdempotencyKey, s.logs(j.ID))
	}
	var refused struct {
		Refused []berth.IntakeRefusal `json:"refused"`
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		out, errOut, code := s.cli(t, "", "intake", "-o", "json")
		if code != 0 || json.Unmarshal([]byte(out), &refused) != nil {
			t.Fatalf("berth intake -o json: exit %d, %s %s", code, out, errOut)
		}
		if len(refused.Refused) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(refused.Refused) != 1 || refused.Refused[0].MessageID != bad || !strings.Contains(refused.Refused[0].Reason, "memory_mb") {
		t.Errorf("berth intake: %+v, want message %s refused naming memory_mb", refused.Refused, bad)
	}
	if out, _, _ := s.cli(t, "", "intake"); !strings.Contains(out, bad) || !strings.Contains(out, "REASON") {
		t.Errorf("berth intake:\n%s\nwant a table with message %s", out, bad)
	}
	s.metricsContain(fmt.Sprintf(`berth_intake_created_total{queue=%q} 1`, q.url),
		fmt.Sprintf(`berth_intake_refused_total{queue=%q,reason="invalid"} 1`, q.url))
}

// weeklyConfig is a pool that exists only for the weekly burst.
const weeklyConfig = `
pools:
  - name: weekly
    provider: fake
    market: spot
    instance_types:
      - {name: c5.large, cpu: 2, memory_mb: 4096, price: 0.085, spot_price: 0.035}
    min: 0
    max: 3
    boot_time: 1s
    scale_in_delay: 2s
`

// TestSQSIntakeWeekly: a queue of weekly jobs scales a pool from zero and
// back: twelve messages arrive, the pool grows from no host, every job
// runs, and the pool shrinks to no host again.
func TestSQSIntakeWeekly(t *testing.T) {
	q := newIntakeQueue(t)
	s := startConfigServerAt(t, freeAddr(t), weeklyConfig, nil, q.env, "--sqs-intake", q.url)
	if n := len(s.fleetNodes("weekly")); n != 0 {
		t.Fatalf("pool weekly starts with %d nodes, want none", n)
	}
	for i := range 12 {
		q.send(t, fmt.Sprintf(`{"image":"busybox","cpu":1,"memory_mb":1024,"env":{"FAKE_RUN_FOR":"3s"},"labels":{"batch":"weekly"},"idempotency_key":"weekly-%d"}`, i))
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(s.fleetNodes("weekly")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("pool weekly did not grow from zero within 20s; server output:\n%s", s.out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	deadline = time.Now().Add(10 * time.Second)
	var jobs []berth.Job
	for jobs = s.jobsLabelled("batch", "weekly"); len(jobs) < 12; jobs = s.jobsLabelled("batch", "weekly") {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 12 jobs from the queue within 10s", len(jobs))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, j := range jobs {
		if j = s.waitTerminal(j.ID, 90*time.Second); j.State != berth.Succeeded {
			t.Errorf("job %s: %s (%q), want succeeded", j.ID, j.State, j.Reason)
		}
	}
	deadline = time.Now().Add(30 * time.Second)
	for len(s.fleetNodes("weekly")) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("pool weekly still has nodes 30s after its jobs ended: %+v", s.fleetNodes("weekly"))
		}
		time.Sleep(500 * time.Millisecond)
	}
}
