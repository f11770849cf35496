// Package logstore keeps the output of attempts on disk, one file per
// attempt, each capped in size, and reads a job's output back across its
// attempts, following it while the job runs.
package logstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultMaxBytes caps one attempt's log.
const DefaultMaxBytes = 64 << 20

// Store is a directory of attempt logs.
type Store struct {
	dir      string
	maxBytes int64
}

// New returns a Store in dir, creating it. maxBytes ≤ 0 means DefaultMaxBytes.
func New(dir string, maxBytes int64) (*Store, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	return &Store{dir: dir, maxBytes: maxBytes}, nil
}

func (s *Store) path(jobID, attemptID string) (string, error) {
	for _, id := range []string{jobID, attemptID} {
		if id == "" || strings.ContainsAny(id, `/\.`) {
			return "", fmt.Errorf("invalid id %q", id)
		}
	}
	return filepath.Join(s.dir, jobID, attemptID+".log"), nil
}

// Writer opens the attempt's log for appending. Writes past the cap are
// dropped after a one-line notice; they never fail for that reason.
func (s *Store) Writer(jobID, attemptID string) (io.WriteCloser, error) {
	p, err := s.path(jobID, attemptID)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	return &cappedWriter{f: f, left: s.maxBytes}, nil
}

type cappedWriter struct {
	f    *os.File
	left int64
	cut  bool
}

func (w *cappedWriter) Write(p []byte) (int, error) {
	n := len(p)
	if w.cut {
		return n, nil
	}
	if int64(len(p)) > w.left {
		p = p[:w.left]
		w.cut = true
	}
	if _, err := w.f.Write(p); err != nil {
		return 0, err
	}
	w.left -= int64(len(p))
	if w.cut {
		if _, err := io.WriteString(w.f, truncatedNotice); err != nil {
			return 0, err
		}
	}
	return n, nil
}

func (w *cappedWriter) Close() error { return w.f.Close() }

// truncatedNotice ends a log that reached its cap.
const truncatedNotice = "\n[berth: log truncated: this attempt wrote more than its cap]\n"

// WriteAt writes p at offset in the attempt's log, as a node agent ships
// output in chunks: writing the same chunk again changes nothing, so a
// chunk whose answer was lost can be sent again, and an agent that starts
// over from offset 0 (after a restart) rewrites what is there. Bytes past
// the cap are dropped; the log then ends with a notice. It returns the
// log's length (capped) and whether the cap was reached.
func (s *Store) WriteAt(jobID, attemptID string, offset int64, p []byte) (size int64, truncated bool, err error) {
	if offset < 0 {
		return 0, false, fmt.Errorf("negative offset %d", offset)
	}
	path, err := s.path(jobID, attemptID)
	if err != nil {
		return 0, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return 0, false, fmt.Errorf("create log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, false, fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	if offset < s.maxBytes {
		keep := p[:min(int64(len(p)), s.maxBytes-offset)]
		if _, err := f.WriteAt(keep, offset); err != nil {
			return 0, false, fmt.Errorf("write log: %w", err)
		}
		truncated = offset+int64(len(p)) > s.maxBytes
	} else {
		truncated = len(p) > 0
	}
	if truncated {
		if _, err := f.WriteAt([]byte(truncatedNotice), s.maxBytes); err != nil {
			return 0, false, fmt.Errorf("write log: %w", err)
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, false, fmt.Errorf("stat log: %w", err)
	}
	size = fi.Size()
	if size > s.maxBytes {
		size, truncated = s.maxBytes, true
	}
	return size, truncated, nil
}

// Remove deletes every log of a job.
func (s *Store) Remove(jobID string) error {
	p, err := s.path(jobID, "x")
	if err != nil {
		return err
	}
	return os.RemoveAll(filepath.Dir(p))
}

// Source tells a reader which attempts a job has and whether more output
// may come. It is called again each time the reader reaches the end of what
// it knows.
type Source func(ctx context.Context) (attemptIDs []string, done bool, err error)

// Copy writes the job's output, attempt after attempt, to w. With follow it
// keeps reading as the job writes until src reports done and every attempt's
// log is read to its end; otherwise it stops at the end of what exists.
func (s *Store) Copy(ctx context.Context, w io.Writer, jobID string, src Source, follow bool) error {
	offsets := map[string]int64{}
	for {
		ids, done, err := src(ctx)
		if err != nil {
			return err
		}
		progressed := false
		for _, id := range ids {
			n, err := s.copyFrom(w, jobID, id, offsets[id])
			if err != nil {
				return err
			}
			offsets[id] += n
			progressed = progressed || n > 0
		}
		if !follow || (done && !progressed) {
			return nil
		}
		if f, ok := w.(interface{ Flush() }); ok && progressed {
			f.Flush()
		}
		if !progressed {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// copyFrom copies the attempt's log from offset to w and returns how much.
func (s *Store) copyFrom(w io.Writer, jobID, attemptID string, offset int64) (int64, error) {
	p, err := s.path(jobID, attemptID)
	if err != nil {
		return 0, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return 0, fmt.Errorf("seek log: %w", err)
	}
	return io.Copy(w, f)
}
