package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	berth "github.com/berth-run/berth"
)

// SubmitJob asks the server to run spec. created is true when a new job was
// made (201) and false when spec's idempotency key matched an existing job,
// which comes back unchanged (200). An invalid spec gives a *Error with code
// invalid_request and Field naming the field at fault.
func (c *Client) SubmitJob(ctx context.Context, spec berth.JobSpec) (job berth.Job, created bool, err error) {
	status, err := c.call(ctx, request{method: http.MethodPost, path: "/v1/jobs", body: spec}, &job)
	if err != nil {
		return berth.Job{}, false, err
	}
	return job, status == http.StatusCreated, nil
}

// Job is a job as the API shows it: with what it cost so far.
type Job struct {
	berth.Job
	// Attempts are the job's attempts with what each held; Job.Attempts
	// holds the same attempts without it.
	Attempts []Attempt `json:"attempts"`
	// CostUSD sums what its attempts held (a share of a node at the node's
	// price, or a serverless container), running ones up to now.
	CostUSD float64 `json:"cost_usd"`
}

// Attempt is an attempt with what it held and cost.
type Attempt = berth.PricedAttempt

// MarshalJSON writes j as the API does; a Job built with only Job.Attempts
// writes those.
func (j Job) MarshalJSON() ([]byte, error) {
	type plain Job // without this method
	if j.Attempts == nil && j.Job.Attempts != nil {
		j.Attempts = make([]Attempt, len(j.Job.Attempts))
		for i, a := range j.Job.Attempts {
			j.Attempts[i] = Attempt{Attempt: a}
		}
	}
	return json.Marshal(plain(j))
}

// UnmarshalJSON reads a job as the API writes it, and fills Job.Attempts
// too, for code that takes a berth.Job.
func (j *Job) UnmarshalJSON(b []byte) error {
	type plain Job // without this method
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*j = Job(p)
	j.Job.Attempts = make([]berth.Attempt, len(j.Attempts))
	for i, a := range j.Attempts {
		j.Job.Attempts[i] = a.Attempt
	}
	return nil
}

// Job returns the job with its attempts and cost. An unknown id gives a
// *Error with code not_found.
func (c *Client) Job(ctx context.Context, id string) (Job, error) {
	var job Job
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/v1/jobs/" + url.PathEscape(id)}, &job)
	return job, err
}

// JobQuery selects jobs for ListJobs. Zero fields select everything.
type JobQuery struct {
	State    berth.State
	Labels   map[string]string // every label must match
	Schedule string            // jobs created by this schedule
	Cursor   string            // NextCursor of the previous page; "" for the first
	Limit    int               // page size; 0 means the server's default
}

// values encodes q as the query of GET /v1/jobs.
func (q JobQuery) values() url.Values {
	v := url.Values{}
	if q.State != "" {
		v.Set("state", string(q.State))
	}
	keys := make([]string, 0, len(q.Labels))
	for k := range q.Labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v.Add("label", k+"="+q.Labels[k])
	}
	if q.Schedule != "" {
		v.Set("schedule", q.Schedule)
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

// JobPage is one page of a job listing.
type JobPage struct {
	Jobs       []berth.Job `json:"jobs"`
	NextCursor string      `json:"next_cursor"` // "" on the last page
}

// ListJobs returns one page of the jobs q selects, newest first. Pass the
// page's NextCursor as q.Cursor for the next one. An invalid state, label or
// cursor gives a *Error with code invalid_request.
func (c *Client) ListJobs(ctx context.Context, q JobQuery) (JobPage, error) {
	var page JobPage
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/v1/jobs", query: q.values()}, &page)
	return page, err
}

// CancelJob cancels the job and returns it. A job that has already finished
// gives a *Error with code conflict; an unknown id, code not_found.
func (c *Client) CancelJob(ctx context.Context, id string) (berth.Job, error) {
	var job berth.Job
	_, err := c.call(ctx, request{method: http.MethodPost, path: "/v1/jobs/" + url.PathEscape(id) + "/cancel"}, &job)
	return job, err
}

// Callback reports a job's own result, as the job itself does with the
// per-attempt token it finds in BERTH_CALLBACK_TOKEN (an empty token sends
// the client's own). status is "succeeded" or "failed"; result is any small
// JSON value, or nil. It returns the job.
// A token that is not the current attempt's gives a *Error with code
// unauthorized (or forbidden); a job already finished, code conflict.
func (c *Client) Callback(ctx context.Context, jobID, token, status string, result json.RawMessage) (berth.Job, error) {
	body := struct {
		Status string          `json:"status"`
		Result json.RawMessage `json:"result,omitempty"`
	}{status, result}
	var job berth.Job
	r := request{method: http.MethodPost, path: "/v1/jobs/" + url.PathEscape(jobID) + "/callback", body: body, token: token}
	_, err := c.call(ctx, r, &job)
	return job, err
}
