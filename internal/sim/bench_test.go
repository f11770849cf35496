package sim

import (
	"context"
	"testing"
)

// weekScenario is a week of a 500-host fleet: about 100,000 jobs, a steady
// stream and four bursts a day, on a Spot pool of up to 450 hosts with an
// on-demand pool of up to 50 behind it.
const weekScenario = `
name: week
horizon: 168h
spot:
  generator: {mean_up: 6h, mean_down: 20m}
pools:
  - name: spot
    provider: fake
    market: spot
    instance_types: &types
      - {name: c6a.xlarge,  cpu: 4,  memory_mb: 8192,  price: 0.153}
      - {name: c6i.2xlarge, cpu: 8,  memory_mb: 16384, price: 0.34}
      - {name: m6i.2xlarge, cpu: 8,  memory_mb: 32768, price: 0.384}
      - {name: c6i.4xlarge, cpu: 16, memory_mb: 32768, price: 0.68}
    max: 450
    scale_in_delay: 5m
  - name: on-demand
    provider: fake
    market: on-demand
    instance_types: *types
    max: 50
    scale_in_delay: 5m
jobs:
  - name: steady
    rate: 450
    shapes: [{cpu: 1, memory_mb: 2048, weight: 3}, {cpu: 2, memory_mb: 4096, weight: 2}, {cpu: 4, memory_mb: 8192}]
    run: {min: 5m, max: 60m}
  - name: bursts
    every: 24h
    bursts: 4
    count: 700
    count_max: 1000
    shapes: [{cpu: 1, memory_mb: 2048, weight: 2}, {cpu: 2, memory_mb: 8192}, {cpu: 4, memory_mb: 8192}]
    run: {min: 5m, max: 25m}
`

// BenchmarkWeek100kJobs500Hosts simulates the week with berth's policy
// alone (no baselines): the figure is the time one run takes.
func BenchmarkWeek100kJobs500Hosts(b *testing.B) {
	sc, err := ParseScenario([]byte(weekScenario), "")
	if err != nil {
		b.Fatal(err)
	}
	var r Result
	for b.Loop() {
		rep, err := Run(context.Background(), sc, Options{Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		r = rep.Berth
	}
	b.ReportMetric(float64(r.JobsTotal), "jobs")
	b.ReportMetric(float64(r.MaxHosts), "max-hosts")
	b.ReportMetric(float64(r.JobsLost), "lost")
}
