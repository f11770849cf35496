package control

import (
	"context"
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
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/npmtest"
	"github.com/berth-run/berth/internal/store"
)

// TestInterruptionQueueBackends runs the interruption queue in real time,
// over a network, against every SQS at hand: the in-repo fake always, and
// fauxqs (an SQS emulator from the npm registry) when BERTH_FAUXQS names
// its installed package:
//
//	npm install --prefix /tmp/fauxqs fauxqs@1.9.2
//	BERTH_FAUXQS=/tmp/fauxqs/node_modules/fauxqs go test ./internal/control/ -run Backends
func TestInterruptionQueueBackends(t *testing.T) {
	backends := []struct {
		name  string
		start func(t *testing.T) string // returns the endpoint
	}{
		{"sqsfake", func(t *testing.T) string {
			srv := httptest.NewServer(sqsfake.New())
			t.Cleanup(srv.Close)
			return srv.URL
		}},
		{"fauxqs", startFauxqs},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			queueConformance(t, b.start(t))
		})
	}
}

// queueConformance: with the loop waiting in a long poll, garbage, an
// event about an unknown instance and a Spot warning arrive; the warning
// drains its node at once, whatever came before it, and every message is
// deleted; a state change then retires the node.
func queueConformance(t *testing.T, endpoint string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := sqs.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret-key", ""),
		BaseEndpoint:     aws.String(endpoint),
		RetryMaxAttempts: 1,
		HTTPClient:       awsfake.HTTPClient(http.DefaultClient),
	})
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("berth-interruptions")})
	if err != nil {
		t.Fatal(err)
	}
	url := aws.ToString(out.QueueUrl)
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	reg := NewRegistry(st, NewNotifier(), func() {}, log)
	r := &queueRig{store: st, reg: reg}
	node := r.join(t, "i-0abc")
	job, _ := r.run(t, node)

	loopCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- NewInterruptionQueue(InterruptionQueueConfig{URL: url, API: client}, reg, NewFleet(FleetConfig{}, nil, st, reg, log), log).Run(loopCtx)
	}()
	time.Sleep(200 * time.Millisecond) // the loop waits in its long poll
	sent := time.Now()
	for _, body := range []string{"garbage", spotWarningBody("e0", "i-0nobody", sent), spotWarningBody("e1", "i-0abc", sent)} {
		if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the node drains and its job is to be re-queued", func() bool {
		return r.node(t, node).Notice == nodeapi.SpotInterruption && strings.HasPrefix(r.job(t, job).Reason, "spot reclaimed on i-0abc")
	})
	if took := time.Since(sent); took > 5*time.Second {
		t.Errorf("the node drained %s after the warning was sent; the long poll should have ended at once", took)
	}
	if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url),
		MessageBody: aws.String(stateChangeBody("e2", "i-0abc", "terminated", time.Now()))}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the node is retired", func() bool { return r.node(t, node).State == berth.NodeGone })
	eventually(t, "the queue is empty", func() bool {
		a, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
			AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
		return err == nil && a.Attributes["ApproximateNumberOfMessages"] == "0" && a.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
	})
	stopped := time.Now()
	stop()
	if err := <-done; err != nil || time.Since(stopped) > 2*time.Second {
		t.Errorf("Run() = %v after %s; want nil at once when its context ends", err, time.Since(stopped))
	}
	for what, want := range map[string]int{"not a JSON event": 1, "an instance no node runs on": 1, "act on an interruption event": 0} {
		if got := logs.count(what); got != want {
			t.Errorf("log lines with %q: %d, want %d", what, got, want)
		}
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

// startFauxqs starts fauxqs on a loopback port and returns its endpoint,
// or skips the test when BERTH_FAUXQS does not name it; with
// BERTH_REQUIRE_FAUXQS=1 (as in CI) it fails the test instead.
func startFauxqs(t *testing.T) string {
	t.Helper()
	fauxqs := npmtest.Package{Name: "fauxqs", Env: "BERTH_FAUXQS", Require: "BERTH_REQUIRE_FAUXQS",
		Install: "npm install --prefix /tmp/fauxqs fauxqs@1.9.2", File: "dist/app.js"}
	app := fauxqs.Path(t)
	// Its own command listens on every interface; this listens on loopback only.
	script := `const { buildApp } = await import(process.argv[1]);
const app = buildApp({ logger: false });
console.log(await app.listen({ port: 0, host: "127.0.0.1" }));`
	return fauxqs.Serve(t, "--input-type=module", "-e", script, "file://"+app)
}
