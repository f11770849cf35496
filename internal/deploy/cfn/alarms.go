package cfn

import (
	berth "github.com/berth-run/berth"
)

// MetricSchedulable is the metric the server publishes per pool: how many
// of the largest waiting job shapes the pool's free capacity could take.
const MetricSchedulable = "SchedulableContainers"

// alarms makes two alarms per node pool on SchedulableContainers, for
// operators: low, below 1 for 15 minutes (work waits that the pool
// cannot take: at its max, or failing to launch); high, above one host's
// worth for an hour (capacity the pool does not give back). One host's
// worth is counted in one-vCPU containers on the pool's largest type.
// They notify no one until the operator adds an action.
func (b *builder) alarms() {
	for _, p := range b.f.Pools {
		if p.Provider != berth.ProviderEC2 {
			continue
		}
		dims := list{obj{"Name": "Cluster", "Value": b.stack}, obj{"Name": "Pool", "Value": p.Name}}
		b.add(poolID(p, "LowAlarm"), Resource{Type: "AWS::CloudWatch::Alarm", Properties: obj{
			"AlarmDescription":   "berth " + b.stack + " pool " + p.Name + ": waiting work the pool cannot take (SchedulableContainers below 1 for 15 minutes)",
			"Namespace":          b.f.AWS.Namespace,
			"MetricName":         MetricSchedulable,
			"Dimensions":         dims,
			"Statistic":          "Maximum",
			"Period":             300,
			"EvaluationPeriods":  3,
			"Threshold":          1,
			"ComparisonOperator": "LessThanThreshold",
			"TreatMissingData":   "notBreaching",
		}})
		b.add(poolID(p, "HighAlarm"), Resource{Type: "AWS::CloudWatch::Alarm", Properties: obj{
			"AlarmDescription":   "berth " + b.stack + " pool " + p.Name + ": more than a host's worth of room for an hour (SchedulableContainers above one host's worth)",
			"Namespace":          b.f.AWS.Namespace,
			"MetricName":         MetricSchedulable,
			"Dimensions":         dims,
			"Statistic":          "Minimum",
			"Period":             300,
			"EvaluationPeriods":  12,
			"Threshold":          hostWorth(p),
			"ComparisonOperator": "GreaterThanThreshold",
			"TreatMissingData":   "notBreaching",
		}})
	}
}

// hostWorth is the number of one-vCPU containers the pool's largest type
// holds, at least 1.
func hostWorth(p berth.PoolSpec) float64 {
	worth := 1.0
	for _, t := range p.InstanceTypes {
		worth = max(worth, t.CPU)
	}
	return worth
}
