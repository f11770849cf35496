package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	berth "github.com/berth-run/berth"
)

// Tags put on every instance berth launches, so that List re-reads the
// world after a restart.
const (
	TagPool  = "berth.pool"
	TagToken = "berth.token" // the launch's idempotency token
	// TagJob marks a host launched for one job (larger than any other
	// host); it takes only that job and is terminated when the job is done.
	TagJob = "berth.job"
)

// Offering is an instance type a pool can launch now, in one market and
// zone, at its current price.
type Offering struct {
	InstanceType string
	CPU          float64
	MemoryMB     int64
	Market       berth.Market
	Zone         string
	// Price is the current price in USD per hour: the on-demand price, or
	// the Spot price now.
	Price float64
}

// InstanceState is where an instance is in its life.
type InstanceState string

// The states of an instance.
const (
	InstancePending    InstanceState = "pending" // launched, booting
	InstanceRunning    InstanceState = "running"
	InstanceTerminated InstanceState = "terminated" // by berth, or reclaimed by Spot
)

// Instance is a host a pool launched.
type Instance struct {
	ID           string
	Pool         string
	InstanceType string
	Market       berth.Market
	Zone         string
	State        InstanceState
	CPU          float64
	MemoryMB     int64
	// Tags are the launch request's tags plus TagPool and TagToken. The map
	// is shared: do not change it.
	Tags       map[string]string
	LaunchedAt time.Time
	ReadyAt    time.Time // when it became (or becomes) running
	// InterruptAt is set once Spot has given notice: the instance is
	// reclaimed then, SpotNotice after the notice.
	InterruptAt time.Time
	// Rebalance is set when the provider recommends moving off the
	// instance (its interruption risk rose); no new work should go there.
	Rebalance    bool
	TerminatedAt time.Time
	// Reclaimed is true when Spot, not berth, terminated the instance.
	Reclaimed bool
}

// Interrupted reports whether Spot has given the instance notice.
func (i *Instance) Interrupted() bool { return !i.InterruptAt.IsZero() }

// LaunchRequest asks a pool for one instance.
type LaunchRequest struct {
	InstanceType string
	// Alternatives are other types of the pool as good for the work: a
	// provider that weighs capacity across types (EC2 Fleet) may launch
	// one of them instead, and says which in the Instance it returns.
	// Others launch InstanceType.
	Alternatives []string
	Market       berth.Market
	Zone         string // empty: any zone the pool has
	Tags         map[string]string
	// Token makes Launch idempotent: a second launch with the same token
	// returns the first instance. Empty means no idempotency.
	Token string
}

// Errors pools return; callers branch on them with errors.Is / errors.As.
var (
	// ErrNoInstance: no instance with that id in this pool.
	ErrNoInstance = errors.New("instance not found")
	// ErrNoOffering: the pool does not offer that instance type in that
	// market or zone.
	ErrNoOffering = errors.New("no such offering")
)

// InsufficientCapacityError says the provider has no capacity for an
// offering now (Spot is unavailable, or the zone ran out). Trying another
// instance type, zone or market may work; the same one later may too.
type InsufficientCapacityError struct {
	InstanceType string
	Market       berth.Market
	Zone         string
}

func (e *InsufficientCapacityError) Error() string {
	return fmt.Sprintf("insufficient %s capacity for %s in %s", e.Market, e.InstanceType, e.Zone)
}

// Pool creates and destroys the hosts of one berth pool on one provider.
type Pool interface {
	// Offerings lists what the pool can launch, with current prices. Spot
	// offerings are listed whether or not capacity is available now.
	Offerings(ctx context.Context) ([]Offering, error)
	// Launch starts one instance, tagged with req.Tags, TagPool and
	// TagToken; it returns at once with the instance pending. It returns
	// *InsufficientCapacityError when the provider has no capacity for the
	// offering, and ErrNoOffering for an offering the pool does not have.
	Launch(ctx context.Context, req LaunchRequest) (Instance, error)
	// Terminate terminates an instance, whatever its state. Terminating a
	// terminated instance is not an error; an unknown id is ErrNoInstance.
	Terminate(ctx context.Context, id string) error
	// List returns the pool's instances, terminated ones included for a
	// while (at least an hour), so that a reclaim is seen after it happened.
	List(ctx context.Context) ([]Instance, error)
}
