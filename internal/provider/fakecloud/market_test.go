package fakecloud

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/provider"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func TestParseTrace(t *testing.T) {
	tests := []struct {
		name     string
		doc      string
		inverted bool
		want     []bool
		gap      time.Duration
		err      string
	}{
		{"published: counts of available instances", `{"metadata": {"gap_seconds": 195}, "data": [0, 1, 1, 0, 2]}`, false, []bool{false, true, true, false, true}, 195 * time.Second, ""},
		{"converted: 1 is preempted", `{"metadata": {"gap_seconds": 600}, "data": [0, 1, 1, 0]}`, true, []bool{true, false, false, true}, 10 * time.Minute, ""},
		{"prices only: always available", `{"prices": [1.0, 1.2], "gap_seconds": 195}`, false, []bool{true, true}, 195 * time.Second, ""},
		{"no gap", `{"data": [1]}`, false, nil, 0, "gap_seconds"},
		{"no data", `{"metadata": {"gap_seconds": 60}}`, false, nil, 0, "no data"},
		{"a tick under a second", `{"metadata": {"gap_seconds": 1e-12}, "data": [1, 0, 1]}`, false, nil, 0, "gap_seconds 1e-12 is out of range: a tick lasts from 1s to 168h"},
		{"a tick over a week", `{"metadata": {"gap_seconds": 1e11}, "data": [1, 0, 1]}`, false, nil, 0, "gap_seconds 1e+11 is out of range"},
		{"a list", `[]`, false, nil, 0, `want an object {"metadata": {"gap_seconds": G}, "data": [1, 0, ...]}, not an array`},
		{"data of strings", `{"metadata": {"gap_seconds": 60}, "data": ["up"]}`, false, nil, 0, "data: want a number, not a string"},
		{"gap as a string", `{"metadata": {"gap_seconds": "60"}, "data": [1]}`, false, nil, 0, "metadata.gap_seconds: want a number, not a string"},
	}
	for _, tt := range tests {
		tr, err := ParseTrace(strings.NewReader(tt.doc), tt.inverted)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: ParseTrace() = %v, want an error about %s", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || tr.Gap != tt.gap || !cmp.Equal(tr.Avail, tt.want) {
			t.Errorf("%s: ParseTrace() = %v gap %v, %v; want %v gap %v", tt.name, tr.Avail, tr.Gap, err, tt.want, tt.gap)
		}
	}
}

func TestSpotMarket(t *testing.T) {
	tr := Trace{Gap: time.Minute, Avail: []bool{true, true, false, true, true}, Prices: []float64{1, 1, 1, 2, 1}}
	m := NewSpotMarket(tr, t0, 0.03)
	at := func(min float64) time.Time { return t0.Add(time.Duration(min * float64(time.Minute))) }
	tests := []struct {
		at       float64
		avail    bool
		nextDown float64
	}{
		{0, true, 2},
		{1.5, true, 2},
		{2.5, false, 2.5},
		{3, true, 7},    // the trace repeats: the next dry tick is 2 of the second round
		{9.5, true, 12}, // third round
	}
	for _, tt := range tests {
		if got := m.Available(at(tt.at)); got != tt.avail {
			t.Errorf("Available(+%vm) = %v, want %v", tt.at, got, tt.avail)
		}
		if got := m.NextDown(at(tt.at)); !got.Equal(at(tt.nextDown)) {
			t.Errorf("NextDown(+%vm) = +%v, want +%vm", tt.at, got.Sub(t0), tt.nextDown)
		}
	}
	// Prices keep the trace's shape around the mean: 1,1,1,2,1 has mean 1.2.
	if got, want := m.Price(at(3)), 0.03*2/1.2; got < want-1e-12 || got > want+1e-12 {
		t.Errorf("Price(+3m) = %v, want %v", got, want)
	}
	if ok, low := m.AvailableDuring(at(2), at(4)); !ok || low > 0.03/1.2*2+1e-9 {
		t.Errorf("AvailableDuring(+2m, +4m) = %v, %v; want available", ok, low)
	}
	if ok, _ := m.AvailableDuring(at(2), at(3)); ok {
		t.Errorf("AvailableDuring(+2m, +3m) = true, want false: that tick is dry")
	}
	if !AlwaysAvailable(0.1).NextDown(t0).IsZero() {
		t.Errorf("AlwaysAvailable runs dry")
	}
}

func TestGeneratorIsSeeded(t *testing.T) {
	g := Generator{MeanUp: 2 * time.Hour, MeanDown: 15 * time.Minute}
	a, b, c := g.Generate(7, 72*time.Hour), g.Generate(7, 72*time.Hour), g.Generate(8, 72*time.Hour)
	if !cmp.Equal(a, b) {
		t.Errorf("Generate(7) differs between calls")
	}
	if cmp.Equal(a, c) {
		t.Errorf("Generate(7) = Generate(8)")
	}
	// Availability is about up/(up+down) = 0.89.
	if av := a.Availability(); av < 0.75 || av > 0.97 {
		t.Errorf("availability = %.2f, want about 0.89", av)
	}
	for _, p := range a.Prices {
		if p < 0.8 || p > 1.25 {
			t.Fatalf("price factor %v outside its band", p)
		}
	}
}

// TestSpotFollowsTrace: in virtual time, a trace running dry gives every
// Spot instance of that type its notice, reclaims it two minutes later, and
// refuses launches until the market returns.
func TestSpotFollowsTrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		c := New(Config{BootTime: time.Minute})
		// Available for 10 minutes, dry for 5, then available again.
		tr := Trace{Gap: 5 * time.Minute, Avail: []bool{true, true, false, true, true, true}}
		c.SetSpotMarket("m5.large", NewSpotMarket(tr, start, 0.034))
		p := c.Pool(spotSpec())
		ctx := t.Context()
		in, err := p.Launch(ctx, provider.LaunchRequest{InstanceType: "m5.large"})
		if err != nil || in.State != provider.InstancePending {
			t.Fatalf("Launch() = %+v, %v; want a pending instance", in, err)
		}
		if next := c.NextChange(start); !next.Equal(start.Add(time.Minute)) {
			t.Errorf("NextChange() = +%v, want the end of the boot, +1m", next.Sub(start))
		}
		time.Sleep(time.Minute)
		list, _ := p.List(ctx)
		if list[0].State != provider.InstanceRunning || list[0].Interrupted() {
			t.Errorf("after boot: %+v, want running without notice", list[0])
		}
		if next := c.NextChange(time.Now()); !next.Equal(start.Add(10 * time.Minute)) {
			t.Errorf("NextChange() = +%v, want the notice at +10m", next.Sub(start))
		}
		time.Sleep(9*time.Minute + 30*time.Second) // +10m30s: notice given
		list, _ = p.List(ctx)
		if got := list[0].InterruptAt; !got.Equal(start.Add(12 * time.Minute)) {
			t.Errorf("InterruptAt = +%v, want +12m", got.Sub(start))
		}
		_, err = p.Launch(ctx, provider.LaunchRequest{InstanceType: "m5.large"})
		var ice *provider.InsufficientCapacityError
		if !errors.As(err, &ice) {
			t.Errorf("Launch() while dry = %v, want insufficient capacity", err)
		}
		if _, err := p.Launch(ctx, provider.LaunchRequest{InstanceType: "m5.xlarge"}); err != nil {
			t.Errorf("Launch(another type) while m5.large is dry = %v, want it to work", err)
		}
		time.Sleep(2 * time.Minute)
		list, _ = p.List(ctx)
		if list[0].State != provider.InstanceTerminated || !list[0].Reclaimed || !list[0].TerminatedAt.Equal(start.Add(12*time.Minute)) {
			t.Errorf("after the notice: %+v, want reclaimed at +12m", list[0])
		}
		time.Sleep(3 * time.Minute) // +15m30s: available again
		if _, err := p.Launch(ctx, provider.LaunchRequest{InstanceType: "m5.large"}); err != nil {
			t.Errorf("Launch() after the market returned = %v", err)
		}
		var methods []Method
		for _, call := range c.Calls() {
			methods = append(methods, call.Method)
		}
		want := []Method{Launch, List, List, Launch, Launch, List, Launch}
		if diff := cmp.Diff(want, methods); diff != "" {
			t.Errorf("Calls() (-want +got):\n%s", diff)
		}
	})
}

func TestCloudKnobs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New(Config{RebalanceLead: 5 * time.Minute})
		p := c.Pool(spotSpec())
		ctx := t.Context()
		boom := errors.New("boom")
		c.FailNext(Launch, boom)
		if _, err := p.Launch(ctx, provider.LaunchRequest{InstanceType: "m5.large"}); !errors.Is(err, boom) {
			t.Errorf("Launch() after FailNext = %v, want boom", err)
		}
		c.SetCapacity("m5.large", berth.Spot, 1)
		in, err := p.Launch(ctx, provider.LaunchRequest{InstanceType: "m5.large"})
		if err != nil {
			t.Fatal(err)
		}
		var ice *provider.InsufficientCapacityError
		if _, err := p.Launch(ctx, provider.LaunchRequest{InstanceType: "m5.large"}); !errors.As(err, &ice) {
			t.Errorf("Launch() beyond capacity = %v, want insufficient capacity", err)
		}
		if err := p.Terminate(ctx, in.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Launch(ctx, provider.LaunchRequest{InstanceType: "m5.large"}); err != nil {
			t.Errorf("Launch() after a terminate freed capacity = %v", err)
		}
		// Rebalance comes RebalanceLead before a notice.
		tr := Trace{Gap: 10 * time.Minute, Avail: []bool{true, true, false}}
		c.SetSpotMarket("m5.xlarge", NewSpotMarket(tr, time.Now(), 0.07))
		x, _ := p.Launch(ctx, provider.LaunchRequest{InstanceType: "m5.xlarge"})
		time.Sleep(15*time.Minute + time.Second)
		list, _ := p.List(ctx)
		for _, got := range list {
			if got.ID == x.ID && (!got.Rebalance || got.Interrupted()) {
				t.Errorf("5 minutes before the notice: %+v, want a rebalance recommendation only", got)
			}
		}
		// Terminated instances leave List after the retention.
		time.Sleep(2 * time.Hour)
		list, _ = p.List(ctx)
		for _, got := range list {
			if got.ID == in.ID || got.ID == x.ID {
				t.Errorf("List() still has %s two hours after it ended", got.ID)
			}
		}
	})
}

func TestAlwaysAvailable(t *testing.T) {
	m := AlwaysAvailable(0.05)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	if !m.Available(now) || m.Price(now) != 0.05 || !m.NextPriceChange(now).After(now.Add(24*time.Hour)) || !m.NextDown(now).IsZero() {
		t.Errorf("AlwaysAvailable at %s: available %v, price %v, next change %s", now, m.Available(now), m.Price(now), m.NextPriceChange(now))
	}
	if ok, low := m.AvailableDuring(now, now.Add(time.Hour)); !ok || low != 0.05 {
		t.Errorf("AvailableDuring() = %v, %v", ok, low)
	}
}
