package control

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-run/berth/internal/autoscale"
	"github.com/berth-run/berth/internal/fleetview"
	"github.com/berth-run/berth/internal/provider"
)

// PoolMetrics is one autoscaled pool's figures as of the round that
// computed them: what /metrics (Fleet.Collector) and CloudWatch
// (CloudWatch) publish, both read from Fleet.Metrics, never computed twice.
type PoolMetrics struct {
	// Metric is the autoscaler's signal: Schedulable, the shape it
	// counts, and the jobs waiting for the pool.
	autoscale.Metric
	At time.Time // the round's time
	// Pending and Running count the pool's instances by state, as its
	// provider last listed them.
	Pending, Running int
	RunningJobs      int     // the active attempts on the pool's hosts
	CostUSDHour      float64 // its live instances, each at its type's price now
}

// Instances counts the pool's live instances.
func (m *PoolMetrics) Instances() int { return m.Pending + m.Running }

// poolMetrics is pool vp's figures at at: m, the autoscaler's signal, and
// what its live instances ins and its hosts run and cost. An instance of a
// type without a price now costs nothing here.
func poolMetrics(at time.Time, m autoscale.Metric, vp fleetview.Pool, ins []provider.Instance) PoolMetrics {
	pm := PoolMetrics{Metric: m, At: at}
	price := map[string]float64{}
	for _, t := range vp.Types {
		price[t.Name] = t.Price
	}
	for _, in := range ins {
		switch in.State {
		case provider.InstanceTerminated:
			continue
		case provider.InstancePending:
			pm.Pending++
		default:
			pm.Running++
		}
		if p := price[in.InstanceType]; p > 0 {
			pm.CostUSDHour += p
		}
	}
	for _, h := range vp.Hosts {
		pm.RunningJobs += h.Attempts
	}
	return pm
}

// Metrics returns each autoscaled pool's figures as of the last round
// that computed them, in the order of the configuration.
func (f *Fleet) Metrics() []PoolMetrics {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []PoolMetrics
	for _, p := range f.pools {
		if m, ok := f.metrics[p.Spec.Name]; ok {
			out = append(out, m)
		}
	}
	return out
}

var (
	poolSchedulable = prometheus.NewDesc("berth_pool_schedulable_largest",
		"How many of the largest waiting job shapes the pool's free capacity, hosts on their way included, could still take (the autoscaling signal: below 1 while jobs wait, the pool grows). With nothing waiting it counts jobs of the default shape, and 0 then asks for nothing.",
		[]string{"pool"}, nil)
	poolShapeCPU = prometheus.NewDesc("berth_pool_largest_shape_cpu", "vCPUs of the shape the autoscaling signal counts.", []string{"pool"}, nil)
	poolShapeMem = prometheus.NewDesc("berth_pool_largest_shape_memory_bytes", "Memory of the shape the autoscaling signal counts.", []string{"pool"}, nil)
	poolWaiting  = prometheus.NewDesc("berth_pool_waiting_jobs", "Jobs waiting for capacity that the pool grows for.", []string{"pool"}, nil)
	poolHosts    = prometheus.NewDesc("berth_pool_instances", "The pool's instances by state.", []string{"pool", "state"}, nil)
	poolRunning  = prometheus.NewDesc("berth_pool_running_jobs", "Jobs running on the pool's hosts.", []string{"pool"}, nil)
	poolCost     = prometheus.NewDesc("berth_pool_cost_usd_per_hour", "What the pool's live instances cost an hour, each at its type's price now.", []string{"pool"}, nil)
)

// Collector publishes each autoscaled pool's figures for Prometheus, as
// of the last round (Metrics).
func (f *Fleet) Collector() prometheus.Collector { return fleetCollector{f} }

type fleetCollector struct{ f *Fleet }

func (c fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolSchedulable, poolShapeCPU, poolShapeMem, poolWaiting, poolHosts, poolRunning, poolCost} {
		ch <- d
	}
}

func (c fleetCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, m := range c.f.Metrics() {
		gauge(poolSchedulable, m.Schedulable, m.Pool)
		gauge(poolShapeCPU, m.ShapeCPU, m.Pool)
		gauge(poolShapeMem, float64(m.ShapeMemoryMB<<20), m.Pool)
		gauge(poolWaiting, float64(m.Waiting), m.Pool)
		gauge(poolHosts, float64(m.Pending), m.Pool, string(provider.InstancePending))
		gauge(poolHosts, float64(m.Running), m.Pool, string(provider.InstanceRunning))
		gauge(poolRunning, float64(m.RunningJobs), m.Pool)
		gauge(poolCost, m.CostUSDHour, m.Pool)
	}
}
