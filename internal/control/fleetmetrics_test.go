package control

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-run/berth/internal/autoscale"
	"github.com/berth-run/berth/internal/fleetview"
	"github.com/berth-run/berth/internal/provider"
)

func TestPoolMetrics(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	m := autoscale.Metric{Pool: "spot", Schedulable: 0.5, ShapeCPU: 2, ShapeMemoryMB: 4096, Waiting: 3}
	types := []fleetview.Type{{Name: "c5a.large", Price: 0.077}, {Name: "c5a.xlarge", Price: 0.154}}
	host := func(attempts int) fleetview.Host { return fleetview.Host{Host: autoscale.Host{Attempts: attempts}} }
	in := func(typ string, st provider.InstanceState) provider.Instance {
		return provider.Instance{InstanceType: typ, State: st}
	}
	for _, tc := range []struct {
		name  string
		hosts []fleetview.Host
		ins   []provider.Instance
		want  PoolMetrics
	}{
		{"no instances", nil, nil, PoolMetrics{Metric: m, At: at}},
		{"one of each state, the ended one free",
			[]fleetview.Host{host(2), host(0)},
			[]provider.Instance{in("c5a.large", provider.InstancePending), in("c5a.xlarge", provider.InstanceRunning), in("c5a.xlarge", provider.InstanceTerminated)},
			PoolMetrics{Metric: m, At: at, Pending: 1, Running: 1, RunningJobs: 2, CostUSDHour: 0.23099999999999998}}, // 0.077 + 0.154 in float64
		{"a type without a price costs nothing",
			[]fleetview.Host{host(1)},
			[]provider.Instance{in("m5.large", provider.InstanceRunning)},
			PoolMetrics{Metric: m, At: at, Running: 1, RunningJobs: 1}},
	} {
		got := poolMetrics(at, m, fleetview.Pool{Types: types, Hosts: tc.hosts}, tc.ins)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: poolMetrics (-want +got):\n%s", tc.name, diff)
		}
	}
}
