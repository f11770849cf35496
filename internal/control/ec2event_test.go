package control

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/store"
)

// The events EventBridge puts on an interruption queue, in AWS's shapes.

func spotWarningBody(id, instance string, at time.Time) string {
	return fmt.Sprintf(`{"version": "0", "id": %q, "detail-type": "EC2 Spot Instance Interruption Warning",
		"source": "aws.ec2", "account": "123456789012", "time": %q, "region": "us-east-1",
		"resources": ["arn:aws:ec2:us-east-1a:instance/%s"],
		"detail": {"instance-id": %q, "instance-action": "terminate"}}`, id, at.UTC().Format(time.RFC3339), instance, instance)
}

func rebalanceBody(id, instance string, at time.Time) string {
	return fmt.Sprintf(`{"version": "0", "id": %q, "detail-type": "EC2 Instance Rebalance Recommendation",
		"source": "aws.ec2", "account": "123456789012", "time": %q, "region": "us-east-1",
		"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/%s"],
		"detail": {"instance-id": %q}}`, id, at.UTC().Format(time.RFC3339), instance, instance)
}

func stateChangeBody(id, instance, state string, at time.Time) string {
	return fmt.Sprintf(`{"version": "0", "id": %q, "detail-type": "EC2 Instance State-change Notification",
		"source": "aws.ec2", "account": "123456789012", "time": %q, "region": "us-east-1",
		"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/%s"],
		"detail": {"instance-id": %q, "state": %q}}`, id, at.UTC().Format(time.RFC3339), instance, instance, state)
}

func healthBody(id, code string, at time.Time, instances ...string) string {
	entities := ""
	for i, in := range instances {
		if i > 0 {
			entities += ", "
		}
		entities += fmt.Sprintf(`{"entityValue": %q}`, in)
	}
	return fmt.Sprintf(`{"version": "0", "id": %q, "detail-type": "AWS Health Event", "source": "aws.health",
		"account": "123456789012", "time": %q, "region": "us-east-1", "resources": [],
		"detail": {"eventArn": "arn:aws:health:us-east-1::event/EC2/%s/%s_0001", "service": "EC2",
			"eventTypeCode": %q, "eventTypeCategory": "scheduledChange",
			"startTime": "Mon, 14 Dec 2026 06:00:00 GMT", "endTime": "Mon, 14 Dec 2026 07:00:00 GMT",
			"eventDescription": [{"language": "en_US", "latestDescription": "EC2 has detected degradation of the underlying hardware."}],
			"affectedEntities": [%s]}}`, id, at.UTC().Format(time.RFC3339), code, code, code, entities)
}

func TestParseEC2Event(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		body   string
		want   ec2Event
		err    string // what the error says; "" for none
		notEC2 bool   // the error is errNotEC2
	}{
		{"spot warning", spotWarningBody("e1", "i-0abc", at),
			ec2Event{ID: "e1", Type: spotWarning, Time: at, Instances: []string{"i-0abc"}, Action: "terminate"}, "", false},
		{"rebalance", rebalanceBody("e2", "i-0abc", at),
			ec2Event{ID: "e2", Type: rebalanceAdvice, Time: at, Instances: []string{"i-0abc"}}, "", false},
		{"state change", stateChangeBody("e3", "i-0abc", "shutting-down", at),
			ec2Event{ID: "e3", Type: stateChange, Time: at, Instances: []string{"i-0abc"}, State: "shutting-down"}, "", false},
		{"health", healthBody("e4", "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", at, "i-0abc", "i-0def"),
			ec2Event{ID: "e4", Type: healthEvent, Time: at, Instances: []string{"i-0abc", "i-0def"}, Code: "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED"}, "", false},
		{"not JSON", "hello", ec2Event{}, "not a JSON event", false},
		{"JSON that is no event", `{"hello": 1}`, ec2Event{}, "not an EventBridge event", false},
		{"an event of S3", `{"version": "0", "id": "e5", "detail-type": "Object Created", "source": "aws.s3", "detail": {"bucket": {"name": "b"}}}`,
			ec2Event{}, "source aws.s3", true},
		{"another event of EC2", `{"id": "e6", "detail-type": "EBS Volume Notification", "source": "aws.ec2", "detail": {"event": "createVolume"}}`,
			ec2Event{}, `detail-type "EBS Volume Notification"`, true},
		{"a Health event of another service", `{"id": "e7", "detail-type": "AWS Health Event", "source": "aws.health", "detail": {"service": "RDS", "eventTypeCategory": "scheduledChange"}}`,
			ec2Event{}, "source aws.health", true},
		{"a warning without an instance", `{"id": "e8", "detail-type": "EC2 Spot Instance Interruption Warning", "source": "aws.ec2", "detail": {"instance-action": "terminate"}}`,
			ec2Event{}, "names no instance-id", false},
		{"a bad time", `{"id": "e9", "detail-type": "EC2 Instance Rebalance Recommendation", "source": "aws.ec2", "time": "yesterday", "detail": {"instance-id": "i-0abc"}}`,
			ec2Event{}, `time "yesterday"`, false},
	}
	for _, tt := range tests {
		got, err := parseEC2Event(tt.body)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s: parseEC2Event() = %v", tt.name, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: parseEC2Event() = %v, want an error saying %q", tt.name, err, tt.err)
		case tt.err != "" && errors.Is(err, errNotEC2) != tt.notEC2:
			t.Errorf("%s: errors.Is(%v, errNotEC2) = %v, want %v", tt.name, err, !tt.notEC2, tt.notEC2)
		case tt.err == "":
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s: parseEC2Event() (-want +got):\n%s", tt.name, diff)
			}
		}
	}
}

func TestDecideEC2Event(t *testing.T) {
	node := func(state berth.NodeState, notice nodeapi.NoticeKind) store.NodeInfo {
		return store.NodeInfo{Node: berth.Node{ID: "node_1", State: state}, Notice: notice}
	}
	spot := ec2Event{Type: spotWarning}
	rebal := ec2Event{Type: rebalanceAdvice}
	health := ec2Event{Type: healthEvent, Code: "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED"}
	state := func(s string) ec2Event { return ec2Event{Type: stateChange, State: s} }
	tests := []struct {
		event ec2Event
		node  store.NodeInfo
		want  queueAct
	}{
		{spot, node(berth.NodeReady, ""), actSpot},
		{spot, node(berth.NodeJoining, ""), actSpot},
		{spot, node(berth.NodeDraining, nodeapi.Rebalance), actSpot},
		{spot, node(berth.NodeDraining, ""), actSpot},                          // drained for scale-in: the notice still re-queues its work
		{spot, node(berth.NodeDraining, nodeapi.SpotInterruption), actNothing}, // its agent (or an earlier message) told already
		{spot, node(berth.NodeLost, ""), actNothing},                           // its attempts are closed
		{spot, node(berth.NodeGone, ""), actNothing},
		{rebal, node(berth.NodeReady, ""), actRebalance},
		{rebal, node(berth.NodeDraining, nodeapi.Rebalance), actNothing},
		{rebal, node(berth.NodeDraining, nodeapi.SpotInterruption), actNothing},
		{rebal, node(berth.NodeLost, ""), actNothing},
		{state("shutting-down"), node(berth.NodeReady, ""), actRetire},
		{state("terminated"), node(berth.NodeDraining, nodeapi.SpotInterruption), actRetire},
		{state("stopping"), node(berth.NodeReady, ""), actRetire},
		{state("stopped"), node(berth.NodeLost, ""), actRetire},
		{state("terminated"), node(berth.NodeGone, ""), actNothing},
		{state("running"), node(berth.NodeReady, ""), actNothing},
		{state("pending"), node(berth.NodeJoining, ""), actNothing},
		{health, node(berth.NodeReady, ""), actDrain},
		{health, node(berth.NodeDraining, ""), actNothing},
		{health, node(berth.NodeLost, ""), actNothing},
	}
	for _, tt := range tests {
		if got := decideEC2Event(tt.event, tt.node); got != tt.want {
			t.Errorf("decideEC2Event(%s %s, node %s notice %q) = %d, want %d", tt.event.Type, tt.event.State, tt.node.State, tt.node.Notice, got, tt.want)
		}
	}
}

func TestEventTimes(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	sent := now.Add(-30 * time.Second)
	tests := []struct {
		name            string
		event           ec2Event
		reclaim, ending time.Time
	}{
		{"sent 30s ago", ec2Event{Time: sent}, sent.Add(2 * time.Minute), sent},
		{"no time", ec2Event{}, now.Add(2 * time.Minute), now},
		{"a clock ahead of ours", ec2Event{Time: now.Add(time.Second)}, now.Add(time.Second + 2*time.Minute), now},
	}
	for _, tt := range tests {
		if got := reclaimAt(tt.event, now); !got.Equal(tt.reclaim) {
			t.Errorf("%s: reclaimAt = %s, want %s", tt.name, got, tt.reclaim)
		}
		if got := endedAt(tt.event, now); !got.Equal(tt.ending) {
			t.Errorf("%s: endedAt = %s, want %s", tt.name, got, tt.ending)
		}
	}
}
