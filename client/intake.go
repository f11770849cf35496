package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	berth "github.com/berth-run/berth"
)

// IntakePage is the SQS intake queues the server reads and their last
// refused messages, newest first.
type IntakePage struct {
	Queues  []berth.IntakeQueue   `json:"queues"`
	Refused []berth.IntakeRefusal `json:"refused"`
}

// Intake returns the intake queues and up to limit of their last refused
// messages (0: the server's default): of queue, or of every queue when it
// is "".
func (c *Client) Intake(ctx context.Context, queue string, limit int) (IntakePage, error) {
	q := url.Values{}
	if queue != "" {
		q.Set("queue", queue)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := "/v1/intake"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var p IntakePage
	_, err := c.call(ctx, request{method: http.MethodGet, path: path}, &p)
	return p, err
}
