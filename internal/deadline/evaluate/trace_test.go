package evaluate

import (
	"strings"
	"testing"
	"time"

	"github.com/berth-run/berth/internal/deadline"
	"github.com/google/go-cmp/cmp"
)

func TestParseTrace(t *testing.T) {
	tests := []struct {
		name string
		json string
		opt  TraceOptions
		want Trace
	}{
		{"1 is available", `{"metadata":{"gap_seconds":60},"data":[1,0,1]}`, TraceOptions{},
			Trace{Gap: time.Minute, Avail: []bool{true, false, true}}},
		{"gang needs enough instances", `{"metadata":{"gap_seconds":300},"data":[16,11,0,16]}`, TraceOptions{Gang: 16},
			Trace{Gap: 5 * time.Minute, Avail: []bool{true, false, false, true}}},
		{"inverted files: 1 is preempted", `{"metadata":{"gap_seconds":600},"data":[1,0]}`, TraceOptions{Inverted: true},
			Trace{Gap: 10 * time.Minute, Avail: []bool{false, true}}},
		{"prices", `{"metadata":{"gap_seconds":195,"price_info":{"on_demand_price":3.06}},"data":[1,0],"prices":[1,2]}`, TraceOptions{},
			Trace{Gap: 195 * time.Second, Avail: []bool{true, false}, SpotPrices: []float64{1, 2}, SpotPrice: 1.5, OnDemandPrice: 3.06}},
		{"more prices than ticks", `{"metadata":{"gap_seconds":60},"data":[1],"prices":[1,2]}`, TraceOptions{},
			Trace{Gap: time.Minute, Avail: []bool{true}, SpotPrices: []float64{1}, SpotPrice: 1}},
	}
	for _, tt := range tests {
		got, err := ParseTrace(strings.NewReader(tt.json), tt.opt)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: ParseTrace mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
	for _, bad := range []string{`{"metadata":{"gap_seconds":0},"data":[1]}`, `{"metadata":{"gap_seconds":60},"data":[]}`, `[`,
		`{"metadata":{"gap_seconds":60},"data":[1,1],"prices":[1]}`, `{"metadata":{"gap_seconds":60},"data":[1],"prices":[-1]}`} {
		if _, err := ParseTrace(strings.NewReader(bad), TraceOptions{}); err == nil {
			t.Errorf("ParseTrace(%s) = nil error, want one", bad)
		}
	}
}

func TestStatsAndSplit(t *testing.T) {
	tr := Trace{Gap: time.Hour, Avail: []bool{true, true, false, true, false, false}}
	got := tr.Stats(0, 6)
	want := deadline.PoolStats{Availability: 0.5, MeanUp: 90 * time.Minute, MeanDown: 90 * time.Minute, MedianUp: 90 * time.Minute, Observed: 6 * time.Hour}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Stats mismatch (-want +got):\n%s", diff)
	}
	odd := Trace{Gap: time.Hour, Avail: []bool{true, false, true, true, true, true, false, true, true}}
	if got := odd.Stats(0, 9).MedianUp; got != 2*time.Hour {
		t.Errorf("MedianUp of up periods 1, 4, 2 = %v, want 2h", got)
	}
	sp := tr.Split(2)
	if sp.Gap != 30*time.Minute || len(sp.Avail) != 12 || !sp.Avail[1] || sp.Avail[4] || sp.SpotPrices != nil {
		t.Errorf("Split(2) = %v %v %v", sp.Gap, sp.Avail, sp.SpotPrices)
	}
	priced, err := Trace{Gap: time.Hour, Avail: []bool{true, false}}.WithPrices([]float64{1, 3}, 4)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := priced.Split(2).SpotPrices, []float64{1, 1, 3, 3}; !cmp.Equal(got, want) {
		t.Errorf("Split(2) prices = %v, want %v", got, want)
	}
}
