// Package datadir opens the data directories of berth's server and agent:
// private to the user that runs berth, as ssh requires of its keys, and
// held by one process at a time, so that two servers never run one store
// and two agents never act as one node.
package datadir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// LockFile is the file in a data directory that its process holds locked
// and that names the process.
const LockFile = "lock"

// ErrInUse is the error of Open when another process holds the directory.
var ErrInUse = errors.New("data directory in use")

// InUseError says which process holds a data directory.
type InUseError struct {
	Dir string
	PID int // 0 when it could not be read
}

func (e *InUseError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("data directory %s is in use by another process", e.Dir)
	}
	return fmt.Sprintf("data directory %s is in use by pid %d", e.Dir, e.PID)
}

// Is makes errors.Is(err, ErrInUse) true.
func (e *InUseError) Is(target error) bool { return target == ErrInUse }

// Dir is a data directory held by this process.
type Dir struct {
	Path string
	lock *os.File
}

// Open creates the data directory at path if need be (mode 0700), refuses
// it when other users may read or enter it, tightens the files directly in
// it to their owner, and locks it for this process's life: a second Open,
// in this process or another, fails with an *InUseError until Close.
func Open(path string) (*Dir, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	if err := checkPrivate(path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(path, LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open data directory lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &InUseError{Dir: path, PID: readPID(f)}
		}
		return nil, fmt.Errorf("lock data directory %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err := tighten(path); err != nil {
		f.Close()
		return nil, err
	}
	return &Dir{Path: path, lock: f}, nil
}

// Close lets another process open the directory.
func (d *Dir) Close() error {
	if d == nil || d.lock == nil {
		return nil
	}
	_ = syscall.Flock(int(d.lock.Fd()), syscall.LOCK_UN)
	err := d.lock.Close()
	d.lock = nil
	return err
}

func readPID(f *os.File) int {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// checkPrivate refuses a directory that another user owns or that its
// group or others may read, write or enter.
func checkPrivate(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("data directory %s is not a directory", path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("data directory %s belongs to user %d, not to this one (%d): give a directory of your own with --data", path, st.Uid, os.Geteuid())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("data directory %s is open to other users (mode %04o); it holds the store and secrets: run chmod 700 %s", path, perm, path)
	}
	return nil
}

// tighten takes group and other permissions off the files directly in the
// directory (a store written by an older berth, a token copied in by hand).
func tighten(path string) error {
	entries, err := os.ReadDir(path)
	if err != nil {
		return fmt.Errorf("read data directory: %w", err)
	}
	for _, e := range entries {
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 && fi.Mode()&fs.ModeSymlink == 0 {
			if err := os.Chmod(filepath.Join(path, e.Name()), perm&^0o077); err != nil {
				return fmt.Errorf("make %s private: %w", filepath.Join(path, e.Name()), err)
			}
		}
	}
	return nil
}

// PrivateFiles makes every file this process creates from now on private
// to its user (umask 077), whatever mode the code creating it asks for.
func PrivateFiles() { syscall.Umask(0o077) }
