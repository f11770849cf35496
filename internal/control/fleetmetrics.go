package control

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-run/berth/internal/provider"
)

var (
	poolSchedulable = prometheus.NewDesc("berth_pool_schedulable_largest",
		"How many of the largest waiting job shapes the pool's free capacity, hosts on their way included, could still take (the autoscaling signal: below 1 while jobs wait, the pool grows). With nothing waiting it counts jobs of the default shape, and 0 then asks for nothing.",
		[]string{"pool"}, nil)
	poolShapeCPU = prometheus.NewDesc("berth_pool_largest_shape_cpu", "vCPUs of the shape the autoscaling signal counts.", []string{"pool"}, nil)
	poolShapeMem = prometheus.NewDesc("berth_pool_largest_shape_memory_bytes", "Memory of the shape the autoscaling signal counts.", []string{"pool"}, nil)
	poolWaiting  = prometheus.NewDesc("berth_pool_waiting_jobs", "Jobs waiting for capacity that the pool grows for.", []string{"pool"}, nil)
	poolHosts    = prometheus.NewDesc("berth_pool_instances", "The pool's instances by state.", []string{"pool", "state"}, nil)
)

// Collector publishes each autoscaled pool's signal and instance counts
// for Prometheus, as of the last round.
func (f *Fleet) Collector() prometheus.Collector { return fleetCollector{f} }

type fleetCollector struct{ f *Fleet }

func (c fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolSchedulable, poolShapeCPU, poolShapeMem, poolWaiting, poolHosts} {
		ch <- d
	}
}

func (c fleetCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.f.Pools(time.Now()) {
		if p.Metric != nil {
			m := p.Metric
			ch <- prometheus.MustNewConstMetric(poolSchedulable, prometheus.GaugeValue, m.Schedulable, m.Pool)
			ch <- prometheus.MustNewConstMetric(poolShapeCPU, prometheus.GaugeValue, m.ShapeCPU, m.Pool)
			ch <- prometheus.MustNewConstMetric(poolShapeMem, prometheus.GaugeValue, float64(m.ShapeMemoryMB<<20), m.Pool)
			ch <- prometheus.MustNewConstMetric(poolWaiting, prometheus.GaugeValue, float64(m.Waiting), m.Pool)
		}
		if p.Spec.IsServerless() || c.f.pool(p.Spec.Name).Provider == nil {
			continue
		}
		counts := map[provider.InstanceState]int{provider.InstancePending: 0, provider.InstanceRunning: 0}
		for _, in := range p.Instances {
			if in.State != provider.InstanceTerminated {
				counts[in.State]++
			}
		}
		for st, n := range counts {
			ch <- prometheus.MustNewConstMetric(poolHosts, prometheus.GaugeValue, float64(n), p.Spec.Name, string(st))
		}
	}
}
