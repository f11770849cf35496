package logstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
)

// Entry is a piece of an attempt's output, as it was written.
type Entry struct {
	Attempt string
	Stream  Stream
	// Time is when the piece was written; zero in a log of raw output.
	Time time.Time
	// Text is the output. It is only valid until the function Read gave
	// it to returns.
	Text []byte
}

// Source tells a reader which attempts a job has and whether more output
// may come. It is called again each time the reader reaches the end of what
// it knows.
type Source func(ctx context.Context) (attemptIDs []string, done bool, err error)

// ReadOptions say what Read reads. The zero value reads the output of
// every attempt, both streams, once.
type ReadOptions struct {
	// Follow keeps reading as the job writes, until the source says it is
	// done and every attempt's log is read to its end.
	Follow bool
	// Stream, when set, reads that stream alone.
	Stream Stream
	// Attempt, when set, reads that attempt alone.
	Attempt string
	// Flush, when set, is called when Read has read entries and is about
	// to wait for more.
	Flush func()
}

// Read calls fn with the job's output, attempt after attempt, each in the
// order it was written. It stops at the first error fn returns.
//
// A follower reads again when the job's output grows (it is written
// through this Store: a Writer, or WriteAt) and when it is woken (Wake),
// as it must be once the job or one of its attempts has ended; it reads
// nothing in between. It needs no polling: one server process writes a
// data directory's logs and its store, and both tell it.
func (s *Store) Read(ctx context.Context, jobID string, src Source, opt ReadOptions, fn func(Entry) error) error {
	var followed *followed
	if opt.Follow {
		followed = s.followers.join(jobID)
		defer s.followers.leave(jobID, followed)
	}
	offsets := map[string]int64{}
	for {
		var changed <-chan struct{}
		if opt.Follow {
			changed = s.followers.changed(followed)
		}
		ids, done, err := src(ctx)
		if err != nil {
			return err
		}
		progressed := false
		for _, id := range ids {
			if opt.Attempt != "" && id != opt.Attempt {
				continue
			}
			n, err := s.scan(jobID, id, offsets[id], opt.Stream, fn)
			if err != nil {
				return err
			}
			progressed = progressed || n != offsets[id]
			offsets[id] = n
		}
		if !opt.Follow || (done && !progressed) {
			return nil
		}
		if progressed {
			if opt.Flush != nil {
				opt.Flush()
			}
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// Copy writes the text of the job's output, both streams as they came,
// attempt after attempt, to w. With follow it keeps reading as the job
// writes until src reports done and every attempt's log is read to its
// end; otherwise it stops at the end of what exists. A w with a Flush
// method is flushed whenever Copy waits for more.
func (s *Store) Copy(ctx context.Context, w io.Writer, jobID string, src Source, follow bool) error {
	opt := ReadOptions{Follow: follow}
	if f, ok := w.(interface{ Flush() }); ok {
		opt.Flush = f.Flush
	}
	return s.Read(ctx, jobID, src, opt, func(e Entry) error {
		_, err := w.Write(e.Text)
		return err
	})
}

// scan reads the attempt's log from offset, calls fn for each entry of
// stream want (both when 0), and returns the offset after the last whole
// frame it read, where the next scan starts.
func (s *Store) scan(jobID, attemptID string, offset int64, want Stream, fn func(Entry) error) (int64, error) {
	p, err := s.path(jobID, attemptID)
	if err != nil {
		return offset, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return offset, nil
	}
	if err != nil {
		return offset, fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return offset, fmt.Errorf("stat log: %w", err)
	}
	size := fi.Size()
	head := make([]byte, len(magic))
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return offset, fmt.Errorf("read log: %w", err)
	}
	head = head[:n]
	r := reader{f: f, attempt: attemptID, want: want, fn: fn}
	switch {
	case n == len(magic) && string(head) == magic:
	case n > 0 && n < len(magic) && strings.HasPrefix(magic, string(head)):
		return offset, nil // the magic is on its way
	default:
		return r.raw(offset, size)
	}
	offset = max(offset, int64(len(magic)))
	if offset < s.maxBytes {
		// The log proper: frames up to the cap, the last one cut there
		// once the log has reached it.
		offset, err = r.frames(offset, min(size, s.maxBytes), size >= s.maxBytes)
		if err != nil || offset < s.maxBytes {
			return offset, err
		}
	}
	return r.frames(offset, size, false) // the notice past the cap
}

// reader reads one attempt's log.
type reader struct {
	f       *os.File
	attempt string
	want    Stream
	fn      func(Entry) error
	buf     []byte
}

// raw reads a log of raw output from offset to end, as stdout.
func (r *reader) raw(offset, end int64) (int64, error) {
	if r.want == Stderr {
		return max(offset, end), nil
	}
	r.buf = make([]byte, maxFrame)
	for offset < end {
		n, err := r.f.ReadAt(r.buf[:min(int64(len(r.buf)), end-offset)], offset)
		if n > 0 {
			if err := r.fn(Entry{Attempt: r.attempt, Stream: Stdout, Text: r.buf[:n]}); err != nil {
				return offset, err
			}
			offset += int64(n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return offset, fmt.Errorf("read log: %w", err)
		}
	}
	return offset, nil
}

// frames reads the frames from offset to end. A frame that does not end by
// end is left for a later read, unless cut says that end is the cap: then
// what it has before end is read, and frames returns end.
func (r *reader) frames(offset, end int64, cut bool) (int64, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(r.f, offset, end-offset), maxFrame)
	var hb [headerLen]byte
	for offset < end {
		if end-offset < headerLen {
			if cut {
				return end, nil
			}
			return offset, nil
		}
		if _, err := io.ReadFull(br, hb[:]); err != nil {
			return offset, fmt.Errorf("read log: %w", err)
		}
		h := readHeader(hb[:])
		body := h.length
		if offset+headerLen+body > end {
			if !cut {
				return offset, nil
			}
			body = end - offset - headerLen
		}
		if err := r.text(br, h, body); err != nil {
			return offset, err
		}
		offset += headerLen + body
	}
	return offset, nil
}

// text reads a frame's text of n bytes from br and hands it to fn, in
// pieces of at most maxFrame bytes.
func (r *reader) text(br *bufio.Reader, h header, n int64) error {
	if r.want != 0 && r.want != h.stream {
		if _, err := br.Discard(int(n)); err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		return nil
	}
	for n > 0 {
		k := min(n, maxFrame)
		if int64(cap(r.buf)) < k {
			r.buf = make([]byte, maxFrame)
		}
		b := r.buf[:k]
		if _, err := io.ReadFull(br, b); err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		if err := r.fn(Entry{Attempt: r.attempt, Stream: h.stream, Time: h.time, Text: b}); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// isFramed reports whether the log in f is in the log format.
func isFramed(f *os.File) (bool, error) {
	head := make([]byte, len(magic))
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return false, fmt.Errorf("read log: %w", err)
	}
	return string(head[:n]) == magic, nil
}
