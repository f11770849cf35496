package client

import (
	"context"
	"net/http"
	"net/url"

	berth "github.com/berth-run/berth"
)

// CreateSchedule creates a cron schedule and returns it with its next run. An
// invalid spec gives a *Error with code invalid_request and Field naming the
// field at fault ("cron", "job.image").
func (c *Client) CreateSchedule(ctx context.Context, spec berth.ScheduleSpec) (berth.Schedule, error) {
	var s berth.Schedule
	_, err := c.call(ctx, request{method: http.MethodPost, path: "/v1/schedules", body: spec}, &s)
	return s, err
}

// Schedules returns every schedule.
func (c *Client) Schedules(ctx context.Context) ([]berth.Schedule, error) {
	var list struct {
		Schedules []berth.Schedule `json:"schedules"`
	}
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/v1/schedules"}, &list)
	return list.Schedules, err
}

// Schedule returns one schedule. An unknown id gives a *Error with code
// not_found.
func (c *Client) Schedule(ctx context.Context, id string) (berth.Schedule, error) {
	var s berth.Schedule
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/v1/schedules/" + url.PathEscape(id)}, &s)
	return s, err
}

// DeleteSchedule deletes a schedule; the jobs it created stay. An unknown or
// already deleted id gives a *Error with code not_found (or conflict).
func (c *Client) DeleteSchedule(ctx context.Context, id string) error {
	_, err := c.call(ctx, request{method: http.MethodDelete, path: "/v1/schedules/" + url.PathEscape(id)}, nil)
	return err
}
