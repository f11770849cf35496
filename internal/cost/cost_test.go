package cost

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	berth "github.com/berth-run/berth"
)

var t0 = time.Date(2026, 3, 1, 22, 0, 0, 0, time.UTC)

// steps is a price that is p[i] during hour i from t0.
type steps []float64

func (s steps) Price(t time.Time) float64 {
	i := int(t.Sub(t0) / time.Hour)
	return s[min(max(i, 0), len(s)-1)]
}

func (s steps) NextPriceChange(t time.Time) time.Time {
	return t0.Add((t.Sub(t0)/time.Hour + 1) * time.Hour)
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestInstance(t *testing.T) {
	tests := []struct {
		name     string
		p        Price
		from, to time.Duration
		want     float64
	}{
		{"fixed, 90 minutes", Fixed(0.096), 0, 90 * time.Minute, 0.144},
		{"spot at the price of each hour", steps{0.03, 0.06, 0.01}, 30 * time.Minute, 150 * time.Minute, 0.015 + 0.06 + 0.005},
		{"nothing for no time", Fixed(1), time.Hour, time.Hour, 0},
	}
	for _, tt := range tests {
		if got := Instance(tt.p, t0.Add(tt.from), t0.Add(tt.to)); !near(got, tt.want) {
			t.Errorf("%s: Instance() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestShareAndAttempt(t *testing.T) {
	// 1 vCPU and 2 GiB of a 2 vCPU/8 GiB host: (0.5 + 0.25)/2.
	if got := Share(1, 2048, 2, 8192); !near(got, 0.375) {
		t.Errorf("Share() = %v, want 0.375", got)
	}
	if got := Attempt(Fixed(0.096), t0, t0.Add(time.Hour), 0.375); !near(got, 0.036) {
		t.Errorf("Attempt() = %v, want 0.036", got)
	}
	s := berth.Serverless{VCPUSecond: berth.FargateVCPUSecond, GBSecond: berth.FargateGBSecond}
	if got := Serverless(s, 0.5, 1024, 2*time.Hour); !near(got, 2*(0.5*0.04048+0.004445)) {
		t.Errorf("Serverless() = %v", got)
	}
}

func TestLedger(t *testing.T) {
	l := Ledger{
		{Pool: "spot", Market: berth.Spot, Labels: map[string]string{"team": "data"}, JobID: "j1", Start: t0, End: t0.Add(4 * time.Hour), USD: 4},
		{Pool: "base", Market: berth.OnDemand, JobID: "j2", Start: t0, End: t0.Add(time.Hour), USD: 1},
		{Pool: "fargate", Market: berth.OnDemand, Labels: map[string]string{"team": "web"}, JobID: "j3", Start: t0.Add(time.Hour), End: t0.Add(time.Hour), USD: 0.5},
		{Pool: "base", Market: berth.OnDemand, Start: t0, End: t0.Add(time.Hour), USD: 0.25}, // its host idle
	}
	if !near(l.Total(), 5.75) {
		t.Errorf("Total() = %v", l.Total())
	}
	approx := cmpopts.EquateApprox(0, 1e-9)
	checks := []struct {
		name string
		got  map[string]float64
		want map[string]float64
	}{
		{"pool", l.By(ByPool), map[string]float64{"spot": 4, "base": 1.25, "fargate": 0.5}},
		{"market", l.By(ByMarket), map[string]float64{"spot": 4, "on-demand": 1.75}},
		{"label", l.By(ByLabel("team")), map[string]float64{"data": 4, "web": 0.5, "": 1, IdleHosts: 0.25}},
		// 22:00 to 02:00: half of the spot line on each day.
		{"day", l.ByDay(time.UTC), map[string]float64{"2026-03-01": 2 + 1 + 0.5 + 0.25, "2026-03-02": 2}},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got, approx); diff != "" {
			t.Errorf("by %s (-want +got):\n%s", c.name, diff)
		}
	}
	if got := Keys(l.By(ByPool)); !cmp.Equal(got, []string{"base", "fargate", "spot"}) {
		t.Errorf("Keys() = %v", got)
	}
}
