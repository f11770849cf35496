// Package logstore keeps the output of attempts on disk, one file per
// attempt, each capped in size, with stdout and stderr kept apart and each
// piece stamped with its time (see Encoder), and reads a job's output back
// across its attempts, following it while the job runs.
package logstore

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultMaxBytes caps one attempt's log.
const DefaultMaxBytes = 64 << 20

// Store is a directory of attempt logs.
type Store struct {
	dir       string
	maxBytes  int64
	followers followers
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
// dropped after a one-line notice; they never fail for that reason. All
// of an attempt's output is, once its job holds its cap (JobMaxBytes).
// Write it through an Encoder to keep stdout and stderr apart.
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
	if full, err := s.jobFull(jobID, attemptID); err != nil || full {
		return s.dropped(f, jobID, err)
	}
	return &cappedWriter{f: f, left: s.maxBytes, wake: func() { s.followers.wake(jobID) }}, nil
}

type cappedWriter struct {
	f       *os.File
	wake    func() // wakes the job's followers
	left    int64
	cut     bool
	started bool // something was written
	framed  bool // what was written is in the log format
}

func (w *cappedWriter) Write(p []byte) (int, error) {
	n := len(p)
	if w.cut {
		return n, nil
	}
	if !w.started && len(p) > 0 {
		w.started, w.framed = true, bytes.HasPrefix(p, []byte(magic))
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
		if _, err := w.f.Write(notice(w.framed)); err != nil {
			return 0, err
		}
	}
	w.wake()
	return n, nil
}

// Close closes the log and wakes the job's followers: the attempt's output
// has ended.
func (w *cappedWriter) Close() error {
	err := w.f.Close()
	w.wake()
	return err
}

// truncatedNotice ends a log that reached its cap.
const truncatedNotice = "\n[berth: log truncated: this attempt wrote more than its cap]\n"

// notice is what follows a log cut at its cap: the notice, as a frame on
// stderr in a framed log.
func notice(framed bool) []byte {
	if !framed {
		return []byte(truncatedNotice)
	}
	return appendFrame(nil, Stderr, time.Now(), []byte(truncatedNotice))
}

// WriteAt writes p at offset in the attempt's log, as a node agent ships
// output in chunks: writing the same chunk again changes nothing, so a
// chunk whose answer was lost can be sent again, and an agent that starts
// over from offset 0 (after a restart) rewrites what is there. Bytes past
// the cap are dropped; the log then ends with a notice. It returns the
// log's length (capped) and whether the cap was reached. Once the job
// holds its cap (JobMaxBytes), every byte is dropped and the log is a
// notice.
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
	if full, err := s.jobFull(jobID, attemptID); err != nil || full {
		return s.dropAt(jobID, path, offset, p, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
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
		framed, err := isFramed(f)
		if err != nil {
			return 0, false, err
		}
		if _, err := f.WriteAt(notice(framed), s.maxBytes); err != nil {
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
	s.followers.wake(jobID)
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
