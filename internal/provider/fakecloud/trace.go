package fakecloud

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"time"

	berth "github.com/berth-run/berth"
)

// Trace is a Spot availability series: Avail[i] says whether Spot capacity
// could be had during tick i, [i·Gap, (i+1)·Gap) from the trace's start.
// Prices, when present, is a per-tick price series whose shape (not level)
// the market follows.
type Trace struct {
	Gap    time.Duration
	Avail  []bool
	Prices []float64
}

// traceFile is the JSON layout of the published Spot traces:
// {"metadata": {"gap_seconds": G}, "data": [v0, v1, ...]}, optionally with
// per-tick "prices".
type traceFile struct {
	Metadata struct {
		GapSeconds float64 `json:"gap_seconds"`
	} `json:"metadata"`
	GapSeconds float64   `json:"gap_seconds"`
	Data       []float64 `json:"data"`
	Prices     []float64 `json:"prices"`
}

// traceLayout is the layout a trace file must have, for error messages.
const traceLayout = `{"metadata": {"gap_seconds": G}, "data": [1, 0, ...]}`

// traceError words a decoding error of a trace file without Go's types.
func traceError(err error) error {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return err
	}
	want := "a number"
	switch te.Type.Kind() {
	case reflect.Struct:
		want = "an object"
	case reflect.Slice:
		want = "a list of numbers"
	}
	if te.Field == "" {
		return fmt.Errorf("want an object %s, not %s %s", traceLayout, article(te.Value), te.Value)
	}
	return fmt.Errorf("%s: want %s, not %s %s", te.Field, want, article(te.Value), te.Value)
}

// article is the indefinite article of a JSON kind's name.
func article(kind string) string {
	if kind != "" && strings.ContainsRune("aeiou", rune(kind[0])) {
		return "an"
	}
	return "a"
}

// LoadTrace reads a trace file. In the published traces a value is the
// number of instances available at that tick (1 = available); inverted
// reads SkyNomad's converted_* files, where 1 means preempted.
func LoadTrace(path string, inverted bool) (Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return Trace{}, fmt.Errorf("load trace: %w", err)
	}
	defer f.Close()
	tr, err := ParseTrace(f, inverted)
	if err != nil {
		return Trace{}, fmt.Errorf("load trace %s: %w", path, err)
	}
	return tr, nil
}

// The shortest and longest tick a trace may have: Spot markets change on
// the scale of minutes, and the simulator steps in whole seconds.
const (
	minTraceGap = time.Second
	maxTraceGap = 7 * 24 * time.Hour
)

// ParseTrace reads a trace in the JSON layout of the Can't Be Late traces.
// A file with prices but no data (SkyNomad's price files) is always
// available.
func ParseTrace(r io.Reader, inverted bool) (Trace, error) {
	var tf traceFile
	if err := json.NewDecoder(r).Decode(&tf); err != nil {
		return Trace{}, fmt.Errorf("parse trace: %w", traceError(err))
	}
	gap := tf.Metadata.GapSeconds
	if gap == 0 {
		gap = tf.GapSeconds
	}
	switch {
	case !(gap > 0):
		return Trace{}, fmt.Errorf("parse trace: metadata.gap_seconds %v is not positive", gap)
	case gap < minTraceGap.Seconds() || gap > maxTraceGap.Seconds():
		return Trace{}, fmt.Errorf("parse trace: metadata.gap_seconds %v is out of range: a tick lasts from %v to %v", gap, minTraceGap, berth.ShortDuration(maxTraceGap))
	case len(tf.Data) == 0 && len(tf.Prices) == 0:
		return Trace{}, fmt.Errorf("parse trace: no data")
	case len(tf.Data) > 0 && len(tf.Prices) > 0 && len(tf.Prices) != len(tf.Data):
		return Trace{}, fmt.Errorf("parse trace: %d prices for %d ticks", len(tf.Prices), len(tf.Data))
	}
	for _, p := range tf.Prices {
		if !(p > 0) {
			return Trace{}, fmt.Errorf("parse trace: price %v is not positive", p)
		}
	}
	n := max(len(tf.Data), len(tf.Prices))
	tr := Trace{Gap: time.Duration(gap * float64(time.Second)), Avail: make([]bool, n), Prices: tf.Prices}
	for i := range tr.Avail {
		switch {
		case len(tf.Data) == 0:
			tr.Avail[i] = true
		case inverted:
			tr.Avail[i] = tf.Data[i] == 0
		default:
			tr.Avail[i] = tf.Data[i] >= 1
		}
	}
	return tr, nil
}

// Availability returns the fraction of ticks that are available.
func (t Trace) Availability() float64 {
	up := 0
	for _, a := range t.Avail {
		if a {
			up++
		}
	}
	return float64(up) / float64(max(len(t.Avail), 1))
}

// Generator makes synthetic Spot traces: availability alternates between
// up and down spells of exponentially distributed length, and the price
// moves by a bounded random walk around its mean.
type Generator struct {
	MeanUp     time.Duration // default 6h
	MeanDown   time.Duration // default 20m
	Gap        time.Duration // tick; default 1m
	Volatility float64       // largest hourly price move, as a fraction; default 0.03
}

// Generate returns a trace of length d drawn from seed.
func (g Generator) Generate(seed uint64, d time.Duration) Trace {
	if g.MeanUp <= 0 {
		g.MeanUp = 6 * time.Hour
	}
	if g.MeanDown <= 0 {
		g.MeanDown = 20 * time.Minute
	}
	if g.Gap <= 0 {
		g.Gap = time.Minute
	}
	if g.Volatility <= 0 {
		g.Volatility = 0.03
	}
	r := rand.New(rand.NewPCG(seed, 0x5a0f))
	n := max(int(d/g.Gap), 1)
	tr := Trace{Gap: g.Gap, Avail: make([]bool, n), Prices: make([]float64, n)}
	up, left := true, r.ExpFloat64()*float64(g.MeanUp)
	price := 1.0
	step := g.Volatility * math.Sqrt(float64(g.Gap)/float64(time.Hour))
	for i := range n {
		for left <= 0 {
			up = !up
			mean := g.MeanUp
			if !up {
				mean = g.MeanDown
			}
			left += r.ExpFloat64() * float64(mean)
		}
		tr.Avail[i] = up
		left -= float64(g.Gap)
		price *= 1 + step*(2*r.Float64()-1)
		price = min(max(price, 0.8), 1.25) // Spot prices move within a band
		tr.Prices[i] = price
	}
	return tr
}
