package evaluate

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPrices(t *testing.T) {
	tr := Trace{Name: "zone-a", Gap: 195 * time.Second, Avail: []bool{true, false, true}}
	tests := []struct {
		name     string
		json     string
		onDemand float64
		want     Trace
		ok       bool
		err      bool
	}{
		{"one pool's file, named after it", `{"prices":[1,2,3],"gap_seconds":195,"price_info":{"on_demand_price":3.06}}`, 9,
			Trace{Name: "zone-a", Gap: tr.Gap, Avail: tr.Avail, SpotPrices: []float64{1, 2, 3}, SpotPrice: 2, OnDemandPrice: 3.06}, true, false},
		{"a map by trace name, on-demand price given apart", `{"zone-a":[3,3,3,4],"zone-b":[1]}`, 9,
			Trace{Name: "zone-a", Gap: tr.Gap, Avail: tr.Avail, SpotPrices: []float64{3, 3, 3}, SpotPrice: 3, OnDemandPrice: 9}, true, false},
		{"no prices for the trace", `{"zone-b":[1,2,3]}`, 9, tr, false, false},
		{"another tick", `{"prices":[1,2,3],"gap_seconds":600}`, 9, Trace{}, false, true},
		{"too few prices", `{"zone-a":[1,2]}`, 9, Trace{}, false, true},
	}
	for _, tt := range tests {
		name := "other"
		if strings.HasPrefix(tt.json, `{"prices"`) {
			name = "zone-a"
		}
		p, err := ParsePrices(strings.NewReader(tt.json), name)
		if err != nil {
			t.Fatalf("%s: ParsePrices: %v", tt.name, err)
		}
		got, ok, err := p.Apply(tr, tt.onDemand)
		if (err != nil) != tt.err || ok != tt.ok {
			t.Fatalf("%s: Apply = ok %v, err %v; want ok %v, error %v", tt.name, ok, err, tt.ok, tt.err)
		}
		if diff := cmp.Diff(tt.want, got); !tt.err && diff != "" {
			t.Errorf("%s: Apply mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
	if _, err := ParsePrices(strings.NewReader(`{"zone-a":"x"}`), ""); err == nil {
		t.Error("ParsePrices of a non-numeric series = nil error, want one")
	}
}
