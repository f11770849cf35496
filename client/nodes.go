package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	berth "github.com/berth-run/berth"
)

// Node is a node as the API shows it: its place in the schedule (state,
// capacity, use, last heartbeat) and what else berth knows of it.
type Node struct {
	berth.Node
	Facts         HostFacts  `json:"facts"`
	DrainDeadline *time.Time `json:"drain_deadline,omitempty"`
	// Notice is the last announcement of the node's cloud:
	// "spot_interruption" or "rebalance".
	Notice   string     `json:"notice,omitempty"`
	NoticeAt *time.Time `json:"notice_at,omitempty"`
	// Drained: the node takes no new work, live or not.
	Drained bool `json:"drained"`
	// Conflict is the last refusal of a second agent that presented the
	// node's credential (a copied data directory, a cloned disk).
	Conflict string `json:"conflict,omitempty"`
	// SharedEngine is set by MarkSharedEngines: another live node runs on
	// the same Docker engine.
	SharedEngine bool `json:"-"`
}

// MarkSharedEngines sets SharedEngine on the nodes (gone ones aside) whose
// engine another of them shares.
func MarkSharedEngines(nodes []Node) {
	count := map[string]int{}
	for _, n := range nodes {
		if n.Facts.EngineID != "" && n.State != berth.NodeGone {
			count[n.Facts.EngineID]++
		}
	}
	for i, n := range nodes {
		nodes[i].SharedEngine = n.State != berth.NodeGone && count[n.Facts.EngineID] > 1
	}
}

// HostFacts describe a node's host, as far as its agent knows them.
type HostFacts struct {
	InstanceID   string  `json:"instance_id,omitempty"`
	InstanceType string  `json:"instance_type,omitempty"`
	Zone         string  `json:"zone,omitempty"`
	Market       string  `json:"market,omitempty"` // "on-demand" or "spot"
	Price        float64 `json:"price,omitempty"`  // per hour
	EngineID     string  `json:"engine_id,omitempty"`
}

// Nodes returns every node the server knows, with its capacity and use.
func (c *Client) Nodes(ctx context.Context) ([]Node, error) {
	var list struct {
		Nodes []Node `json:"nodes"`
	}
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/v1/nodes"}, &list)
	return list.Nodes, err
}

// Node returns one node. An unknown id gives a *Error with code not_found.
func (c *Client) Node(ctx context.Context, id string) (Node, error) {
	var n Node
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/v1/nodes/" + url.PathEscape(id)}, &n)
	return n, err
}

// DrainNode stops placing work on the node. With a deadline, the work
// still running on it after that long is stopped and re-queued (0 stops it
// at once); nil lets it finish. A lost node gives a *Error with code
// conflict.
func (c *Client) DrainNode(ctx context.Context, id string, deadline *time.Duration) (Node, error) {
	body := struct {
		Deadline *berth.Duration `json:"deadline,omitempty"`
	}{optDuration(deadline)}
	var n Node
	_, err := c.call(ctx, request{method: http.MethodPost, path: "/v1/nodes/" + url.PathEscape(id) + "/drain", body: body}, &n)
	return n, err
}

// UndrainNode makes a draining node ready again.
func (c *Client) UndrainNode(ctx context.Context, id string) (Node, error) {
	var n Node
	_, err := c.call(ctx, request{method: http.MethodPost, path: "/v1/nodes/" + url.PathEscape(id) + "/undrain"}, &n)
	return n, err
}

// DeleteNode makes the node gone at once and revokes its credential: its
// attempts end as "node deleted" and their jobs are re-queued without
// spending a retry.
func (c *Client) DeleteNode(ctx context.Context, id string) (Node, error) {
	var n Node
	_, err := c.call(ctx, request{method: http.MethodDelete, path: "/v1/nodes/" + url.PathEscape(id)}, &n)
	return n, err
}

// RotateJoinToken gives the pool a new join token, good for expires when
// set: the old one is refused from then on; nodes that joined keep their
// credentials.
func (c *Client) RotateJoinToken(ctx context.Context, pool string, expires *time.Duration) (Pool, error) {
	body := struct {
		Expires *berth.Duration `json:"expires,omitempty"`
	}{optDuration(expires)}
	var p Pool
	_, err := c.call(ctx, request{method: http.MethodPost, path: "/v1/pools/" + url.PathEscape(pool) + "/rotate-token", body: body}, &p)
	return p, err
}

// Pool is a pool: its configuration (for the pools of the server's
// configuration file), its nodes' totals, its instances and autoscaling
// signal (for pools with a provider), and the token that admits nodes to
// it.
type Pool = berth.PoolStatus

// Instance is one of a pool's instances, as its provider lists it.
type Instance = berth.PoolInstance

// Autoscale is a pool's autoscaling signal: how many of the largest
// waiting job shapes its free capacity could take (below 1 it grows).
type Autoscale = berth.PoolSignal

// Pools returns the configured pools, the pools that have nodes, and the
// default pool.
func (c *Client) Pools(ctx context.Context) ([]Pool, error) {
	var list struct {
		Pools []Pool `json:"pools"`
	}
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/v1/pools"}, &list)
	return list.Pools, err
}

// Pool returns one pool, nodes or not, with its join token.
func (c *Client) Pool(ctx context.Context, name string) (Pool, error) {
	var p Pool
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/v1/pools/" + url.PathEscape(name)}, &p)
	return p, err
}

// optDuration is d as the API writes it, nil for nil.
func optDuration(d *time.Duration) *berth.Duration {
	if d == nil {
		return nil
	}
	b := berth.Duration(*d)
	return &b
}
