package logstore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// jobCapAttempts is how many attempts' worth of output a job keeps in
// all: 256 MiB at the default cap of one attempt's log.
const jobCapAttempts = 4

// JobMaxBytes caps the logs of a job's attempts together. An attempt's
// log starts with its own whole cap while the job's earlier attempts hold
// no more than JobMaxBytes less that cap; past that, the attempt's output
// is dropped, and its log says so. A log is kept whole or not at all, so
// that each one cut short is cut at the one place readers know, its own
// cap.
func (s *Store) JobMaxBytes() int64 { return jobCapAttempts * s.maxBytes }

// droppedNotice is the whole log of an attempt whose job holds its cap of
// output.
const droppedNotice = "[berth: log dropped: this job's earlier attempts hold all the output a job may keep]\n"

// jobFull reports whether the attempt's output is to be dropped: the
// attempts of its job made before it (their ids sort before its own) hold
// so much that one whole attempt's log more would take the job past
// JobMaxBytes.
func (s *Store) jobFull(jobID, attemptID string) (bool, error) {
	dir := filepath.Join(s.dir, jobID) // jobID was checked by path
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read log directory: %w", err)
	}
	var held int64
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok || id >= attemptID {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("stat log: %w", err)
		}
		held += min(fi.Size(), s.maxBytes)
	}
	return held+s.maxBytes > s.JobMaxBytes(), nil
}

// droppedLog is the log of an attempt whose output is dropped: the notice,
// in the log format when the output comes in it (starts with the magic),
// within the cap, where readers of that format take a log to be cut.
func (s *Store) droppedLog(first []byte) []byte {
	if !strings.HasPrefix(string(first), magic) {
		return []byte(droppedNotice)
	}
	b := appendFrame([]byte(magic), Stderr, time.Now(), []byte(droppedNotice))
	return b[:min(int64(len(b)), s.maxBytes)]
}

// dropped is Writer's answer for an attempt whose output is dropped (or
// err): a writer that writes the notice in f at the first write and
// discards the rest.
func (s *Store) dropped(f *os.File, jobID string, err error) (io.WriteCloser, error) {
	if err != nil {
		f.Close()
		return nil, err
	}
	return &droppedWriter{f: f, s: s, jobID: jobID}, nil
}

type droppedWriter struct {
	f       *os.File
	s       *Store
	jobID   string
	started bool
}

func (w *droppedWriter) Write(p []byte) (int, error) {
	if !w.started && len(p) > 0 {
		w.started = true
		if _, err := w.f.Write(w.s.droppedLog(p)); err != nil {
			return 0, err
		}
		w.s.followers.wake(w.jobID)
	}
	return len(p), nil
}

func (w *droppedWriter) Close() error {
	err := w.f.Close()
	w.s.followers.wake(w.jobID)
	return err
}

// dropAt is WriteAt's answer for an attempt whose output is dropped (or
// err): a chunk at offset 0 makes the log the notice; every chunk is
// reported truncated, so that its agent ships no more.
func (s *Store) dropAt(jobID, path string, offset int64, p []byte, err error) (int64, bool, error) {
	if err != nil {
		return 0, false, err
	}
	if offset == 0 && len(p) > 0 {
		if err := os.WriteFile(path, s.droppedLog(p), 0o600); err != nil {
			return 0, false, fmt.Errorf("write log: %w", err)
		}
		s.followers.wake(jobID)
	}
	return 0, true, nil
}
