package fakecloud

import (
	"slices"
	"time"
)

// SpotMarket is the Spot capacity and price of one instance type over
// time, as a trace says, from start on. Past its end the trace repeats.
// It is read-only once made, and safe for concurrent use.
type SpotMarket struct {
	start time.Time
	gap   time.Duration
	avail []bool
	// price per tick in USD per hour.
	price []float64
	// nextDown[i] is the first tick at or after i, cyclically, that is
	// unavailable, as an offset from i; -1 if none is.
	nextDown []int
	// constant is set for a market without a trace: always available at
	// one price.
	constant bool
}

// NewSpotMarket returns the market of a trace starting at start, with mean
// price meanPrice (USD per hour). When the trace has prices the market's
// follow their shape: price(i) = meanPrice · trace.Prices[i] / mean(trace.Prices).
func NewSpotMarket(tr Trace, start time.Time, meanPrice float64) *SpotMarket {
	n := len(tr.Avail)
	m := &SpotMarket{start: start, gap: tr.Gap, avail: tr.Avail, price: make([]float64, n), nextDown: make([]int, n)}
	if n == 0 {
		m.avail, m.price, m.nextDown, m.gap, m.constant = []bool{true}, []float64{meanPrice}, []int{-1}, time.Hour, true
		return m
	}
	mean := 0.0
	for _, p := range tr.Prices {
		mean += p
	}
	for i := range m.price {
		m.price[i] = meanPrice
		if len(tr.Prices) == n && mean > 0 {
			m.price[i] = meanPrice * tr.Prices[i] * float64(n) / mean
		}
	}
	// Backwards from the end, with the first unavailable tick of the next
	// cycle as the start.
	next := slices.Index(m.avail, false)
	if next < 0 {
		for i := range m.nextDown {
			m.nextDown[i] = -1
		}
		return m
	}
	next += n
	for i := n - 1; i >= 0; i-- {
		if !m.avail[i] {
			next = i
		}
		m.nextDown[i] = next - i
	}
	return m
}

// AlwaysAvailable is a Spot market that never runs out, at a fixed price.
func AlwaysAvailable(price float64) *SpotMarket {
	return NewSpotMarket(Trace{}, time.Time{}, price)
}

// tick returns the index of the tick holding t and when it began.
func (m *SpotMarket) tick(t time.Time) (int, time.Time) {
	d := t.Sub(m.start)
	if d < 0 || m.constant {
		return 0, t
	}
	k := int64(d / m.gap)
	return int(k % int64(len(m.avail))), m.start.Add(time.Duration(k) * m.gap)
}

// Available reports whether Spot capacity can be had at t.
func (m *SpotMarket) Available(t time.Time) bool {
	i, _ := m.tick(t)
	return m.avail[i]
}

// Price returns the Spot price at t, USD per hour.
func (m *SpotMarket) Price(t time.Time) float64 {
	i, _ := m.tick(t)
	return m.price[i]
}

// NextPriceChange returns when the tick after t's begins: prices and
// availability are constant in between.
func (m *SpotMarket) NextPriceChange(t time.Time) time.Time {
	if m.constant {
		return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if t.Before(m.start) {
		return m.start
	}
	_, begin := m.tick(t)
	return begin.Add(m.gap)
}

// NextDown returns the first moment at or after t when Spot capacity is
// unavailable, or the zero time if it never is.
func (m *SpotMarket) NextDown(t time.Time) time.Time {
	if m.constant {
		return time.Time{}
	}
	i, begin := m.tick(t)
	if t.Before(m.start) {
		begin = m.start
		if !m.avail[0] {
			return t
		}
	}
	d := m.nextDown[i]
	switch {
	case d < 0:
		return time.Time{}
	case d == 0:
		return t
	}
	return begin.Add(time.Duration(d) * m.gap)
}

// AvailableDuring reports whether Spot capacity could be had at some moment
// of [from, to), and the lowest price in it.
func (m *SpotMarket) AvailableDuring(from, to time.Time) (bool, float64) {
	avail, low := false, 0.0
	for t := from; t.Before(to); t = m.NextPriceChange(t) {
		p := m.Price(t)
		if m.Available(t) {
			if !avail || p < low {
				low = p
			}
			avail = true
		}
	}
	return avail, low
}
