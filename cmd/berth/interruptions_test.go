package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/berth-run/berth/internal/auth"
	"github.com/berth-run/berth/internal/awsfake/sqsfake"
	"github.com/berth-run/berth/internal/provider/ec2/ec2fake"
)

// fakeSQS serves the SQS fake and points the AWS SDK's default chain at
// it, as AWS_ENDPOINT_URL does for every AWS tool; it returns a client of
// that chain.
func fakeSQS(t *testing.T) (*sqsfake.SQS, *sqs.Client) {
	t.Helper()
	f := sqsfake.New()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": srv.URL, "AWS_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret-key",
		"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	ac, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return f, sqs.NewFromConfig(ac)
}

// TestServerInterruptionQueue: berth server --interruption-queue reads the
// queue through the AWS SDK's default chain; a Spot warning for the
// instance of a node whose agent joined, and then said nothing, drains
// the node.
func TestServerInterruptionQueue(t *testing.T) {
	_, client := fakeSQS(t)
	ctx := context.Background()
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("berth-interruptions")})
	if err != nil {
		t.Fatal(err)
	}
	queue := aws.ToString(out.QueueUrl)

	var stderr lockedBuffer
	env := &cliEnv{stdout: io.Discard, stderr: &stderr, getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	data := t.TempDir()
	if err := os.Chmod(data, 0o700); err != nil {
		t.Fatal(err)
	}
	go func() {
		done <- runServer(ctx, env, []string{"--data", data, "--listen", "127.0.0.1:0", "--local-agent=false",
			"--advertise-url", "http://127.0.0.1:1", "--interruption-queue", queue})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("berth server: %v\n%s", err, stderr.String())
		}
	}()
	api := waitListening(t, &stderr, done)
	joinToken, err := os.ReadFile(filepath.Join(data, auth.JoinTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	var joined struct {
		Node struct{ ID string } `json:"node"`
	}
	call(t, "POST", api+"/v1/agent/join", strings.TrimSpace(string(joinToken)),
		`{"status": {"name": "i-0abc", "cpu": 2, "memory_mb": 2048, "healthy": true, "facts": {"instance_id": "i-0abc", "market": "spot"}}}`, &joined)
	body := `{"version": "0", "id": "e1", "detail-type": "EC2 Spot Instance Interruption Warning", "source": "aws.ec2",
		"account": "123456789012", "time": "` + time.Now().UTC().Format(time.RFC3339) + `", "region": "us-east-1",
		"resources": ["arn:aws:ec2:us-east-1a:instance/i-0abc"], "detail": {"instance-id": "i-0abc", "instance-action": "terminate"}}`
	if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queue), MessageBody: aws.String(body)}); err != nil {
		t.Fatal(err)
	}
	admin, err := os.ReadFile(filepath.Join(data, auth.AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var n struct{ State string }
		call(t, "GET", api+"/v1/nodes/"+joined.Node.ID, strings.TrimSpace(string(admin)), "", &n)
		if n.State == "draining" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10s after the warning the node is %s, want draining\n%s", n.State, stderr.String())
		}
	}
}

// TestServerInterruptionQueueRefused: a value that is no queue URL is
// refused as a usage error, and a queue that does not exist stops the
// server at start, naming the flag.
func TestServerInterruptionQueueRefused(t *testing.T) {
	_, client := fakeSQS(t)
	out, err := client.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String("exists")})
	if err != nil {
		t.Fatal(err)
	}
	missing := strings.Replace(aws.ToString(out.QueueUrl), "/exists", "/missing", 1)
	for _, tt := range []struct {
		queue string
		says  []string
	}{
		{"arn:aws:sqs:us-east-1:123456789012:berth-interruptions", []string{"--interruption-queue", "not an SQS queue URL"}},
		{missing, []string{"--interruption-queue", "AWS.SimpleQueueService.NonExistentQueue"}},
	} {
		var stderr lockedBuffer
		env := &cliEnv{stdout: io.Discard, stderr: &stderr, getenv: func(string) string { return "" }}
		err := runServer(context.Background(), env, []string{"--data", t.TempDir(), "--listen", "127.0.0.1:0", "--local-agent=false",
			"--interruption-queue", tt.queue})
		said := stderr.String()
		if err != nil {
			said += err.Error()
		}
		for _, s := range tt.says {
			if err == nil || !strings.Contains(said, s) {
				t.Errorf("berth server --interruption-queue %s = %v, said %q; want a refusal saying %q", tt.queue, err, said, s)
			}
		}
	}
}

// TestServerPoolInterruptionQueue: an ec2 pool's interruption_queue is
// checked at start like the rest of the pool: one that does not exist
// stops the server, naming the field; one that does lets it serve.
func TestServerPoolInterruptionQueue(t *testing.T) {
	_, client := fakeSQS(t)
	ec2 := ec2fake.New(ec2fake.Config{})
	ec2.PutLaunchTemplate(ec2fake.LaunchTemplate{Name: "berth-workers", HTTPTokens: "required", HopLimit: 1})
	srv := httptest.NewServer(ec2)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL_EC2", srv.URL) // the SQS fake stays at AWS_ENDPOINT_URL
	out, err := client.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String("berth-interruptions")})
	if err != nil {
		t.Fatal(err)
	}
	queue := aws.ToString(out.QueueUrl)
	for _, tt := range []struct {
		queue, says string
	}{
		{strings.Replace(queue, "/berth-interruptions", "/missing", 1), "pools[0].interruption_queue: queue "},
		{queue, ""},
	} {
		file := filepath.Join(t.TempDir(), "berth.yaml")
		yaml := "pools:\n  - {name: spot, provider: ec2, market: spot, launch_template: berth-workers, max: 2,\n" +
			"     instance_types: [{name: m5.large, price: 0.096}], interruption_queue: \"" + tt.queue + "\"}\n"
		if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		var stderr lockedBuffer
		env := &cliEnv{stdout: io.Discard, stderr: &stderr, getenv: func(string) string { return "" }}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		data := t.TempDir()
		go func() {
			done <- runServer(ctx, env, []string{"--data", data, "--listen", "127.0.0.1:0", "--local-agent=false", "--config", file})
		}()
		if tt.says != "" {
			err := <-done
			cancel()
			if err == nil || !strings.Contains(err.Error(), tt.says) || !strings.Contains(err.Error(), "NonExistentQueue") {
				t.Errorf("berth server with a missing pool queue = %v, want a refusal naming %q", err, tt.says)
			}
			continue
		}
		waitListening(t, &stderr, done)
		cancel()
		if err := <-done; err != nil {
			t.Errorf("berth server: %v\n%s", err, stderr.String())
		}
	}
}

// waitListening returns the API's URL once the server says it listens.
func waitListening(t *testing.T, stderr *lockedBuffer, done chan error) string {
	t.Helper()
	addr := regexp.MustCompile(`listening on (http://\S+)`)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if m := addr.FindStringSubmatch(stderr.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			done <- nil // for the deferred wait
			t.Fatalf("berth server exited: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("berth server did not listen within 20s:\n%s", stderr.String())
		}
	}
}

// call makes one API call with a bearer token and decodes its 2xx answer
// into out.
func call(t *testing.T, method, url, token, body string, out any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s = %d: %s", method, url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s %s: %v: %s", method, url, err, b)
	}
}
