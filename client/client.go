// Package client is the Go client of berth's REST API, used by the CLI, the
// node agent and tests.
//
// Every method takes a context and returns, besides transport errors (which
// come from net/http and name the request), a *Error for any non-2xx answer.
// Callers branch on Error.Code, or on errors.Is(err, berth.ErrNotFound) and
// errors.Is(err, berth.ErrConflict).
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// Client calls one berth server. It is safe for concurrent use.
type Client struct {
	base  string // scheme://host[:port][/prefix], without a trailing slash
	token string
	hc    *http.Client
}

// New returns a client of the server at addr ("http://127.0.0.1:7070"; a
// missing scheme means http) that sends token as its bearer token. A nil hc
// means an http.Client with no overall timeout, since log streams last as long
// as their job: bound each call with its context instead.
func New(addr, token string, hc *http.Client) *Client {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return &Client{base: strings.TrimRight(addr, "/"), token: token, hc: hc}
}

// Health checks that the server answers GET /healthz with status ok. It sends
// no token. It returns a *Error when the server answers otherwise.
func (c *Client) Health(ctx context.Context) error {
	var h struct {
		Status string `json:"status"`
	}
	if _, err := c.call(ctx, request{method: http.MethodGet, path: "/healthz", noAuth: true}, &h); err != nil {
		return err
	}
	if h.Status != "ok" {
		return &Error{Status: http.StatusOK, Message: fmt.Sprintf("health status is %q, not ok", h.Status)}
	}
	return nil
}

// request is one call of the API.
type request struct {
	method string
	path   string // escaped, starting with a slash
	query  url.Values
	body   any    // marshalled as JSON when non-nil
	token  string // overrides the client's token when non-empty
	noAuth bool   // send no Authorization header
}

func (r request) String() string { return r.method + " " + r.path }

// send sends r and returns the response when its status is 2xx. Any other
// status is read and returned as a *Error, and the body is closed.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("%s: encode body: %w", r, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r, err)
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "berth-client")
	token := c.token
	if r.token != "" {
		token = r.token
	}
	if token != "" && !r.noAuth {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, readError(resp)
}

// call sends r and decodes a 2xx response's JSON body into out (unless out is
// nil). It returns the response's status.
func (c *Client) call(ctx context.Context, r request, out any) (int, error) {
	resp, err := c.send(ctx, r)
	if err != nil {
		return 0, err
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody)) // let the connection be reused
		resp.Body.Close()
	}()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s: decode response: %w", r, err)
		}
	}
	return resp.StatusCode, nil
}

// readError turns a non-2xx response into a *Error.
func readError(resp *http.Response) *Error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var doc struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &doc) == nil && doc.Error != nil && doc.Error.Code != "" {
		return &Error{Status: resp.StatusCode, Code: doc.Error.Code, Message: doc.Error.Message, Field: doc.Error.Field}
	}
	msg := "unexpected response " + resp.Status
	if s := strings.TrimSpace(string(b)); s != "" {
		if len(s) > 200 {
			s = s[:200] + "..."
		}
		msg += ": " + s
	}
	return &Error{Status: resp.StatusCode, Message: msg}
}
