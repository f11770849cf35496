package awsfake

import (
	"io"
	"net/http"
	"net/http/httptest"
)

// InProcess returns an HTTP client whose requests h answers in the
// caller's goroutine, without a network. An SDK client given it (its
// HTTPClient option) reaches a fake as through a server, but a call that
// waits in the fake (a long poll) waits on the caller's timers and
// channels only: inside a testing/synctest bubble it waits in virtual
// time, which a socket would not let it do.
func InProcess(h http.Handler) *http.Client {
	return &http.Client{Transport: inProcess{h}}
}

type inProcess struct{ h http.Handler }

// RoundTrip implements http.RoundTripper.
func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	in := req.Clone(req.Context())
	if in.Body == nil {
		in.Body = http.NoBody
	}
	if in.Host == "" {
		in.Host = req.URL.Host
	}
	in.RequestURI = req.URL.RequestURI()
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, in)
	if req.Body != nil {
		req.Body.Close()
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	res := rec.Result()
	res.Request = req
	return res, nil
}

// HTTPClient returns base (httptest.Server.Client() of a fake's server,
// say) with each request body handed to net/http as a plain reader, for
// an SDK client that reaches a fake over a socket.
//
// The SDK closes a request's body as soon as the response's headers
// arrive, while net/http may still be reading the body's end; a body that
// is an io.WriterTo (the SDK's is) then fails that read, and net/http
// closes the connection under the response being read ("use of closed
// network connection"). Over loopback a fake answers fast enough for that
// to happen now and then: with retries off the call fails, with them on
// it is made twice. A plain reader ends the read cleanly.
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

// RoundTrip implements http.RoundTripper.
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
