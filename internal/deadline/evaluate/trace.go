package evaluate

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/berth-run/berth/internal/deadline"
)

// Trace is a Spot availability trace: Avail[i] says whether Spot could be
// had during tick i, [i·Gap, (i+1)·Gap).
type Trace struct {
	Name  string // file name without extension
	Group string // name of the folder holding the file
	Gap   time.Duration
	Avail []bool
	// SpotPrices are hourly Spot prices per tick, nil when unknown;
	// SpotPrice is their mean. OnDemandPrice is the hourly on-demand price,
	// zero when unknown.
	SpotPrices    []float64
	SpotPrice     float64
	OnDemandPrice float64
}

// TraceOptions says how to read a trace file's values.
type TraceOptions struct {
	// Gang is the number of instances the job needs at once: a tick counts as
	// available when its value is at least Gang. Zero means 1.
	Gang int
	// Inverted reads 1 as "preempted" and 0 as "available" (SkyNomad's
	// converted_* files); the published Can't Be Late traces count available
	// instances and must not be inverted.
	Inverted bool
}

// traceFile is the JSON layout of a trace: {"metadata": {"gap_seconds": G},
// "data": [v0, v1, ...]}, optionally with per-tick spot "prices" and
// metadata.price_info.on_demand_price.
type traceFile struct {
	Metadata struct {
		GapSeconds float64 `json:"gap_seconds"`
		PriceInfo  struct {
			OnDemand float64 `json:"on_demand_price"`
		} `json:"price_info"`
	} `json:"metadata"`
	Data   []float64 `json:"data"`
	Prices []float64 `json:"prices"`
}

// ParseTrace reads a trace in the JSON layout of the Can't Be Late traces.
func ParseTrace(r io.Reader, opt TraceOptions) (Trace, error) {
	var tf traceFile
	if err := json.NewDecoder(r).Decode(&tf); err != nil {
		return Trace{}, fmt.Errorf("parse trace: %w", err)
	}
	if tf.Metadata.GapSeconds <= 0 {
		return Trace{}, fmt.Errorf("parse trace: metadata.gap_seconds %v is not positive", tf.Metadata.GapSeconds)
	}
	if len(tf.Data) == 0 {
		return Trace{}, fmt.Errorf("parse trace: no data")
	}
	gang := float64(max(opt.Gang, 1))
	tr := Trace{
		Gap:           time.Duration(tf.Metadata.GapSeconds * float64(time.Second)),
		Avail:         make([]bool, len(tf.Data)),
		OnDemandPrice: tf.Metadata.PriceInfo.OnDemand,
	}
	for i, v := range tf.Data {
		if opt.Inverted {
			tr.Avail[i] = v == 0
		} else {
			tr.Avail[i] = v >= gang
		}
	}
	if len(tf.Prices) > 0 {
		var err error
		if tr, err = tr.WithPrices(tf.Prices, tr.OnDemandPrice); err != nil {
			return Trace{}, fmt.Errorf("parse trace: %w", err)
		}
	}
	return tr, nil
}

// WithPrices returns the trace with hourly Spot prices spot, one per tick
// (at least as many as the trace has ticks; the rest are dropped), and the
// hourly on-demand price onDemand (zero: unknown).
func (t Trace) WithPrices(spot []float64, onDemand float64) (Trace, error) {
	if len(spot) < len(t.Avail) {
		return Trace{}, fmt.Errorf("prices: %d for %d ticks", len(spot), len(t.Avail))
	}
	spot = spot[:len(t.Avail)]
	sum := 0.0
	for i, p := range spot {
		if p < 0 || math.IsNaN(p) {
			return Trace{}, fmt.Errorf("prices: tick %d: price %v", i, p)
		}
		sum += p
	}
	t.SpotPrices = slices.Clone(spot)
	t.SpotPrice = sum / float64(len(spot))
	t.OnDemandPrice = onDemand
	return t, nil
}

// Split returns the trace with every tick cut into m ticks of Gap/m.
func (t Trace) Split(m int) Trace {
	if m <= 1 {
		return t
	}
	out := t
	out.Gap = t.Gap / time.Duration(m)
	out.Avail = make([]bool, 0, len(t.Avail)*m)
	for _, a := range t.Avail {
		for range m {
			out.Avail = append(out.Avail, a)
		}
	}
	if t.SpotPrices != nil {
		out.SpotPrices = make([]float64, 0, len(t.SpotPrices)*m)
		for _, p := range t.SpotPrices {
			for range m {
				out.SpotPrices = append(out.SpotPrices, p)
			}
		}
	}
	return out
}

// Duration returns the time the trace covers.
func (t Trace) Duration() time.Duration { return time.Duration(len(t.Avail)) * t.Gap }

// Stats returns the availability statistics of ticks [from, to).
func (t Trace) Stats(from, to int) deadline.PoolStats {
	from, to = max(from, 0), min(to, len(t.Avail))
	if to <= from {
		return deadline.PoolStats{}
	}
	var up, ups, downs int
	var runs []int // lengths of the up periods
	for i := from; i < to; i++ {
		if t.Avail[i] {
			up++
		}
		if i == from || t.Avail[i] != t.Avail[i-1] {
			if t.Avail[i] {
				ups++
				runs = append(runs, 0)
			} else {
				downs++
			}
		}
		if t.Avail[i] {
			runs[len(runs)-1]++
		}
	}
	n := to - from
	st := deadline.PoolStats{
		Availability: float64(up) / float64(n),
		Observed:     time.Duration(n) * t.Gap,
	}
	if ups > 0 {
		st.MeanUp = time.Duration(up) * t.Gap / time.Duration(ups)
		st.MedianUp = median(runs) * t.Gap / 2
	}
	if downs > 0 {
		st.MeanDown = time.Duration(n-up) * t.Gap / time.Duration(downs)
	}
	return st
}

// median returns twice the median of xs (the sum of the two middle values
// when their number is even), sorting xs.
func median(xs []int) time.Duration {
	slices.Sort(xs)
	n := len(xs)
	return time.Duration(xs[(n-1)/2] + xs[n/2])
}
