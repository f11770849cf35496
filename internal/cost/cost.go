// Package cost prices what berth runs: an instance costs its price per hour
// over the seconds it lived, at the price of each moment (Spot prices
// move); an attempt on a host costs its share of the host for the time it
// held it; a serverless container costs its vCPU-seconds and GB-seconds.
// A Ledger of priced lines sums them by pool, market, label or day. Nothing
// here reads a clock.
package cost

import (
	"maps"
	"slices"
	"time"

	berth "github.com/berth-run/berth"
)

// Price is a price in USD per hour that may change over time.
type Price interface {
	// Price returns the price at t.
	Price(t time.Time) float64
	// NextPriceChange returns a moment after t up to which the price stays
	// as at t (it may change then).
	NextPriceChange(t time.Time) time.Time
}

// Fixed is a price that never changes, in USD per hour.
type Fixed float64

// Price returns f.
func (f Fixed) Price(time.Time) float64 { return float64(f) }

// NextPriceChange returns the far future.
func (f Fixed) NextPriceChange(time.Time) time.Time { return farFuture }

var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// Instance is the cost of an instance at price p from from to to.
func Instance(p Price, from, to time.Time) float64 {
	usd := 0.0
	for t := from; t.Before(to); {
		next := p.NextPriceChange(t)
		if !next.After(t) || next.After(to) {
			next = to
		}
		usd += p.Price(t) * next.Sub(t).Hours()
		t = next
	}
	return usd
}

// Share is the share of a host of hostCPU×hostMem that an attempt of
// cpu×mem holds: the mean of its CPU and memory shares, so that the shares
// of the attempts a host holds at once never add up to more than 1.
func Share(cpu float64, mem int64, hostCPU float64, hostMem int64) float64 {
	if hostCPU <= 0 || hostMem <= 0 {
		return 1
	}
	return min((cpu/hostCPU+float64(mem)/float64(hostMem))/2, 1)
}

// Attempt is the cost of an attempt that held share of a host at price p
// from from to to.
func Attempt(p Price, from, to time.Time, share float64) float64 {
	return share * Instance(p, from, to)
}

// Serverless is the cost of a serverless container of cpu vCPUs and
// memoryMB running for d under the prices of s: it pays for the task size
// that holds it (berth.TaskSize).
func Serverless(s berth.Serverless, cpu float64, memoryMB int64, d time.Duration) float64 {
	cpu, memoryMB = berth.TaskSize(cpu, memoryMB)
	return d.Seconds() * (cpu*s.VCPUSecond + float64(memoryMB)/1024*s.GBSecond)
}

// Line is one priced use of capacity: an instance's life, or the idle
// time of a host (both without a JobID), or an attempt.
type Line struct {
	Pool       string
	Market     berth.Market
	Labels     map[string]string
	JobID      string
	Start, End time.Time
	USD        float64
}

// Ledger is a list of priced lines.
type Ledger []Line

// Total is the sum of the lines.
func (l Ledger) Total() float64 {
	usd := 0.0
	for _, x := range l {
		usd += x.USD
	}
	return usd
}

// By sums the lines by key.
func (l Ledger) By(key func(Line) string) map[string]float64 {
	m := make(map[string]float64)
	for _, x := range l {
		m[key(x)] += x.USD
	}
	return m
}

// ByPool, ByMarket and ByLabel are common keys for By.
func ByPool(x Line) string   { return x.Pool }
func ByMarket(x Line) string { return string(x.Market) }

// ByLabel returns a key of the value of label k ("" when unset); a host's
// idle time, which no job's labels name, is IdleHosts.
func ByLabel(k string) func(Line) string {
	return func(x Line) string {
		if x.Idle() {
			return IdleHosts
		}
		return x.Labels[k]
	}
}

// IdleHosts is the key ByLabel gives the idle time of hosts.
const IdleHosts = "(idle hosts)"

// Idle reports whether x is a host's idle time rather than an attempt: it
// names no job.
func (x Line) Idle() bool { return x.JobID == "" }

// ByDay sums the lines by day (in loc, "2006-01-02"), splitting a line that
// spans days by the time it spent in each.
func (l Ledger) ByDay(loc *time.Location) map[string]float64 {
	m := make(map[string]float64)
	for _, x := range l {
		span := x.End.Sub(x.Start)
		if span <= 0 {
			m[x.Start.In(loc).Format(time.DateOnly)] += x.USD
			continue
		}
		for _, d := range Days(x.Start, x.End, loc) {
			m[d[0].In(loc).Format(time.DateOnly)] += x.USD * float64(d[1].Sub(d[0])) / float64(span)
		}
	}
	return m
}

// Days cuts [from, to) at the midnights of loc, in order.
func Days(from, to time.Time, loc *time.Location) [][2]time.Time {
	var out [][2]time.Time
	for t := from; t.Before(to); {
		d := t.In(loc)
		next := time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
		if next.After(to) {
			next = to
		}
		out = append(out, [2]time.Time{t, next})
		t = next
	}
	return out
}

// Keys returns the keys of a sum, sorted.
func Keys(m map[string]float64) []string { return slices.Sorted(maps.Keys(m)) }
