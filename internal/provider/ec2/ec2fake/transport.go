package ec2fake

import (
	"io"
	"net/http"
)

// HTTPClient returns the HTTP client for an SDK client to reach a fake
// with: base's (httptest.Server.Client() of the fake's server, say), but
// with each request body handed to net/http as a plain reader.
//
// The SDK closes a request's body as soon as the response's headers
// arrive, while net/http may still be reading the body's end; a body that
// is an io.WriterTo (the SDK's is) then fails that read with io.EOF, and
// net/http closes the connection under the response being read: "use of
// closed network connection". Over loopback the fake answers fast enough
// for that to happen now and then. The SDK's default retryer retries it,
// which puts a repeated request in the call log; with retries off the call
// fails. A plain reader's io.EOF ends the read cleanly.
func HTTPClient(base *http.Client) *http.Client {
	c := *base
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = plainBodies{next}
	return &c
}

type plainBodies struct{ next http.RoundTripper }

func (t plainBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r = r.Clone(r.Context())
		r.Body = plainBody{r.Body}
	}
	return t.next.RoundTrip(r)
}

// plainBody hides every method of its body but Read and Close.
type plainBody struct{ body io.ReadCloser }

func (b plainBody) Read(p []byte) (int, error) { return b.body.Read(p) }
func (b plainBody) Close() error               { return b.body.Close() }
