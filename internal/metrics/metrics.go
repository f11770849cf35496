// Package metrics publishes berth's state for Prometheus: jobs by state and
// each node's capacity, use and health, read from the store at scrape time,
// and whatever gauges the loops register (the autoscaler's per-pool
// signal among them).
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/store"
)

var (
	jobsDesc     = prometheus.NewDesc("berth_jobs", "Jobs in each state.", []string{"state"}, nil)
	nodeCPUDesc  = prometheus.NewDesc("berth_node_cpu", "vCPUs a node offers.", []string{"node", "pool"}, nil)
	nodeUsedCPU  = prometheus.NewDesc("berth_node_cpu_used", "vCPUs held by a node's active attempts.", []string{"node", "pool"}, nil)
	nodeMemDesc  = prometheus.NewDesc("berth_node_memory_bytes", "Memory a node offers.", []string{"node", "pool"}, nil)
	nodeUsedMem  = prometheus.NewDesc("berth_node_memory_used_bytes", "Memory held by a node's active attempts.", []string{"node", "pool"}, nil)
	nodeReady    = prometheus.NewDesc("berth_node_schedulable", "1 when the node is ready and healthy.", []string{"node", "pool", "state"}, nil)
	scrapeErrors = prometheus.NewDesc("berth_scrape_errors", "1 when the last scrape could not read the store.", nil, nil)
)

// storeCollector reads jobs and nodes from the store on each scrape.
type storeCollector struct {
	store *store.Store
	log   *slog.Logger
}

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{jobsDesc, nodeCPUDesc, nodeUsedCPU, nodeMemDesc, nodeUsedMem, nodeReady, scrapeErrors} {
		ch <- d
	}
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	failed := 0.0
	counts, err := c.store.CountJobs(ctx)
	if err != nil {
		c.log.Warn("metrics: count jobs", "err", err)
		failed = 1
	}
	for _, st := range berth.States {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(counts[st]), string(st))
	}
	nodes, err := c.store.Nodes(ctx)
	if err != nil {
		c.log.Warn("metrics: nodes", "err", err)
		failed = 1
	}
	for _, n := range nodes {
		ch <- prometheus.MustNewConstMetric(nodeCPUDesc, prometheus.GaugeValue, n.CPU, n.ID, n.Pool)
		ch <- prometheus.MustNewConstMetric(nodeUsedCPU, prometheus.GaugeValue, n.UsedCPU, n.ID, n.Pool)
		ch <- prometheus.MustNewConstMetric(nodeMemDesc, prometheus.GaugeValue, float64(n.MemoryMB<<20), n.ID, n.Pool)
		ch <- prometheus.MustNewConstMetric(nodeUsedMem, prometheus.GaugeValue, float64(n.UsedMemoryMB<<20), n.ID, n.Pool)
		ready := 0.0
		if n.Schedulable() {
			ready = 1
		}
		ch <- prometheus.MustNewConstMetric(nodeReady, prometheus.GaugeValue, ready, n.ID, n.Pool, string(n.State))
	}
	ch <- prometheus.MustNewConstMetric(scrapeErrors, prometheus.GaugeValue, failed)
}

// Registry is berth's metrics registry: the store's view, the Go runtime
// and process collectors, and what the loops register.
type Registry struct {
	reg *prometheus.Registry
}

// New returns a registry that reads s at each scrape.
func New(s *store.Store, log *slog.Logger) *Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(storeCollector{store: s, log: log}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Registry{reg: reg}
}

// Register adds collectors the loops own.
func (r *Registry) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := r.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Handler serves the metrics in the Prometheus text format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{})
}
