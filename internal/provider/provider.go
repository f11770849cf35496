// Package provider declares the seams between berth and what runs its
// containers. A Runner runs the attempts' containers on one engine; the
// local Docker engine (provider/docker), the in-memory fake (provider/fake)
// and the Fargate-like fakecloud.Serverless implement it. A Pool creates and
// destroys the hosts of one berth pool; the in-memory cloud
// (provider/fakecloud) implements it. providertest holds the conformance
// suite of each, and docs/providers.md is the guide for provider authors.
//
// Everything a runner creates carries the labels berth.job, berth.attempt
// and berth.node, and every instance a pool launches the tag berth.pool, so
// List re-reads the world after a restart: no in-memory truth. A
// WarmRunner also keeps warm containers, started ahead of their jobs
// (warm.go).
package provider

import (
	"context"
	"errors"
	"io"
	"time"
)

// Labels put on every container berth creates.
const (
	LabelJob     = "berth.job"
	LabelAttempt = "berth.attempt"
	LabelNode    = "berth.node"
)

// LabelPrefix is put before the key of each of a job's own labels on its
// container ("team" is berth.label.team), so that a job cannot set labels
// that berth, or a tool that acts on labels (a proxy that routes to
// containers, a compose project), reads as its own.
const LabelPrefix = "berth.label."

// Container is what a Runner runs for one attempt.
type Container struct {
	JobID     string
	AttemptID string
	Node      string // the node's id, put on the berth.node label
	Image     string
	Command   []string // empty: the image's default
	Env       map[string]string
	CPU       float64           // vCPUs, enforced as a CPU quota
	MemoryMB  int64             // hard limit; swap is not allowed
	PIDs      int64             // most processes and threads at once; 0: berth.DefaultPIDs
	Labels    map[string]string // the job's, put on the container under LabelPrefix
}

// RunState is where a container is.
type RunState string

// The states a runner reports.
const (
	Created RunState = "created" // created, never started
	Running RunState = "running"
	Exited  RunState = "exited"
)

// Status is what a runner knows of one container.
type Status struct {
	ID         string // the runner's handle
	JobID      string
	AttemptID  string
	Node       string
	State      RunState
	ExitCode   int
	OOMKilled  bool
	StartedAt  time.Time
	FinishedAt time.Time
	// StartError, when set, says why the engine could not run the
	// container after Start returned (a serverless engine that pulls
	// the image only once the task is placed): the job fails without
	// retries, as for a *StartError.
	StartError string
	// Reclaimed, when set, says the container was stopped because its
	// capacity was taken back (a Fargate Spot interruption), not by its
	// own doing: its attempt is lost and its job queued again without
	// spending a retry.
	Reclaimed string
}

// Capacity is what an engine offers.
type Capacity struct {
	CPU      float64
	MemoryMB int64
	// EngineID is the engine's own id ("" when it has none): nodes whose
	// agents share an engine share it.
	EngineID string
}

// Errors runners return; callers branch on them with errors.Is / errors.As.
var (
	// ErrNotFound: no container with that handle.
	ErrNotFound = errors.New("container not found")
	// ErrUnavailable: the engine cannot be reached; try again later.
	ErrUnavailable = errors.New("engine unavailable")
)

// StartError is a failure to create or start a container that running again
// will not fix: the image does not exist, the command is not in the image.
type StartError struct{ Reason string }

func (e *StartError) Error() string { return e.Reason }

// Runner runs containers on one engine.
type Runner interface {
	// Info reports the engine's capacity. It returns ErrUnavailable when
	// the engine cannot be reached.
	Info(ctx context.Context) (Capacity, error)
	// Create creates, without starting, the container for c, pulling its
	// image if the engine lacks it. It is idempotent per attempt: if a
	// container for c.AttemptID exists, its handle comes back. A permanent
	// failure is a *StartError.
	Create(ctx context.Context, c Container) (id string, err error)
	// Start starts a created container. Starting a running one is not an
	// error. A permanent failure (command not found) is a *StartError.
	Start(ctx context.Context, id string) error
	// Wait blocks until the container has exited, or ctx ends, and returns
	// its final status.
	Wait(ctx context.Context, id string) (Status, error)
	// Stop sends SIGTERM, waits up to grace, then SIGKILL. Stopping an
	// exited container is not an error.
	Stop(ctx context.Context, id string, grace time.Duration) error
	// Inspect returns a container's status, or ErrNotFound.
	Inspect(ctx context.Context, id string) (Status, error)
	// List returns every container berth created on this engine (those with
	// the berth.attempt label), whatever their state.
	List(ctx context.Context) ([]Status, error)
	// Logs copies the container's stdout and stderr, interleaved as
	// written, to w from the beginning and follows them until the container
	// exits or ctx ends.
	Logs(ctx context.Context, id string, w io.Writer) error
	// Remove removes a container, killing it if it runs. Removing a removed
	// container returns ErrNotFound.
	Remove(ctx context.Context, id string) error
}
