package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// LogQuery selects a job's output. The zero value selects every attempt's
// output, both streams, as far as it is written.
type LogQuery struct {
	// Follow keeps the stream open until the job has finished.
	Follow bool
	// Stream is "stdout" or "stderr" for that stream alone; "" for both.
	Stream string
	// Attempt is an attempt's id for its output alone; "" for every
	// attempt's, one after the other.
	Attempt string
}

func (q LogQuery) values(format string) url.Values {
	v := url.Values{}
	if q.Follow {
		v.Set("follow", "1")
	}
	if q.Stream != "" {
		v.Set("stream", q.Stream)
	}
	if q.Attempt != "" {
		v.Set("attempt", q.Attempt)
	}
	if format != "" {
		v.Set("format", format)
	}
	return v
}

// Logs returns the job's output as plain text: stdout and stderr as they
// came, unless q picks one. With q.Follow, the stream stays open until the
// job is terminal or ctx ends; a read then fails with ctx's error. The
// caller closes it. An unknown job (or attempt) gives a *Error with code
// not_found, before any read.
func (c *Client) Logs(ctx context.Context, id string, q LogQuery) (io.ReadCloser, error) {
	resp, err := c.send(ctx, request{method: http.MethodGet, path: "/v1/jobs/" + url.PathEscape(id) + "/logs", query: q.values("")})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// LogEntry is a piece of a job's output, as GET /v1/jobs/{id}/logs?format=json
// writes it, one a line.
type LogEntry struct {
	// Time is when the piece was written; zero for output stored without
	// times.
	Time    time.Time `json:"time,omitzero"`
	Attempt string    `json:"attempt"`
	Stream  string    `json:"stream"` // stdout or stderr
	// Text is the output, with any byte that is not UTF-8 replaced by
	// U+FFFD; Data then holds the exact bytes.
	Text string `json:"text"`
	Data []byte `json:"data,omitempty"`
}

// Bytes returns the piece's output as it was written.
func (e LogEntry) Bytes() []byte {
	if e.Data != nil {
		return e.Data
	}
	return []byte(e.Text)
}

// LogEntries returns the job's output as a stream of entries, each with
// its attempt, stream and time. It follows and fails as Logs does.
func (c *Client) LogEntries(ctx context.Context, id string, q LogQuery) (*LogStream, error) {
	r := request{method: http.MethodGet, path: "/v1/jobs/" + url.PathEscape(id) + "/logs", query: q.values("json")}
	resp, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	return &LogStream{rc: resp.Body, dec: json.NewDecoder(resp.Body), req: r}, nil
}

// LogStream reads a job's output entry by entry. Close it when done.
type LogStream struct {
	rc  io.ReadCloser
	dec *json.Decoder
	req request
}

// Next returns the next entry. It returns io.EOF once the output ends (with
// q.Follow, once the job has finished), and ctx's error when ctx ends.
func (s *LogStream) Next() (LogEntry, error) {
	var e LogEntry
	err := s.dec.Decode(&e)
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return e, err
	case errors.Is(err, io.ErrUnexpectedEOF):
		return e, fmt.Errorf("%s: stream ended in the middle of an entry: %w", s.req, err)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return e, fmt.Errorf("%s: decode entry: %w", s.req, err)
	}
	return e, err
}

// Close closes the stream.
func (s *LogStream) Close() error { return s.rc.Close() }
