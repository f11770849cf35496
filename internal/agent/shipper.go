package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/berth-run/berth/internal/nodeapi"
)

// Shipper is the LogSink of a remote agent: it ships each attempt's output
// to the server in chunks of at most nodeapi.MaxLogChunk, at least every
// FlushEvery while output comes, each chunk naming its offset so that a
// chunk sent again changes nothing. The server keeps the log, capped; once
// it says the cap is reached the rest is dropped here.
//
// While the server cannot be reached, a writer holds up to maxPending bytes
// and then blocks its writer (the container's log stream, which the engine
// keeps), so memory stays bounded.
type Shipper struct {
	ctx    context.Context // ends every shipment
	remote *Remote
	log    *slog.Logger
	// FlushEvery bounds how long output waits before it is shipped.
	FlushEvery time.Duration
}

// maxPending bounds the output one attempt holds while it waits to ship.
const maxPending = 4 * nodeapi.MaxLogChunk

var _ LogSink = (*Shipper)(nil)

// NewShipper returns the log sink of a remote agent; ctx ends its
// shipments (the agent's life).
func NewShipper(ctx context.Context, r *Remote, log *slog.Logger) *Shipper {
	return &Shipper{ctx: ctx, remote: r, log: log, FlushEvery: 200 * time.Millisecond}
}

// Writer implements LogSink. Close ships what is left and returns once the
// server has it (or the agent stops).
func (s *Shipper) Writer(jobID, attemptID string) (io.WriteCloser, error) {
	w := &shipWriter{s: s, attempt: attemptID, wake: make(chan struct{}, 1), done: make(chan struct{})}
	w.cond = sync.NewCond(&w.mu)
	go w.loop()
	return w, nil
}

type shipWriter struct {
	s       *Shipper
	attempt string
	wake    chan struct{} // output waits, or the writer closed
	done    chan struct{} // closed when loop returns

	// mu guards buf, sent, closed and dropped; cond signals that buf shrank
	// or loop ended.
	mu      sync.Mutex
	cond    *sync.Cond
	buf     []byte
	sent    int64 // offset of buf[0] in the log
	closed  bool
	dropped bool // the server wants no more: the cap is reached or the attempt is not ours
}

func (w *shipWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.buf) >= maxPending && !w.dropped && w.s.ctx.Err() == nil {
		w.cond.Wait()
	}
	if w.s.ctx.Err() != nil {
		return 0, w.s.ctx.Err()
	}
	if !w.dropped {
		w.buf = append(w.buf, p...)
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (w *shipWriter) Close() error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	<-w.done
	return nil
}

// loop ships buffered output until the writer is closed and empty.
func (w *shipWriter) loop() {
	defer close(w.done)
	defer w.cond.Broadcast()
	ctx := w.s.ctx
	stop := context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.cond.Broadcast()
		w.mu.Unlock()
	})
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		}
		w.mu.Lock()
		closed := w.closed
		w.mu.Unlock()
		if !closed && !sleep(ctx, w.s.FlushEvery) { // gather output into fewer chunks
			return
		}
		for {
			w.mu.Lock()
			n := min(len(w.buf), nodeapi.MaxLogChunk)
			chunk, offset, closed := w.buf[:n:n], w.sent, w.closed
			w.mu.Unlock()
			if n == 0 {
				if closed {
					return
				}
				break
			}
			ack, ok := w.ship(offset, chunk)
			if !ok {
				return
			}
			w.mu.Lock()
			w.buf = w.buf[n:]
			if len(w.buf) == 0 {
				w.buf = nil
			}
			w.sent += int64(n)
			if ack.Truncated {
				w.dropped, w.buf = true, nil
			}
			w.cond.Broadcast()
			w.mu.Unlock()
		}
	}
}

// ship sends one chunk until the server takes it; false means the agent is
// stopping.
func (w *shipWriter) ship(offset int64, chunk []byte) (nodeapi.LogAck, bool) {
	ctx := w.s.ctx
	backoff := 100 * time.Millisecond
	for {
		ack, err := w.s.remote.ShipLog(ctx, w.attempt, offset, chunk)
		if err == nil {
			return ack, true
		}
		if ctx.Err() != nil {
			return ack, false
		}
		if errors.Is(err, errForbidden) || errors.Is(err, ErrUnauthorized) {
			w.s.log.Warn("log refused; dropping the rest", "attempt", w.attempt, "err", err)
			return nodeapi.LogAck{Truncated: true}, true
		}
		w.s.log.Warn("ship log", "attempt", w.attempt, "err", err)
		if !sleep(ctx, backoff) {
			return ack, false
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}
