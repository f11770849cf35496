// Package providertest holds the conformance suites of berth's provider
// seams. Every provider.Runner, the in-memory fake and each real engine,
// passes RunRunnerTests; a Harness says how the engine under test expresses
// the programs the suite runs: as shell commands in an image, or as
// scripted environment. Every provider.Pool passes RunPoolTests, driven by
// a PoolHarness.
package providertest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/berth-run/berth/internal/provider"
)

// Harness is what the suite needs of a runner.
type Harness struct {
	// NewRunner returns a Runner on the engine under test, for test t. A
	// later call returns a new Runner on the same engine, as berth has
	// after a restart.
	NewRunner func(t *testing.T) provider.Runner
	// Image is an image the engine has.
	Image string
	// MissingImage is an image that no registry has.
	MissingImage string

	// Exit exits with code.
	Exit func(code int) Program
	// Sleep runs for d, then exits 0.
	Sleep func(d time.Duration) Program
	// Print writes lines, each to its stream, gap apart, then exits 0.
	Print func(lines []Line, gap time.Duration) Program
	// TrapTerm runs until SIGTERM, then exits 143 at once.
	TrapTerm func() Program
	// IgnoreTerm runs for a long time and ignores SIGTERM.
	IgnoreTerm func() Program
	// ExceedMemory uses more memory than limitMB.
	ExceedMemory func(limitMB int64) Program
	// MissingCommand runs a command the image does not have.
	MissingCommand func() Program
	// OOMMayGoUnflagged says the engine sometimes misses an out-of-memory
	// kill (Docker 20.10 on cgroup v1 under load): the suite then also
	// takes exit code 137 without the flag, and logs it.
	OOMMayGoUnflagged bool
	// PullsAtStart says the engine learns that an image is missing only
	// when it starts the container (Fargate pulls the image once the task
	// is placed): the suite then takes the *StartError from Start, and
	// the failed container is removed as the agent removes it.
	PullsAtStart bool
}

// Program is how a container is told what to do.
type Program struct {
	Command []string
	Env     map[string]string
}

// Line is a line a program writes.
type Line struct {
	Stderr bool
	Text   string // without the newline
}

// apply puts p into c.
func (p Program) apply(c provider.Container) provider.Container {
	c.Command = p.Command
	if len(p.Env) > 0 {
		env := make(map[string]string, len(c.Env)+len(p.Env))
		for k, v := range c.Env {
			env[k] = v
		}
		for k, v := range p.Env {
			env[k] = v
		}
		c.Env = env
	}
	return c
}

// Shell returns h with the programs as shell commands in an image that
// has a POSIX sh, sleep, echo, dd and trap (berth's busybox test image),
// as a runner that runs real containers needs them.
func Shell(h Harness) Harness {
	sh := func(script string) Program { return Program{Command: []string{"sh", "-c", script}} }
	h.Exit = func(code int) Program { return sh(fmt.Sprintf("exit %d", code)) }
	h.Sleep = func(d time.Duration) Program { return Program{Command: []string{"sleep", fmt.Sprint(d.Seconds())}} }
	h.Print = func(lines []Line, gap time.Duration) Program {
		var b strings.Builder
		for i, l := range lines {
			if i > 0 {
				fmt.Fprintf(&b, "sleep %g; ", gap.Seconds())
			}
			redirect := ""
			if l.Stderr {
				redirect = " >&2"
			}
			fmt.Fprintf(&b, "echo '%s'%s; ", l.Text, redirect)
		}
		return sh(b.String())
	}
	// PID 1 gets no signal it has no handler for: the trap is the
	// handler, and wait returns as soon as it has run.
	h.TrapTerm = func() Program { return sh("trap 'exit 143' TERM; echo ready; sleep 3600 & wait") }
	h.IgnoreTerm = func() Program { return sh("trap '' TERM; echo ready; sleep 3600") }
	// The engine notices an OOM kill through a watch it sets once the
	// container has started, and may lose one that races the exit of
	// PID 1 (Docker 20.10, cgroup v1). So the shell waits before dd
	// allocates, and outlives it: dd is the one killed.
	h.ExceedMemory = func(limitMB int64) Program {
		return sh(fmt.Sprintf("sleep 1; dd if=/dev/zero of=/dev/null count=1 bs=%dM; code=$?; sleep 1; exit $code", 4*limitMB))
	}
	h.MissingCommand = func() Program { return Program{Command: []string{"/bin/berth-no-such-command"}} }
	return h
}
