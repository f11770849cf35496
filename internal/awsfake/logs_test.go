package awsfake_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/berth-run/berth/internal/awsfake"
)

func logsClient(l *awsfake.Logs) *cloudwatchlogs.Client {
	return cloudwatchlogs.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret-key", ""),
		BaseEndpoint:     aws.String("http://logs.fake"),
		RetryMaxAttempts: 1,
		HTTPClient:       awsfake.InProcess(l),
	})
}

func TestLogGroupsAndStreams(t *testing.T) {
	ctx := context.Background()
	l := awsfake.NewLogs()
	c := logsClient(l)
	if _, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/a")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/a")}); apiCode(err) != "ResourceAlreadyExistsException" {
		t.Errorf("CreateLogGroup twice = %v, want ResourceAlreadyExistsException", err)
	}
	if _, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("/b"), LogStreamName: aws.String("s")}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("CreateLogStream in a missing group = %v, want ResourceNotFoundException", err)
	}
	_, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/a"), LogStreamName: aws.String("s")})
	var notFound *logstypes.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("GetLogEvents of a missing stream = %v, want ResourceNotFoundException", err)
	}
	out, err := c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/")})
	if err != nil || len(out.LogGroups) != 1 || aws.ToString(out.LogGroups[0].LogGroupName) != "/a" {
		t.Errorf("DescribeLogGroups = %+v, %v; want /a", out, err)
	}
	if _, err := c.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String("/a")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String("/a")}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("DeleteLogGroup twice = %v, want ResourceNotFoundException", err)
	}
}

// TestGetLogEventsTokens follows a stream with the forward token as a
// reader of a task's logs does.
func TestGetLogEventsTokens(t *testing.T) {
	ctx := context.Background()
	l := awsfake.NewLogs()
	c := logsClient(l)
	l.CreateGroup("/g")
	if _, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("/g"), LogStreamName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	put := func(from, n int) {
		t.Helper()
		var events []logstypes.InputLogEvent
		for i := from; i < from+n; i++ {
			events = append(events, logstypes.InputLogEvent{Timestamp: aws.Int64(int64(1000 + i)), Message: aws.String(fmt.Sprint(i))})
		}
		if _, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("/g"), LogStreamName: aws.String("s"), LogEvents: events}); err != nil {
			t.Fatal(err)
		}
	}
	get := func(token *string, head bool) *cloudwatchlogs.GetLogEventsOutput {
		t.Helper()
		out, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{
			LogGroupName: aws.String("/g"), LogStreamName: aws.String("s"), NextToken: token, StartFromHead: aws.Bool(head), Limit: aws.Int32(3),
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	messages := func(out *cloudwatchlogs.GetLogEventsOutput) string {
		var s string
		for _, e := range out.Events {
			s += aws.ToString(e.Message)
		}
		return s
	}
	empty := get(nil, true)
	if len(empty.Events) != 0 || empty.NextForwardToken == nil || empty.NextBackwardToken == nil {
		t.Fatalf("GetLogEvents of an empty stream = %+v, want tokens and no event", empty)
	}
	if again := get(empty.NextForwardToken, true); aws.ToString(again.NextForwardToken) != aws.ToString(empty.NextForwardToken) {
		t.Errorf("forward token with nothing new = %s, want the same %s", aws.ToString(again.NextForwardToken), aws.ToString(empty.NextForwardToken))
	}
	put(0, 5)
	first := get(empty.NextForwardToken, true)
	second := get(first.NextForwardToken, true)
	third := get(second.NextForwardToken, true)
	if got := messages(first) + "|" + messages(second) + "|" + messages(third); got != "012|34|" {
		t.Errorf("pages = %s, want 012|34|", got)
	}
	if aws.ToString(third.NextForwardToken) != aws.ToString(second.NextForwardToken) {
		t.Errorf("forward token at the end changed")
	}
	put(5, 1)
	if got := messages(get(third.NextForwardToken, true)); got != "5" {
		t.Errorf("after one more event = %s, want 5", got)
	}
	last := get(nil, false)
	if got := messages(last); got != "345" {
		t.Errorf("without a token, from the tail = %s, want 345", got)
	}
	if got := messages(get(last.NextBackwardToken, false)); got != "012" {
		t.Errorf("backward page = %s, want 012", got)
	}
	if got := l.Events("/g", "s"); len(got) != 6 || got[5].Timestamp != 1005 {
		t.Errorf("Events = %+v, want 6", got)
	}
}
