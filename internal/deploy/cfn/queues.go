package cfn

import (
	"encoding/json"

	berth "github.com/berth-run/berth"
)

// interruptionRules are the EventBridge rules that feed the interruption
// queue: logical id → event pattern (docs/pools.md, the interruption
// queue).
var interruptionRules = []struct {
	id      string
	pattern string
}{
	{"SpotInterruptionRule", `{"source":["aws.ec2"],"detail-type":["EC2 Spot Instance Interruption Warning"]}`},
	{"RebalanceRule", `{"source":["aws.ec2"],"detail-type":["EC2 Instance Rebalance Recommendation"]}`},
	{"StateChangeRule", `{"source":["aws.ec2"],"detail-type":["EC2 Instance State-change Notification"],"detail":{"state":["shutting-down","terminated","stopping","stopped"]}}`},
	{"ScheduledChangeRule", `{"source":["aws.health"],"detail-type":["AWS Health Event"],"detail":{"service":["EC2"],"eventTypeCategory":["scheduledChange"]}}`},
}

// queues makes the interruption queue, its rules and policy (with ec2
// pools), and the intake queue and its dead-letter queue (aws.intake).
func (b *builder) queues() {
	if b.has(berth.ProviderEC2) {
		b.add("InterruptionQueue", Resource{Type: "AWS::SQS::Queue", Properties: obj{
			"MessageRetentionPeriod": 300,
			"SqsManagedSseEnabled":   true,
			"Tags":                   b.tags(b.stack + "-interruptions"),
		}})
		var sources list
		for _, r := range interruptionRules {
			var pattern any
			if err := json.Unmarshal([]byte(r.pattern), &pattern); err != nil {
				panic(err) // the patterns are fixed
			}
			b.add(r.id, Resource{Type: "AWS::Events::Rule", Properties: obj{
				"Description":  "berth " + b.stack + ": EC2's events about instances, to the interruption queue",
				"EventPattern": pattern,
				"State":        "ENABLED",
				"Targets":      list{obj{"Id": "berth", "Arn": getAtt("InterruptionQueue", "Arn")}},
			}})
			sources = append(sources, getAtt(r.id, "Arn"))
		}
		b.add("InterruptionQueuePolicy", Resource{Type: "AWS::SQS::QueuePolicy", Properties: obj{
			"Queues": list{ref("InterruptionQueue")},
			"PolicyDocument": obj{"Version": "2012-10-17", "Statement": list{obj{
				"Sid":       "EventBridgeSends",
				"Effect":    "Allow",
				"Principal": obj{"Service": "events.amazonaws.com"},
				"Action":    "sqs:SendMessage",
				"Resource":  getAtt("InterruptionQueue", "Arn"),
				"Condition": obj{"ArnEquals": obj{"aws:SourceArn": sources}},
			}}},
		}})
		b.output("InterruptionQueueUrl", "the interruption queue (berth server --interruption-queue)", ref("InterruptionQueue"))
	}
	if b.f.AWS.Intake {
		b.add("IntakeDeadLetterQueue", Resource{Type: "AWS::SQS::Queue", Properties: obj{
			"MessageRetentionPeriod": 1209600,
			"SqsManagedSseEnabled":   true,
			"Tags":                   b.tags(b.stack + "-intake-dlq"),
		}})
		b.add("IntakeQueue", Resource{Type: "AWS::SQS::Queue", Properties: obj{
			"VisibilityTimeout":             30,
			"ReceiveMessageWaitTimeSeconds": 20,
			"SqsManagedSseEnabled":          true,
			"RedrivePolicy":                 obj{"deadLetterTargetArn": getAtt("IntakeDeadLetterQueue", "Arn"), "maxReceiveCount": 5},
			"Tags":                          b.tags(b.stack + "-intake"),
		}})
		b.output("IntakeQueueUrl", "the queue of jobs (berth server --sqs-intake)", ref("IntakeQueue"))
		b.output("IntakeDeadLetterQueueUrl", "where refused messages end, after 5 receives", ref("IntakeDeadLetterQueue"))
	}
}

// queueARNs are the ARNs of the queues the server reads.
func (b *builder) queueARNs() list {
	var arns list
	if b.has(berth.ProviderEC2) {
		arns = append(arns, getAtt("InterruptionQueue", "Arn"))
	}
	if b.f.AWS.Intake {
		arns = append(arns, getAtt("IntakeQueue", "Arn"))
	}
	return arns
}
