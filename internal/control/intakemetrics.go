package control

import (
	"github.com/prometheus/client_golang/prometheus"

	berth "github.com/berth-run/berth"
)

var (
	intakeDepth = prometheus.NewDesc("berth_intake_queue_depth",
		"Messages waiting in the intake queue (its ApproximateNumberOfMessages, read every 30s): jobs not yet received.", []string{"queue"}, nil)
	intakeInFlight = prometheus.NewDesc("berth_intake_queue_in_flight",
		"Messages of the intake queue received and not yet deleted (ApproximateNumberOfMessagesNotVisible): being handled, refused, or on their way to the dead-letter queue.", []string{"queue"}, nil)
	intakeUp        = prometheus.NewDesc("berth_intake_up", "1 when the last receive from the intake queue worked, 0 when it failed.", []string{"queue"}, nil)
	intakeReceived  = prometheus.NewDesc("berth_intake_received_total", "Messages received from the intake queue, each receive counted.", []string{"queue"}, nil)
	intakeCreated   = prometheus.NewDesc("berth_intake_created_total", "Jobs created from the intake queue's messages.", []string{"queue"}, nil)
	intakeDuplicate = prometheus.NewDesc("berth_intake_duplicates_total", "Messages of the intake queue whose job existed already (same idempotency key, same body): deleted.", []string{"queue"}, nil)
	intakeRefused   = prometheus.NewDesc("berth_intake_refused_total", "Receives of messages that are not jobs, by reason: left for the queue's redrive policy.", []string{"queue", "reason"}, nil)
	intakeRetried   = prometheus.NewDesc("berth_intake_retried_total", "Messages left in the intake queue because their job could not be stored.", []string{"queue"}, nil)
)

// IntakeCollector publishes the intake queues' depths and counters for
// Prometheus.
func IntakeCollector(intakes []*Intake) prometheus.Collector { return intakeCollector(intakes) }

type intakeCollector []*Intake

func (c intakeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{intakeDepth, intakeInFlight, intakeUp, intakeReceived, intakeCreated, intakeDuplicate, intakeRefused, intakeRetried} {
		ch <- d
	}
}

func (c intakeCollector) Collect(ch chan<- prometheus.Metric) {
	for _, q := range c {
		s := q.Status()
		gauge := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{s.URL}, labels...)...)
		}
		counter := func(d *prometheus.Desc, v int64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{s.URL}, labels...)...)
		}
		if s.Depth >= 0 {
			gauge(intakeDepth, float64(s.Depth))
			gauge(intakeInFlight, float64(s.InFlight))
		}
		gauge(intakeUp, up(s))
		counter(intakeReceived, s.Received)
		counter(intakeCreated, s.Created)
		counter(intakeDuplicate, s.Duplicates)
		counter(intakeRetried, s.Retried)
		for _, reason := range []string{"invalid", "empty", "too_large", "idempotency_conflict"} {
			counter(intakeRefused, s.Refused[reason], reason)
		}
	}
}

func up(s berth.IntakeQueue) float64 {
	if s.Problem != "" {
		return 0
	}
	return 1
}
