package logstore

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"time"
)

// The log format. An attempt's log is a byte stream, written in order by
// one writer (a local Writer, or a node agent shipping it in chunks at
// offsets), so that it can be kept and shipped as bytes. To keep stdout
// and stderr apart, and to say when each piece came, the stream is framed:
//
//	magic   "\x00berth-log1\n"
//	frame   stream (1 byte: 1 stdout, 2 stderr)
//	        time   (8 bytes: Unix nanoseconds, big-endian)
//	        length (4 bytes: of the text, big-endian)
//	        text   (length bytes)
//	frame   ...
//
// A log that does not start with the magic holds raw output, as logs
// written before the format had it, or by a writer that does not tell
// the streams apart: it reads as stdout. A log cut at the store's cap ends
// its last frame there, short of its length, and goes on with a frame
// that says so.
const magic = "\x00berth-log1\n"

// headerLen is the size of a frame's header.
const headerLen = 1 + 8 + 4

// maxFrame bounds the text of one frame an Encoder writes.
const maxFrame = 64 << 10

// Stream is an output stream of a container.
type Stream uint8

// The streams. The zero Stream means both, where a filter is asked for.
const (
	Stdout Stream = 1
	Stderr Stream = 2
)

func (s Stream) String() string {
	switch s {
	case Stdout:
		return "stdout"
	case Stderr:
		return "stderr"
	}
	return ""
}

// ParseStream reads "stdout" or "stderr"; "" is the zero Stream (both).
func ParseStream(s string) (Stream, error) {
	switch s {
	case "stdout":
		return Stdout, nil
	case "stderr":
		return Stderr, nil
	case "":
		return 0, nil
	}
	return 0, fmt.Errorf("%q is not a stream: want stdout or stderr", s)
}

// Encoder writes a container's output in the log format to w, the
// attempt's log (a Store's Writer, or an agent's shipper): give it, or its
// two Stream writers, to the runner in place of w. Its writers may be
// written from several goroutines; each Write is one or more whole frames
// in one Write to w.
type Encoder struct {
	now func() time.Time

	// mu guards w and started.
	mu      sync.Mutex
	w       io.Writer
	started bool // the magic is written
}

// NewEncoder returns an Encoder writing to w; now stamps each piece of
// output (time.Now when nil).
func NewEncoder(w io.Writer, now func() time.Time) *Encoder {
	if now == nil {
		now = time.Now
	}
	return &Encoder{w: w, now: now}
}

// Stream returns the writer of stream s (Stdout or Stderr).
func (e *Encoder) Stream(s Stream) io.Writer { return streamWriter{e, s} }

// Write writes p to stdout, so that an Encoder can stand for the one
// writer a runner takes: one that cannot tell the streams apart writes
// stdout, one that can writes stderr to Stderr.
func (e *Encoder) Write(p []byte) (int, error) { return e.Stream(Stdout).Write(p) }

// Stderr returns the writer of stderr.
func (e *Encoder) Stderr() io.Writer { return e.Stream(Stderr) }

type streamWriter struct {
	e *Encoder
	s Stream
}

func (w streamWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	e := w.e
	at := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	buf := make([]byte, 0, len(magic)+len(p)+headerLen*(1+len(p)/maxFrame))
	if !e.started {
		buf = append(buf, magic...)
	}
	for rest := p; len(rest) > 0; {
		n := min(len(rest), maxFrame)
		buf = appendFrame(buf, w.s, at, rest[:n])
		rest = rest[n:]
	}
	if _, err := e.w.Write(buf); err != nil {
		return 0, err
	}
	e.started = true
	return len(p), nil
}

// appendFrame appends one frame holding text to buf.
func appendFrame(buf []byte, s Stream, at time.Time, text []byte) []byte {
	buf = append(buf, byte(s))
	buf = binary.BigEndian.AppendUint64(buf, uint64(at.UnixNano()))
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(text)))
	return append(buf, text...)
}

// header is a frame's header, read.
type header struct {
	stream Stream
	time   time.Time
	length int64
}

func readHeader(b []byte) header {
	s := Stream(b[0])
	if s != Stderr {
		s = Stdout // any other value is taken for stdout, never refused
	}
	return header{
		stream: s,
		time:   time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9]))).UTC(),
		length: int64(binary.BigEndian.Uint32(b[9:13])),
	}
}
