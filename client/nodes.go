package client

import (
	"context"
	"net/http"

	berth "github.com/berth-run/berth"
)

// Nodes returns every node the server knows, with its capacity and use.
func (c *Client) Nodes(ctx context.Context) ([]berth.Node, error) {
	var list struct {
		Nodes []berth.Node `json:"nodes"`
	}
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/v1/nodes"}, &list)
	return list.Nodes, err
}
