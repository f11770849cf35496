package sqsfake

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/berth-run/berth/internal/awsfake"
)

// inProcess is the real SDK client reaching f without a network, so that
// its long polls wait in a synctest bubble's time.
func inProcess(f *SQS) *sqs.Client {
	return sqs.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret-key", ""),
		BaseEndpoint:     aws.String("http://sqs.fake"),
		RetryMaxAttempts: 1,
		HTTPClient:       awsfake.InProcess(f),
	})
}

// served is the real SDK client reaching f over a loopback server.
func served(t *testing.T, f *SQS) *sqs.Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return sqs.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret-key", ""),
		BaseEndpoint:     aws.String(srv.URL),
		RetryMaxAttempts: 1,
		HTTPClient:       awsfake.HTTPClient(srv.Client()),
	})
}

func create(t *testing.T, c *sqs.Client, name string, attrs map[string]string) string {
	t.Helper()
	out, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl)
}

func send(t *testing.T, c *sqs.Client, url, body string) string {
	t.Helper()
	out, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.MessageId)
}

func receive(t *testing.T, c *sqs.Client, in *sqs.ReceiveMessageInput) []types.Message {
	t.Helper()
	out, err := c.ReceiveMessage(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return out.Messages
}

// TestRoundTrip: over a real server, a message sent is received with its
// body, checksum (which the SDK checks) and receive count, is in flight
// until deleted, and is gone after.
func TestRoundTrip(t *testing.T) {
	f := New()
	c := served(t, f)
	ctx := context.Background()
	url := create(t, c, "events", nil)
	if got, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("events")}); err != nil || aws.ToString(got.QueueUrl) != url {
		t.Fatalf("GetQueueUrl = %v, %v; want %s", got, err, url)
	}
	id := send(t, c, url, `{"detail-type":"EC2 Spot Instance Interruption Warning"}`)
	ms := receive(t, c, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount, types.MessageSystemAttributeNameSenderId}})
	if len(ms) != 1 || aws.ToString(ms[0].MessageId) != id || !strings.Contains(aws.ToString(ms[0].Body), "Spot") ||
		ms[0].Attributes["ApproximateReceiveCount"] != "1" || ms[0].Attributes["SenderId"] != "AKIDTEST" {
		t.Fatalf("received %+v, want message %s once", ms, id)
	}
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil || attrs.Attributes["ApproximateNumberOfMessages"] != "0" || attrs.Attributes["ApproximateNumberOfMessagesNotVisible"] != "1" {
		t.Fatalf("attributes while in flight: %v, %v", attrs, err)
	}
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: ms[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	if v, in, d := f.Count("events"); v+in+d != 0 {
		t.Errorf("after the delete: %d visible, %d in flight, %d delayed; want none", v, in, d)
	}
	if got := f.CallsTo("ReceiveMessage"); got != 1 {
		t.Errorf("call log: %d ReceiveMessage calls, want 1", got)
	}
}

// TestLongPoll: a receive that waits ends the moment a message is sent,
// else after its wait, in virtual time.
func TestLongPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := New()
		c := inProcess(f)
		url := create(t, c, "q", nil)
		start := time.Now()
		if ms := receive(t, c, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 20}); len(ms) != 0 || time.Since(start) != 20*time.Second {
			t.Errorf("an empty queue answered %d messages after %s; want none after 20s", len(ms), time.Since(start))
		}
		go func() {
			time.Sleep(3 * time.Second)
			send(t, c, url, "hello")
		}()
		start = time.Now()
		if ms := receive(t, c, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 20}); len(ms) != 1 || time.Since(start) != 3*time.Second {
			t.Errorf("a message sent at 3s reached the waiting poll as %d messages after %s; want 1 after 3s", len(ms), time.Since(start))
		}
		// The queue's own wait applies when the call names none.
		url = create(t, c, "waits", map[string]string{"ReceiveMessageWaitTimeSeconds": "5"})
		start = time.Now()
		if receive(t, c, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)}); time.Since(start) != 5*time.Second {
			t.Errorf("a queue with a 5s wait answered after %s", time.Since(start))
		}
	})
}

// TestVisibility: a received message is hidden for the visibility
// timeout, then received again with a new receipt handle and a higher
// count; the old handle no longer deletes it; a poll waiting when it
// becomes visible gets it then.
func TestVisibility(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := New()
		c := inProcess(f)
		ctx := context.Background()
		url := create(t, c, "q", map[string]string{"VisibilityTimeout": "30"})
		send(t, c, url, "m")
		in := &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 20,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}}
		first := receive(t, c, in)
		time.Sleep(15 * time.Second)
		start := time.Now()
		again := receive(t, c, in)
		if len(first) != 1 || len(again) != 1 || time.Since(start) != 15*time.Second {
			t.Fatalf("received %d, then %d after %s; want the message again once its 30s are over", len(first), len(again), time.Since(start))
		}
		if again[0].Attributes["ApproximateReceiveCount"] != "2" || aws.ToString(again[0].ReceiptHandle) == aws.ToString(first[0].ReceiptHandle) {
			t.Errorf("second receive: count %s, same handle %v; want 2 and a new handle", again[0].Attributes["ApproximateReceiveCount"],
				aws.ToString(again[0].ReceiptHandle) == aws.ToString(first[0].ReceiptHandle))
		}
		if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: first[0].ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
		if _, in, _ := f.Count("q"); in != 1 {
			t.Errorf("the first receive's handle deleted the message received since")
		}
		if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url),
			ReceiptHandle: again[0].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
			t.Fatal(err)
		}
		if v, _, _ := f.Count("q"); v != 1 {
			t.Errorf("a visibility timeout changed to 0 left the message hidden")
		}
		_, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url),
			ReceiptHandle: again[0].ReceiptHandle, VisibilityTimeout: 10})
		if code := errorCode(err); code != "AWS.SimpleQueueService.MessageNotInflight" {
			t.Errorf("changing the visibility of a visible message: %v, want MessageNotInflight", err)
		}
	})
}

// TestDelay: a message sent with a delay is received only after it.
func TestDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := New()
		c := inProcess(f)
		url := create(t, c, "q", nil)
		if _, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("later"), DelaySeconds: 7}); err != nil {
			t.Fatal(err)
		}
		if _, _, d := f.Count("q"); d != 1 {
			t.Errorf("a delayed message is not counted as delayed")
		}
		start := time.Now()
		if ms := receive(t, c, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 20}); len(ms) != 1 || time.Since(start) != 7*time.Second {
			t.Errorf("got %d messages after %s, want the delayed one after 7s", len(ms), time.Since(start))
		}
	})
}

// TestClock: with a clock of the test's own, visibility follows it; Wake
// makes a waiting poll look again.
func TestClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := New()
		var mu sync.Mutex
		now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		f.SetClock(func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return now
		})
		c := inProcess(f)
		url := create(t, c, "q", map[string]string{"VisibilityTimeout": "60"})
		send(t, c, url, "m")
		ms := receive(t, c, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url),
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameSentTimestamp}})
		if len(ms) != 1 || ms[0].Attributes["SentTimestamp"] != "1796083200000" {
			t.Fatalf("received %+v, want the message sent at the fake clock's time", ms)
		}
		go func() {
			time.Sleep(time.Second) // the poll below waits
			mu.Lock()
			now = now.Add(time.Minute)
			mu.Unlock()
			f.Wake()
		}()
		start := time.Now()
		if ms := receive(t, c, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 20}); len(ms) != 1 || time.Since(start) != time.Second {
			t.Errorf("after the clock moved past the visibility timeout: %d messages after %s; want 1 at once", len(ms), time.Since(start))
		}
	})
}

// errorCode is the code the SDK reports for err, "" for none.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// TestErrors: SQS's errors, as the SDK reports them: the query code, and
// the typed error where the model has one.
func TestErrors(t *testing.T) {
	f := New()
	c := served(t, f)
	ctx := context.Background()
	url := create(t, c, "q", map[string]string{"VisibilityTimeout": "30"})
	missing := strings.Replace(url, "/q", "/nope", 1)
	send(t, c, url, "m")
	ms := receive(t, c, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)})
	tests := []struct {
		name  string
		call  func() error
		code  string
		typed any // a pointer to the SDK's type of the error, or nil
	}{
		{"receive from a missing queue", func() error {
			_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(missing)})
			return err
		}, "AWS.SimpleQueueService.NonExistentQueue", new(*types.QueueDoesNotExist)},
		{"url of a missing queue", func() error {
			_, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("nope")})
			return err
		}, "AWS.SimpleQueueService.NonExistentQueue", new(*types.QueueDoesNotExist)},
		{"another account's queue", func() error {
			_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(strings.Replace(url, awsfake.Account, "999999999999", 1)), MessageBody: aws.String("x")})
			return err
		}, "AWS.SimpleQueueService.NonExistentQueue", new(*types.QueueDoesNotExist)},
		{"delete with a made-up handle", func() error {
			_, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String("not-a-handle")})
			return err
		}, "ReceiptHandleIsInvalid", new(*types.ReceiptHandleIsInvalid)},
		{"eleven messages asked", func() error {
			_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 11})
			return err
		}, "InvalidParameterValue", nil},
		{"a wait of 21s", func() error {
			_, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 21})
			return err
		}, "InvalidParameterValue", nil},
		{"a body with a NUL", func() error {
			_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("a\x00b")})
			return err
		}, "InvalidMessageContents", new(*types.InvalidMessageContents)},
		{"an empty batch", func() error {
			_, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.DeleteMessageBatchRequestEntry{}})
			return err
		}, "AWS.SimpleQueueService.EmptyBatchRequest", new(*types.EmptyBatchRequest)},
		{"a batch with one id twice", func() error {
			_, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.DeleteMessageBatchRequestEntry{
				{Id: aws.String("a"), ReceiptHandle: ms[0].ReceiptHandle}, {Id: aws.String("a"), ReceiptHandle: ms[0].ReceiptHandle}}})
			return err
		}, "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", new(*types.BatchEntryIdsNotDistinct)},
		{"the same queue with another visibility", func() error {
			_, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("q"), Attributes: map[string]string{"VisibilityTimeout": "60"}})
			return err
		}, "QueueAlreadyExists", new(*types.QueueNameExists)},
		{"an unknown attribute", func() error {
			_, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{"Colour"}})
			return err
		}, "InvalidAttributeName", new(*types.InvalidAttributeName)},
		{"a fault injected for one operation", func() error {
			f.FailNextOn("GetQueueAttributes", APIError{Status: 400, Type: "com.amazonaws.sqs#OverLimit", Code: "OverLimit", Message: "too many"})
			if _, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("q")}); err != nil {
				return err // another operation's call is answered as usual
			}
			_, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url)})
			return err
		}, "OverLimit", new(*types.OverLimit)},
		{"an injected fault", func() error {
			f.FailNext(Internal)
			_, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("q")})
			return err
		}, "InternalError", nil},
	}
	for _, tt := range tests {
		err := tt.call()
		if got := errorCode(err); got != tt.code {
			t.Errorf("%s: %v (code %q), want code %s", tt.name, err, got, tt.code)
		}
		if tt.typed != nil && !errors.As(err, tt.typed) {
			t.Errorf("%s: %T is not the SDK's %T", tt.name, err, tt.typed)
		}
	}
	if ms := receive(t, c, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)}); len(ms) != 0 {
		t.Errorf("the message in flight was received again during its visibility timeout")
	}
	calls := f.Calls()
	if last := calls[len(calls)-2]; last.Operation != "GetQueueUrl" || last.Code != "InternalError" || last.AccessKey != "AKIDTEST" {
		t.Errorf("the injected fault's call is logged as %+v", last)
	}
}

// TestDeleteMessageBatch: each entry succeeds or fails on its own.
func TestDeleteMessageBatch(t *testing.T) {
	f := New()
	c := served(t, f)
	url := create(t, c, "q", nil)
	send(t, c, url, "one")
	send(t, c, url, "two")
	ms := receive(t, c, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
	if len(ms) != 2 {
		t.Fatalf("received %d messages, want 2", len(ms))
	}
	out, err := c.DeleteMessageBatch(context.Background(), &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.DeleteMessageBatchRequestEntry{
		{Id: aws.String("one"), ReceiptHandle: ms[0].ReceiptHandle},
		{Id: aws.String("bad"), ReceiptHandle: aws.String("garbage")},
		{Id: aws.String("two"), ReceiptHandle: ms[1].ReceiptHandle},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Successful) != 2 || len(out.Failed) != 1 || aws.ToString(out.Failed[0].Id) != "bad" ||
		aws.ToString(out.Failed[0].Code) != "ReceiptHandleIsInvalid" || !out.Failed[0].SenderFault {
		t.Errorf("batch: %d deleted, failed %+v; want 2 deleted, bad refused", len(out.Successful), out.Failed)
	}
	if v, in, _ := f.Count("q"); v+in != 0 {
		t.Errorf("%d messages left, want none", v+in)
	}
}
