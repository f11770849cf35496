package autoscale

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
)

// spotOut is cheapSpot with every type out of capacity; the types
// typically stay out for outage.
func spotOut(outage time.Duration) Pool {
	p := cheapSpot()
	for i := range p.Offerings {
		p.Offerings[i].Unavailable, p.Offerings[i].Outage = true, outage
	}
	return p
}

func TestPatientJobsWaitForSpot(t *testing.T) {
	patient := func(id string, waited time.Duration) Waiting {
		return Waiting{JobID: id, CPU: 2, MemoryMB: 8192, Since: now.Add(-waited), Patient: true}
	}
	tests := []struct {
		name    string
		pools   []Pool
		waiting []Waiting
		want    []string
	}{
		{"a patient job waits for Spot that is out, for a few typical outages",
			[]Pool{pool("od", berth.OnDemand, 0, 10), spotOut(20 * time.Minute)},
			[]Waiting{patient("a", 0), patient("b", patienceOutages*20*time.Minute-time.Second)},
			nil},
		{"past its patience it grows the on-demand pool",
			[]Pool{pool("od", berth.OnDemand, 0, 10), spotOut(20 * time.Minute)},
			[]Waiting{patient("a", patienceOutages*20*time.Minute)},
			[]string{"launch od/m5a.large"}},
		{"with no history a type counts as out for the default outage",
			[]Pool{pool("od", berth.OnDemand, 0, 10), spotOut(0)},
			[]Waiting{patient("a", patienceOutages*defaultOutage-time.Second), patient("b", patienceOutages*defaultOutage)},
			[]string{"launch od/m5a.large"}},
		{"the wait is capped, however long the outages",
			[]Pool{pool("od", berth.OnDemand, 0, 10), spotOut(24 * time.Hour)},
			[]Waiting{patient("a", maxPatience)},
			[]string{"launch od/m5a.large"}},
		{"the Spot pool's start budget caps the wait",
			[]Pool{pool("od", berth.OnDemand, 0, 10), func() Pool {
				p := spotOut(20 * time.Minute)
				p.Spec.StartBudget = berth.Duration(5 * time.Minute)
				return p
			}()},
			[]Waiting{patient("a", 5*time.Minute)},
			[]string{"launch od/m5a.large"}},
		{"a job with a deadline or a start budget does not wait",
			[]Pool{pool("od", berth.OnDemand, 0, 10), spotOut(20 * time.Minute)},
			[]Waiting{{JobID: "a", CPU: 2, MemoryMB: 8192, Since: now}},
			[]string{"launch od/m5a.large"}},
		{"a patient job does not wait while a Spot type that fits has capacity",
			[]Pool{pool("od", berth.OnDemand, 0, 10), func() Pool {
				p := spotOut(20 * time.Minute)
				p.Offerings[2].Unavailable, p.Offerings[2].Price = false, 0.02 // m5.xlarge
				return p
			}()},
			[]Waiting{patient("a", 0)},
			[]string{"launch spot/m5.xlarge"}},
		{"a patient job waits only for the Spot types that fit it",
			[]Pool{pool("od", berth.OnDemand, 0, 10), func() Pool {
				p := spotOut(20 * time.Minute)
				p.Offerings[0].Unavailable = false // m5.large, too small
				return p
			}()},
			[]Waiting{{JobID: "a", CPU: 4, MemoryMB: 16384, Since: now, Patient: true}},
			nil},
		{"a patient job does not wait for a full Spot pool",
			[]Pool{pool("od", berth.OnDemand, 0, 10), func() Pool {
				p := spotOut(20 * time.Minute)
				p.Spec.Max = 1
				p.Hosts = []Host{busy(host("s1", "m5.large", 2, 8192))}
				return p
			}()},
			[]Waiting{patient("a", 0)},
			[]string{"launch od/m5a.large"}},
	}
	for _, tt := range tests {
		got := summary(Decide(Snapshot{Now: now, Pools: tt.pools, Waiting: tt.waiting}))
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: Decide() (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestRetreatingJobsDoNotWait(t *testing.T) {
	w := Waiting{JobID: "a", CPU: 2, MemoryMB: 8192, Reclaimed: SpotRetreatAfter, Patient: true, Since: now}
	got := summary(Decide(Snapshot{Now: now, Pools: []Pool{pool("od", berth.OnDemand, 0, 10), spotOut(20 * time.Minute)}, Waiting: []Waiting{w}}))
	if diff := cmp.Diff([]string{"launch od/m5a.large"}, got); diff != "" {
		t.Errorf("Decide() for a patient job Spot took back %d times (-want +got):\n%s", SpotRetreatAfter, diff)
	}
}

func TestOutageLog(t *testing.T) {
	at := func(m int) time.Time { return now.Add(time.Duration(m) * time.Minute) }
	type refusal struct{ at, until int } // minutes
	tests := []struct {
		name     string
		refusals []refusal
		seen     int // minutes
		want     time.Duration
	}{
		{"no refusal: unknown", nil, 60, 0},
		{"one refusal: its avoidance, once over", []refusal{{0, 5}}, 10, 5 * time.Minute},
		{"an outage under way counts only once over, when it is the first", []refusal{{0, 5}}, 3, 0},
		{"refusals each at the end of the last avoidance make one outage",
			[]refusal{{0, 5}, {5, 10}, {11, 16}, {16, 21}}, 60, 21 * time.Minute},
		{"refusals far apart make separate outages",
			[]refusal{{0, 5}, {60, 65}, {66, 71}, {71, 76}}, 120, (5 + 16) * time.Minute / 2},
		{"an outage under way counts once longer than the mean",
			[]refusal{{0, 5}, {60, 65}, {65, 70}, {70, 75}}, 74, (5 + 14) * time.Minute / 2},
	}
	for _, tt := range tests {
		var l OutageLog
		for _, r := range tt.refusals {
			l.Refused(at(r.at), at(r.until))
		}
		if got := l.Typical(at(tt.seen)); got != tt.want {
			t.Errorf("%s: Typical() = %s, want %s", tt.name, got, tt.want)
		}
	}
}

// TestAvoidance: a refused type is avoided until its time is up; only a
// Spot type's refusals teach its outages; Expire forgets the avoidance but
// not the outage.
func TestAvoidance(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var a Avoidance
	if a.Avoided("spot", "c5.large", t0) || a.Outage("spot", "c5.large", t0) != 0 {
		t.Fatal("an empty Avoidance avoids c5.large or knows its outage")
	}
	a.Avoid("spot", "c5.large", true, t0, t0.Add(5*time.Minute))
	a.Avoid("od", "c5.large", false, t0, t0.Add(5*time.Minute))
	for _, pool := range []string{"spot", "od"} {
		if !a.Avoided(pool, "c5.large", t0.Add(4*time.Minute)) || a.Avoided(pool, "c5.large", t0.Add(5*time.Minute)) {
			t.Errorf("%s/c5.large: want avoided for 5 minutes", pool)
		}
	}
	if a.Avoided("spot", "m5.large", t0) {
		t.Error("spot/m5.large avoided, want only c5.large")
	}
	later := t0.Add(10 * time.Minute)
	a.Expire(later)
	if got := a.Outage("spot", "c5.large", later); got != 5*time.Minute {
		t.Errorf("spot outage = %v, want 5m", got)
	}
	if got := a.Outage("od", "c5.large", later); got != 0 {
		t.Errorf("on-demand outage = %v, want none learnt", got)
	}
	if a.Avoided("spot", "c5.large", t0.Add(time.Minute)) {
		t.Error("avoidance kept after Expire")
	}
}
