package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// CostReport is what the attempts and the hosts' idle time cost, summed
// by one key.
type CostReport struct {
	By       string     `json:"by"`
	TotalUSD float64    `json:"total_usd"`
	IdleUSD  float64    `json:"idle_usd"` // of the total, hosts standing idle
	Lines    []CostLine `json:"lines"`
}

// CostLine is the cost of one key: a pool, a market, a label's value (the
// hosts' idle time is "(idle hosts)") or a day.
type CostLine struct {
	Key     string  `json:"key"`
	CostUSD float64 `json:"cost_usd"`
	IdleUSD float64 `json:"idle_usd"` // of CostUSD, hosts standing idle
}

// Cost sums what the attempts and the priced hosts' idle time cost since
// since (all, when zero), by
// "pool", "market", "day" (UTC) or "label:KEY".
func (c *Client) Cost(ctx context.Context, by string, since time.Time) (CostReport, error) {
	q := url.Values{}
	if by != "" {
		q.Set("by", by)
	}
	if !since.IsZero() {
		q.Set("since", since.UTC().Format(time.RFC3339))
	}
	var r CostReport
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/v1/cost", query: q}, &r)
	return r, err
}
