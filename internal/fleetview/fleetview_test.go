package fleetview

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/autoscale"
	"github.com/berth-run/berth/internal/deadline"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func pool(name string, m berth.Market, managed bool, min, max int, types ...Type) Pool {
	spec := berth.PoolSpec{Name: name, Provider: berth.ProviderFake, Market: m, Min: min, Max: max, BootTime: berth.Duration(90 * time.Second)}
	if !managed {
		spec.Provider = berth.ProviderLocal
	}
	for _, t := range types {
		spec.InstanceTypes = append(spec.InstanceTypes, berth.InstanceType{Name: t.Name, CPU: t.CPU, MemoryMB: t.MemoryMB, Price: t.Price})
	}
	return Pool{Spec: spec, Open: true, Managed: managed, Types: types}
}

func ready(id string, cpu float64, mem int64, at time.Time, warned bool) Host {
	return Host{Host: autoscale.Host{ID: id, InstanceType: "t", CPU: cpu, MemoryMB: mem, State: autoscale.Ready}, ReadyAt: at, Warned: warned}
}

func TestOffer(t *testing.T) {
	small := Type{Name: "small", CPU: 2, MemoryMB: 4096, Price: 0.1}
	big := Type{Name: "big", CPU: 8, MemoryMB: 32768, Price: 0.4}
	job := &berth.Job{JobSpec: berth.JobSpec{CPU: 4, MemoryMB: 8192}}
	stats := deadline.PoolStats{Observed: time.Hour, Availability: 0.5}
	spot := pool("spot", berth.Spot, true, 0, 10, small, big)
	spot.Spot = stats
	od := pool("od", berth.OnDemand, true, 0, 5, big)
	restart := 30 * time.Second
	tests := []struct {
		name  string
		pools []Pool
		want  deadline.Offer
	}{
		{"spot and on-demand", []Pool{spot, od}, deadline.Offer{Spot: "spot", SpotUp: true, SpotSince: t0, Stats: stats,
			OnDemand: "od", Changeover: restart + 90*time.Second}},
		{"the type that fits is avoided", []Pool{withTypes(spot, small, avoided(big)), od}, deadline.Offer{Spot: "spot", SpotSince: t0,
			Stats: stats, OnDemand: "od", Changeover: restart + 90*time.Second}},
		{"Spot held since the oldest ready fitting host without a warning", []Pool{withHosts(spot,
			ready("a", 8, 32768, t0.Add(-time.Hour), true),        // warned
			ready("b", 2, 4096, t0.Add(-50*time.Minute), false),   // too small
			ready("c", 8, 32768, t0.Add(-20*time.Minute), false),  // this one
			ready("d", 8, 32768, t0.Add(-10*time.Minute), false)), // younger
			od}, deadline.Offer{Spot: "spot", SpotUp: true, SpotSince: t0.Add(-20 * time.Minute), Stats: stats,
			OnDemand: "od", Changeover: restart + 90*time.Second}},
		{"an on-demand pool that cannot grow is no market", []Pool{spot, pool("fixed", berth.OnDemand, true, 3, 3, big)},
			deadline.Offer{Spot: "spot", SpotUp: true, SpotSince: t0, Stats: stats, Changeover: restart}},
		{"the local pool is on-demand with no boot", []Pool{spot, pool("local", berth.OnDemand, false, 0, 0)},
			deadline.Offer{Spot: "spot", SpotUp: true, SpotSince: t0, Stats: stats, OnDemand: "local", Changeover: restart}},
		{"a closed pool is no market", []Pool{closed(spot), od}, deadline.Offer{OnDemand: "od", Changeover: restart + 90*time.Second}},
		{"a pool too small for the job is no market", []Pool{withTypes(spot, small), od},
			deadline.Offer{OnDemand: "od", Changeover: restart + 90*time.Second}},
		{"the first fitting pool of each market", []Pool{withName(spot, "spot1"), withName(spot, "spot2"), od, withName(od, "od2")},
			deadline.Offer{Spot: "spot1", SpotUp: true, SpotSince: t0, Stats: stats, OnDemand: "od", Changeover: restart + 90*time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := View{Now: t0, Pools: tt.pools}
			if diff := cmp.Diff(tt.want, v.Offer(job, restart)); diff != "" {
				t.Errorf("Offer (-want +got):\n%s", diff)
			}
		})
	}
}

func withTypes(p Pool, ts ...Type) Pool {
	p.Types = ts
	p.Spec.InstanceTypes = nil
	for _, t := range ts {
		p.Spec.InstanceTypes = append(p.Spec.InstanceTypes, berth.InstanceType{Name: t.Name, CPU: t.CPU, MemoryMB: t.MemoryMB})
	}
	return p
}

func withHosts(p Pool, hs ...Host) Pool { p.Hosts = hs; return p }
func withName(p Pool, name string) Pool { p.Spec.Name = name; return p }
func closed(p Pool) Pool                { p.Open = false; return p }
func avoided(t Type) Type               { t.Avoided = true; return t }

func TestSnapshotHoldsTheManagedPools(t *testing.T) {
	typ := Type{Name: "m", CPU: 2, MemoryMB: 8192, Price: 0.1, Avoided: true, Outage: time.Hour, InterruptionRate: 0.25}
	cloud := withHosts(pool("cloud", berth.Spot, true, 0, 4, typ), ready("i-1", 2, 8192, t0, false))
	serverless := Pool{Spec: berth.PoolSpec{Name: "fargate", Provider: berth.ProviderFakeServerless, Serverless: &berth.Serverless{}}, Open: true}
	w := []autoscale.Waiting{{JobID: "j", CPU: 1, MemoryMB: 512}}
	v := View{Now: t0, Pools: []Pool{pool("local", berth.OnDemand, false, 0, 0), cloud, serverless}, Waiting: w}
	want := autoscale.Snapshot{Now: t0, Waiting: w, Pools: []autoscale.Pool{{Spec: cloud.Spec, Open: true,
		Offerings: []autoscale.Offering{{InstanceType: "m", CPU: 2, MemoryMB: 8192, Price: 0.1, Unavailable: true, InterruptionRate: 0.25, Outage: time.Hour}},
		Hosts:     []autoscale.Host{cloud.Hosts[0].Host}}}}
	if diff := cmp.Diff(want, v.Snapshot()); diff != "" {
		t.Errorf("Snapshot (-want +got):\n%s", diff)
	}
}

func TestSpotUp(t *testing.T) {
	a, b := Type{Name: "a"}, Type{Name: "b"}
	for _, tt := range []struct {
		name string
		p    Pool
		want bool
	}{
		{"a type not avoided", pool("s", berth.Spot, true, 0, 1, avoided(a), b), true},
		{"every type avoided", pool("s", berth.Spot, true, 0, 1, avoided(a), avoided(b)), false},
		{"closed", closed(pool("s", berth.Spot, true, 0, 1, a)), false},
	} {
		if got := tt.p.SpotUp(); got != tt.want {
			t.Errorf("%s: SpotUp() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestWaiting(t *testing.T) {
	dl, budget := t0.Add(time.Hour), berth.Duration(time.Minute)
	for _, tt := range []struct {
		name string
		job  berth.Job
		want bool // patient
	}{
		{"no deadline, no start budget", berth.Job{}, true},
		{"a deadline", berth.Job{JobSpec: berth.JobSpec{Deadline: &dl}}, false},
		{"a start budget", berth.Job{JobSpec: berth.JobSpec{StartBudget: &budget}}, false},
	} {
		j := tt.job
		j.ID, j.CPU, j.MemoryMB, j.Requeued = "j1", 2, 1024, 3
		got := Waiting(&j, "spot", t0)
		want := autoscale.Waiting{JobID: "j1", CPU: 2, MemoryMB: 1024, Pool: "spot", Reclaimed: 3, Since: t0, Patient: tt.want}
		if got != want {
			t.Errorf("%s: Waiting = %+v, want %+v", tt.name, got, want)
		}
	}
}

func TestInterruptionRate(t *testing.T) {
	now := t0
	h := func(d time.Duration) time.Time { return now.Add(-d) }
	for _, tt := range []struct {
		name    string
		notices []time.Time
		lives   []Life
		want    float64
	}{
		{"no notices", nil, []Life{{Begin: h(5 * time.Hour)}}, 0},
		{"two notices over 4 instance-hours", []time.Time{h(time.Hour), h(2 * time.Hour)},
			[]Life{{Begin: h(3 * time.Hour)}, {Begin: h(2 * time.Hour), End: h(time.Hour)}}, 0.5},
		{"lives are cut to the window", []time.Time{h(time.Hour)},
			[]Life{{Begin: h(10 * time.Hour)}, {Begin: h(20 * time.Hour), End: h(8 * time.Hour)}}, 1.0 / 6},
		{"notices before the window do not count", []time.Time{h(7 * time.Hour), h(30 * time.Minute)},
			[]Life{{Begin: h(8 * time.Hour)}, {Begin: h(8 * time.Hour)}}, 1.0 / 12},
		{"at least one hour", []time.Time{h(time.Minute)}, []Life{{Begin: h(10 * time.Minute)}}, 1},
	} {
		got := InterruptionRate(tt.notices, slices.Values(tt.lives), now)
		if diff := got - tt.want; diff > 1e-12 || diff < -1e-12 {
			t.Errorf("%s: InterruptionRate = %v, want %v", tt.name, got, tt.want)
		}
	}
}
