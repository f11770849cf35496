package provider

import (
	"context"
	"errors"
	"time"
)

// Labels put on every warm container: a container created and started
// ahead of a job, for one image and one shape, that waits in berth's shim
// until an attempt claims it. A warm container carries no berth.attempt
// label (labels cannot change after creation): the claim is recorded in
// the container's directory on the host, named by LabelWarmDir, and List
// reports a claimed warm container whose job's process runs as that
// attempt's container.
const (
	LabelWarm      = "berth.warm"       // the image, as jobs name it
	LabelWarmShape = "berth.warm.shape" // Shape.String()
	LabelWarmDir   = "berth.warm.dir"   // the container's directory on the host
)

// Shape is the resources a container is created with; a warm container
// serves only jobs of its shape.
type Shape struct {
	CPU      float64
	MemoryMB int64
	PIDs     int64 // 0: berth.DefaultPIDs
}

// WarmState is where a warm container is.
type WarmState string

// The states of a warm container.
const (
	WarmIdle      WarmState = "idle"      // its shim waits for a claim
	WarmClaimed   WarmState = "claimed"   // an attempt claimed it; nothing decided yet
	WarmRan       WarmState = "ran"       // the claim ran the job's process: List reports it
	WarmAbandoned WarmState = "abandoned" // the claim was given up: remove it
	WarmExited    WarmState = "exited"    // its shim ended unclaimed: remove it
)

// Warm is a warm container.
type Warm struct {
	ID      string
	Node    string
	Image   string // as jobs name it
	ImageID string // the image it was created from
	Shape   Shape
	Created time.Time
	State   WarmState
	// AttemptID is the attempt that claimed it, if any.
	AttemptID string
	// Dir is the runner's handle of its shim: its directory on the host.
	Dir string
}

// ErrClaimRefused is wrapped by Claim's error when the warm container did
// not run the job's process and a cold start may: the shim refused the
// claim, did not answer, or is gone.
var ErrClaimRefused = errors.New("warm container refused the claim")

// WarmRunner is a Runner that also keeps warm containers.
type WarmRunner interface {
	Runner
	// ImageID returns the id of the image the engine has under image,
	// pulling it when it has none. A permanent failure is a *StartError.
	ImageID(ctx context.Context, image string) (string, error)
	// CreateWarm creates and starts a warm container of image for node,
	// with shape's limits and the image's user and working directory.
	CreateWarm(ctx context.Context, node, image string, shape Shape) (Warm, error)
	// ListWarm returns every warm container on the engine, whatever its
	// state; those of other nodes too.
	ListWarm(ctx context.Context) ([]Warm, error)
	// Claim hands the idle warm container w to c's attempt: it returns
	// once c's process runs in w in place of the shim, c.Command and
	// c.Env applied to the image's entrypoint, command and environment as
	// the engine applies them. A claim that did not run the process
	// wraps ErrClaimRefused (w is to be removed, c to start cold), or is
	// a *StartError (c's process cannot start in the image). It never
	// runs c's process after returning an error.
	Claim(ctx context.Context, w Warm, c Container) error
	// Abandon settles a claimed warm container whose claim nothing
	// decided (an agent stopped mid-claim): ran reports that its job's
	// process runs after all, else it never will.
	Abandon(ctx context.Context, w Warm) (ran bool, err error)
}
