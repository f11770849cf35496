package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Limits bound what one request may cost the server. The zero value means
// the defaults.
type Limits struct {
	// BodyTimeout is how long a client may take to send a request's body,
	// from the handler's first read of it; a slower body is cut off with 408
	// and its connection closed. Default 30 s.
	BodyTimeout time.Duration
	// WriteTimeout is how long one answer, or one write of a stream, may
	// take to reach a client that does not read it. Default 30 s.
	WriteTimeout time.Duration
	// MaxStreams bounds the long-polls and followed logs open at once; more
	// are answered 503 with Retry-After. Default 4096.
	MaxStreams int
	// JoinRate and JoinBurst bound the joins one source address may
	// attempt: JoinBurst at once, then JoinRate a second (429 past them).
	// Default 1 a second after a burst of 30.
	JoinRate  float64
	JoinBurst int
}

func (l Limits) withDefaults() Limits {
	if l.BodyTimeout <= 0 {
		l.BodyTimeout = 30 * time.Second
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = 30 * time.Second
	}
	if l.MaxStreams <= 0 {
		l.MaxStreams = 4096
	}
	if l.JoinRate <= 0 {
		l.JoinRate = 1
	}
	if l.JoinBurst <= 0 {
		l.JoinBurst = 30
	}
	return l
}

// Body limits of the routes, each sized to its message with room to spare.
const (
	noBody       = 0
	smallBody    = 4 << 10  // started, notices, cancel, drain
	statusBody   = 16 << 10 // join, heartbeats, outcomes
	callbackBody = MaxResultBytes + smallBody
	documentBody = MaxBodyBytes // jobs and schedules
	logChunkBody = 256<<10 + smallBody
	// stream marks a long-poll or a followed log: it takes no body and
	// holds a slot of MaxStreams.
	stream = -1
)

// bounded applies rt's limits around h: the body is cut at rt's size and
// must arrive within BodyTimeout of the handler's first read; the answer
// must be written within WriteTimeout, except on streams, which take a
// slot of MaxStreams and set their own write deadlines.
func (s *Server) bounded(rt route, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if rt.body == stream {
			select {
			case s.streams <- struct{}{}:
				defer func() { <-s.streams }()
			default:
				w.Header().Set("Retry-After", "1")
				writeError(w, http.StatusServiceUnavailable, "busy",
					fmt.Sprintf("too many long-polls and log streams open (%d); try again", cap(s.streams)), "")
				return
			}
		} else {
			_ = rc.SetWriteDeadline(time.Now().Add(s.limits.WriteTimeout))
		}
		body := &boundedBody{
			body:    http.MaxBytesReader(w, r.Body, max(rt.body, 0)),
			rc:      rc,
			timeout: s.limits.BodyTimeout,
		}
		r.Body = body
		h(w, r)
		if r.ContentLength != 0 && !body.ended {
			// The handler answered without reading the whole body (it
			// refused the request first). The server would read on to
			// keep the connection, as slowly as the client sends: let
			// it give up at once and close the connection instead.
			_ = rc.SetReadDeadline(time.Now())
		}
	}
}

// boundedBody is a request body cut at a size and, from its first read,
// at a time.
type boundedBody struct {
	body    io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	started bool
	ended   bool
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if !b.started {
		b.started = true
		_ = b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	}
	n, err := b.body.Read(p)
	if err != nil && !b.ended {
		b.ended = true
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			err = &slowBodyError{b.timeout}
		} else {
			// The body is read: the connection may idle again.
			_ = b.rc.SetReadDeadline(time.Time{})
		}
	}
	return n, err
}

func (b *boundedBody) Close() error { return b.body.Close() }

// slowBodyError is a body that did not arrive in time.
type slowBodyError struct{ timeout time.Duration }

func (e *slowBodyError) Error() string {
	return fmt.Sprintf("the request body did not arrive within %v", e.timeout)
}

// streamWriter writes a stream's answer, each write within WriteTimeout,
// flushing it on demand so that followed logs reach the client as they are
// written.
type streamWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (f streamWriter) Write(p []byte) (int, error) {
	_ = f.rc.SetWriteDeadline(time.Now().Add(f.timeout))
	return f.w.Write(p)
}

func (f streamWriter) Flush() {
	_ = f.rc.SetWriteDeadline(time.Now().Add(f.timeout))
	_ = f.rc.Flush()
}
