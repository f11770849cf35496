package main

import (
	"context"
	"strings"
	"time"
)

// runCost runs `berth cost`: what the attempts cost, by pool, market,
// label or day.
func runCost(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "cost", "cost [--by pool|market|day|label:KEY] [--since TIME] [-o json]")
	var by, since string
	var out output
	fs.StringVar(&by, "by", "pool", "sum by `KEY`: pool, market, day (UTC) or label:KEY")
	fs.StringVar(&since, "since", "", "only the cost since this `time` (RFC 3339, or a duration such as 24h for that long ago)")
	addOutputFlag(fs, &out)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(env, fs, "unexpected argument %q", fs.Arg(0))
	}
	if by != "pool" && by != "market" && by != "day" && !(strings.HasPrefix(by, "label:") && len(by) > len("label:")) {
		return usageError(env, fs, "--by %q: want pool, market, day or label:KEY", by)
	}
	var from time.Time
	if since != "" {
		if d, err := time.ParseDuration(since); err == nil {
			if d < 0 {
				return usageError(env, fs, "--since %q: a duration must not be negative (24h is the last 24 hours)", since)
			}
			from = env.clock().Add(-d)
		} else if from, err = time.Parse(time.RFC3339, since); err != nil {
			return usageError(env, fs, "--since %q is neither an RFC 3339 time nor a duration", since)
		}
	}
	c, err := newClient(env)
	if err != nil {
		return err
	}
	r, err := c.Cost(ctx, by, from)
	if err != nil {
		return err
	}
	if out.json() {
		return printJSON(env.stdout, r)
	}
	head := strings.ToUpper(by)
	if strings.HasPrefix(by, "label:") {
		head = "LABEL " + strings.TrimPrefix(by, "label:")
	}
	t := newTable(head, "COST", "OF WHICH IDLE")
	for _, l := range r.Lines {
		key := l.Key
		if key == "" {
			key = "(none)"
		}
		t.add(key, usd(l.CostUSD), usd(l.IdleUSD))
	}
	t.add("total", usd(r.TotalUSD), usd(r.IdleUSD))
	return t.write(env.stdout, env.width)
}
