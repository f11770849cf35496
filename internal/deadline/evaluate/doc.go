// Package evaluate measures the policies of package deadline against Spot
// availability traces, offline, for berth sim deadline.
//
// ParseTrace and ParsePrices read the Can't Be Late traces and per-tick Spot
// prices from an io.Reader; opening the files is the caller's. A Setup lays
// a job on a trace's ticks: Setup.Run replays a policy tick by tick, and
// Setup.Omniscient computes the cheapest schedule with full knowledge of the
// trace (and of its per-tick Spot prices) by dynamic programming, a lower
// bound on the cost of every online policy. Grid.Evaluate runs every trace ×
// deadline × random start point × policy, plus the bound, spreading the
// traces over GOMAXPROCS goroutines; Merge and Report.Groups sum the cells.
//
// Nothing here reads a clock or opens a file. The server does not link this
// package: it decides with package deadline alone.
package evaluate
