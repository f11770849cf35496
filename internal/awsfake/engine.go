package awsfake

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Engine runs the containers of the ECS fake's tasks: MemoryEngine in
// memory, or the local Docker engine (package awsfake/ecsdocker).
type Engine interface {
	// Start creates and starts a container. A container that cannot
	// start is a *StartError; any other error is the engine's fault and
	// fails the task the same way.
	Start(ctx context.Context, c ContainerSpec) (Process, error)
}

// ContainerSpec is one container of a task, as the engine runs it.
type ContainerSpec struct {
	Task      string // the task's ARN, for labels
	Name      string // the container definition's name
	Image     string
	Command   []string          // nil: the image's
	Env       map[string]string // the definition's environment with the overrides
	MemoryMiB int               // hard limit
	CPU       int               // CPU units, 1024 to a vCPU; 0: no limit
	// Log receives the container's output, a line at a time, in the
	// order written; nil drops it. It is called from one goroutine at a
	// time, and never after the Process's Wait returns.
	Log func(LogLine)
}

// LogLine is one line a container wrote.
type LogLine struct {
	Time   time.Time
	Stderr bool
	Text   string // without its newline
}

// Process is a started container.
type Process interface {
	// Stop sends SIGTERM, then SIGKILL after grace if the container has
	// not exited. It returns at once; Wait says when the container is gone.
	Stop(grace time.Duration)
	// Kill stops the container at once.
	Kill()
	// Wait blocks until the container exited and its output was handed
	// to the spec's Log, and says how it exited. The engine frees the
	// container then.
	Wait() Exit
}

// Exit is how a container ended.
type Exit struct {
	Code int
	OOM  bool // killed for its memory
}

// StartError is a container that could not start. Reason is what ECS
// writes as the task's stoppedReason: "CannotPullContainerError: ..." or
// "CannotStartContainerError: ...".
type StartError struct{ Reason string }

func (e *StartError) Error() string { return e.Reason }

// MemoryEngine is an Engine without containers, for tests that hold
// thousands of tasks: a container follows a script in its environment,
// the convention of berth's fake provider (internal/provider/fake):
//
//	FAKE_RUN_FOR         how long it runs (a Go duration; default 0)
//	FAKE_EXIT_CODE       its exit code (default 0)
//	FAKE_OUTPUT          what it writes to stdout at the start, a line at a time
//	FAKE_OOM=1           it is killed for its memory at the end of its run (exit 137)
//	FAKE_IGNORE_SIGTERM=1 it outlives SIGTERM until SIGKILL
//	FAKE_START_ERROR     it fails to start, with this message
//
// SIGTERM ends a container at once with exit code 143, SIGKILL with 137.
// Its timers are the runtime's, so in a testing/synctest bubble it runs
// in virtual time.
type MemoryEngine struct {
	// mu guards missing and running.
	mu      sync.Mutex
	missing map[string]bool
	running int
}

// NewMemoryEngine returns an engine on which every image exists.
func NewMemoryEngine() *MemoryEngine {
	return &MemoryEngine{missing: map[string]bool{}}
}

// RemoveImage makes image missing: its containers fail to start with
// CannotPullContainerError.
func (m *MemoryEngine) RemoveImage(image string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.missing[image] = true
}

// Running returns how many containers run now.
func (m *MemoryEngine) Running() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.running
}

// Start implements Engine.
func (m *MemoryEngine) Start(_ context.Context, c ContainerSpec) (Process, error) {
	m.mu.Lock()
	missing := m.missing[c.Image]
	m.mu.Unlock()
	if missing {
		return nil, &StartError{Reason: PullErrorReason(c.Image)}
	}
	if msg := c.Env["FAKE_START_ERROR"]; msg != "" {
		return nil, &StartError{Reason: "CannotStartContainerError: " + msg}
	}
	runFor, err := time.ParseDuration(envOr(c.Env, "FAKE_RUN_FOR", "0s"))
	if err != nil || runFor < 0 {
		return nil, &StartError{Reason: fmt.Sprintf("CannotStartContainerError: FAKE_RUN_FOR=%q: not a duration", c.Env["FAKE_RUN_FOR"])}
	}
	code, err := strconv.Atoi(envOr(c.Env, "FAKE_EXIT_CODE", "0"))
	if err != nil || code < 0 || code > 255 {
		return nil, &StartError{Reason: fmt.Sprintf("CannotStartContainerError: FAKE_EXIT_CODE=%q: not an exit code", c.Env["FAKE_EXIT_CODE"])}
	}
	p := &memProcess{engine: m, done: make(chan struct{}), ignoreTerm: c.Env["FAKE_IGNORE_SIGTERM"] == "1"}
	if out := c.Env["FAKE_OUTPUT"]; out != "" && c.Log != nil {
		now := time.Now()
		for _, line := range splitLines(out) {
			c.Log(LogLine{Time: now, Text: line})
		}
	}
	m.mu.Lock()
	m.running++
	m.mu.Unlock()
	exit := Exit{Code: code}
	if c.Env["FAKE_OOM"] == "1" {
		exit = Exit{Code: 137, OOM: true}
	}
	p.mu.Lock()
	p.timer = time.AfterFunc(runFor, func() { p.end(exit) })
	p.mu.Unlock()
	return p, nil
}

// PullErrorReason is the stoppedReason of a task whose image is missing,
// in Fargate's words.
func PullErrorReason(image string) string {
	return fmt.Sprintf("CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref %s: %s: not found", image, image)
}

func envOr(env map[string]string, k, def string) string {
	if v, ok := env[k]; ok {
		return v
	}
	return def
}

// splitLines splits s at newlines, dropping a final empty line.
func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}

// memProcess is a MemoryEngine container.
type memProcess struct {
	engine     *MemoryEngine
	ignoreTerm bool
	done       chan struct{}

	// mu guards exit, ended, timer and kill.
	mu    sync.Mutex
	exit  Exit
	ended bool
	timer *time.Timer
	kill  *time.Timer
}

// end ends the container with e, once.
func (p *memProcess) end(e Exit) {
	p.mu.Lock()
	if p.ended {
		p.mu.Unlock()
		return
	}
	p.ended, p.exit = true, e
	p.timer.Stop()
	if p.kill != nil {
		p.kill.Stop()
	}
	p.mu.Unlock()
	p.engine.mu.Lock()
	p.engine.running--
	p.engine.mu.Unlock()
	close(p.done)
}

func (p *memProcess) Stop(grace time.Duration) {
	if !p.ignoreTerm {
		p.end(Exit{Code: 143})
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended || p.kill != nil {
		return
	}
	p.kill = time.AfterFunc(grace, p.Kill)
}

func (p *memProcess) Kill() { p.end(Exit{Code: 137}) }

func (p *memProcess) Wait() Exit {
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exit
}
