package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/store"
)

// The EventBridge events an interruption queue carries, by detail-type.
const (
	spotWarning     = "EC2 Spot Instance Interruption Warning"
	rebalanceAdvice = "EC2 Instance Rebalance Recommendation"
	stateChange     = "EC2 Instance State-change Notification"
	healthEvent     = "AWS Health Event"
)

// ec2Event is what one message of an interruption queue says: an
// EventBridge event of EC2 (source aws.ec2), or an AWS Health event of a
// change scheduled on EC2 instances (source aws.health).
type ec2Event struct {
	ID        string    // the event's id
	Type      string    // its detail-type
	Time      time.Time // when it was sent; zero if it does not say
	Instances []string  // the instances it is about
	Action    string    // a Spot warning's instance-action: terminate, stop or hibernate
	State     string    // a state change's new state
	Code      string    // a Health event's eventTypeCode
}

// errNotEC2 is a message that is an event, but of nothing berth acts on.
var errNotEC2 = errors.New("not an event of EC2 instances berth acts on")

// parseEC2Event reads the EventBridge event in a message's body:
//
//	{"version": "0", "id": "...", "detail-type": "EC2 Spot Instance Interruption Warning",
//	 "source": "aws.ec2", "account": "123456789012", "time": "2026-12-01T10:00:00Z",
//	 "region": "us-east-1", "resources": ["arn:aws:ec2:...:instance/i-0abc"],
//	 "detail": {"instance-id": "i-0abc", "instance-action": "terminate"}}
//
// A body that is not such an event is an error; an event of another
// source or type, errNotEC2.
func parseEC2Event(body string) (ec2Event, error) {
	var env struct {
		ID         string          `json:"id"`
		DetailType string          `json:"detail-type"`
		Source     string          `json:"source"`
		Time       string          `json:"time"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		return ec2Event{}, fmt.Errorf("not a JSON event: %w", err)
	}
	if env.DetailType == "" || env.Source == "" || len(env.Detail) == 0 {
		return ec2Event{}, errors.New("not an EventBridge event: no detail-type, source or detail")
	}
	e := ec2Event{ID: env.ID, Type: env.DetailType}
	if env.Time != "" {
		t, err := time.Parse(time.RFC3339, env.Time)
		if err != nil {
			return e, fmt.Errorf("event %s: time %q: %w", env.ID, env.Time, err)
		}
		e.Time = t
	}
	var d struct {
		InstanceID     string `json:"instance-id"`
		InstanceAction string `json:"instance-action"`
		State          string `json:"state"`
		// AWS Health
		Service          string `json:"service"`
		EventTypeCode    string `json:"eventTypeCode"`
		EventTypeCat     string `json:"eventTypeCategory"`
		AffectedEntities []struct {
			EntityValue string `json:"entityValue"`
		} `json:"affectedEntities"`
	}
	if err := json.Unmarshal(env.Detail, &d); err != nil {
		return e, fmt.Errorf("event %s (%s): detail: %w", env.ID, env.DetailType, err)
	}
	switch {
	case env.Source == "aws.ec2" && (e.Type == spotWarning || e.Type == rebalanceAdvice || e.Type == stateChange):
		if d.InstanceID == "" {
			return e, fmt.Errorf("event %s (%s) names no instance-id", env.ID, e.Type)
		}
		e.Instances, e.Action, e.State = []string{d.InstanceID}, d.InstanceAction, d.State
	case env.Source == "aws.health" && e.Type == healthEvent && d.Service == "EC2" && d.EventTypeCat == "scheduledChange":
		for _, a := range d.AffectedEntities {
			if a.EntityValue != "" {
				e.Instances = append(e.Instances, a.EntityValue)
			}
		}
		e.Code = d.EventTypeCode
	default:
		return e, fmt.Errorf("%w: source %s, detail-type %q", errNotEC2, env.Source, env.DetailType)
	}
	return e, nil
}

// queueAct is what an interruption event makes berth do to a node.
type queueAct int

const (
	actNothing   queueAct = iota
	actSpot               // the Spot interruption notice, as the node's agent reports it
	actRebalance          // the rebalance notice, as the node's agent reports it
	actRetire             // the node's host ended: the node is gone
	actDrain              // a change is scheduled on the host: no new work
)

// decideEC2Event says what event e makes berth do to node n, which runs
// on one of its instances. What is done already is not done again: a
// node that has its Spot notice (from its agent, or an earlier message)
// takes no second one, and a lost node, whose attempts are closed, no
// notice at all.
func decideEC2Event(e ec2Event, n store.NodeInfo) queueAct {
	if n.State == berth.NodeGone {
		return actNothing
	}
	live := n.State != berth.NodeLost
	switch e.Type {
	case spotWarning:
		if live && n.Notice != nodeapi.SpotInterruption {
			return actSpot
		}
	case rebalanceAdvice:
		if live && n.Notice == "" {
			return actRebalance
		}
	case stateChange:
		switch e.State {
		case "shutting-down", "terminated", "stopping", "stopped":
			return actRetire // as the provider's lists have it: of no use to berth
		}
	case healthEvent:
		if n.State == berth.NodeReady || n.State == berth.NodeJoining {
			return actDrain
		}
	}
	return actNothing
}

// reclaimAt is when Spot reclaims the instance of warning e: two minutes
// after the warning, or after now when the event does not say when it was
// sent.
func reclaimAt(e ec2Event, now time.Time) time.Time {
	if e.Time.IsZero() {
		return now.Add(berth.SpotNotice)
	}
	return e.Time.Add(berth.SpotNotice)
}

// endedAt is when the host of state change e ended, at the latest: when
// the event was sent, unless that is after now.
func endedAt(e ec2Event, now time.Time) time.Time {
	if e.Time.IsZero() || e.Time.After(now) {
		return now
	}
	return e.Time
}

// retireReason says why the node on instance id retires after state
// change e: as the fleet says it when its lists show the end.
func retireReason(e ec2Event, id string, n store.NodeInfo) string {
	if n.Notice == nodeapi.SpotInterruption {
		return "spot reclaimed " + id
	}
	return "instance " + id + " " + e.State
}
