package shim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ErrRefused is wrapped by the error of a claim that did not run the job's
// process and that a cold start may run: the shim refused it (it does not
// fit the container), did not answer, or is gone.
var ErrRefused = errors.New("warm container refused the claim")

// ExecError is the shim's failure to start the job's process (no such
// executable, nothing to run): a cold start of the same job fails alike.
type ExecError struct{ Reason string }

func (e *ExecError) Error() string { return e.Reason }

// Record is the agent's record of the attempt that claimed a warm
// container (ClaimName).
type Record struct {
	JobID     string    `json:"job_id"`
	AttemptID string    `json:"attempt_id"`
	At        time.Time `json:"at"`
	// Ran says the claim ran the job's process, as the agent saw it
	// happen: it holds whatever the process does to the fate file.
	Ran bool `json:"ran,omitempty"`
}

// Send claims the warm container whose directory (on the host) is dir for
// c: it records the claim, sends it to the shim and returns once the job's
// process runs in place of the shim. A claim that ctx ends, or that the
// shim does not take, is abandoned (Abandon) unless the shim took it
// meanwhile. The error wraps ErrRefused, or is an *ExecError.
func Send(ctx context.Context, dir string, c Claim) error {
	rec := Record{JobID: c.JobID, AttemptID: c.AttemptID, At: time.Now().UTC()}
	if err := writeRecord(dir, rec); err != nil {
		return fmt.Errorf("%w: record the claim: %w", ErrRefused, err)
	}
	err := send(ctx, dir, c)
	var ee *ExecError
	if errors.As(err, &ee) {
		return err
	}
	ran := err == nil
	var aerr error
	if !ran {
		ran, aerr = Abandon(dir)
	}
	switch {
	case ran:
		rec.Ran = true
		// Best effort: the fate file says so too, until the job's
		// process, which can write there, says otherwise.
		_ = writeRecord(dir, rec)
		return nil
	case aerr != nil:
		return fmt.Errorf("%w: %w; abandon the claim: %w", ErrRefused, err, aerr)
	}
	return fmt.Errorf("%w: %w", ErrRefused, err)
}

// readyWithin is how long after its first try a claim waits for a warm
// container's shim to listen.
const readyWithin = 2 * time.Second

// send sends c and reads the shim's answer: nothing, then end-of-file,
// when the job's process runs.
func send(ctx context.Context, dir string, c Claim) error {
	// A container just started may not listen yet: its socket is
	// missing or refuses. Dial again for a while, never for ever.
	var d net.Dialer
	path := filepath.Join(dir, RunDir, SocketName)
	ready := time.Now().Add(readyWithin)
	conn, err := d.DialContext(ctx, "unix", path)
	for err != nil && (errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT)) && time.Now().Before(ready) {
		select {
		case <-ctx.Done():
			return err
		case <-time.After(5 * time.Millisecond):
		}
		conn, err = d.DialContext(ctx, "unix", path)
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if err := json.NewEncoder(conn).Encode(c); err != nil {
		return fmt.Errorf("send the claim: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(conn, 64<<10))
	if err != nil {
		return fmt.Errorf("read the shim's answer: %w", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		// End-of-file: the socket closed on exec, or the shim died.
		if Fate(dir) == Exec {
			return nil
		}
		return errors.New("the shim closed the socket without taking the claim")
	}
	var a Answer
	if err := json.Unmarshal(b, &a); err != nil {
		return fmt.Errorf("read the shim's answer %q: %w", strings.TrimSpace(string(b)), err)
	}
	if a.NoExec != "" {
		return &ExecError{Reason: a.NoExec}
	}
	return errors.New(a.Refused)
}

// Abandon decides, for good, that the claim of the warm container whose
// directory is dir does not run the job's process, unless the shim has
// decided first that it does: ran reports the shim's decision.
func Abandon(dir string) (ran bool, err error) {
	won, err := decide(filepath.Join(dir, RunDir), Abandoned)
	if err != nil || won {
		return false, err
	}
	return Fate(dir) == Exec, nil
}

// decide creates the fate file in dir (a container's RunDir) holding
// fate, whole, unless it exists: won reports whether this call created it.
func decide(dir, fate string) (won bool, err error) {
	tmp, err := os.CreateTemp(dir, FateName+".*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(fate)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return false, werr
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return false, err
	}
	// A link is made whole and refused when the name exists: the first
	// to link decides.
	err = os.Link(tmp.Name(), filepath.Join(dir, FateName))
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	return err == nil, err
}

// Fate is what was decided of the claim of the warm container whose
// directory is dir: Exec, Abandoned, or "" while nothing is.
func Fate(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, RunDir, FateName))
	if err != nil {
		return ""
	}
	return string(b)
}

// ReadRecord returns the claim recorded in dir, if any.
func ReadRecord(dir string) (Record, bool) {
	b, err := os.ReadFile(filepath.Join(dir, ClaimName))
	if err != nil {
		return Record{}, false
	}
	var r Record
	if json.Unmarshal(b, &r) != nil || r.AttemptID == "" {
		return Record{}, false
	}
	return r, true
}

func writeRecord(dir string, r Record) error {
	b, _ := json.Marshal(r) // plain fields: cannot fail
	return writeFile(filepath.Join(dir, ClaimName), b)
}

// writeFile writes name whole or not at all.
func writeFile(name string, b []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}
