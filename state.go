package berth

// State is where a job is in its lifecycle:
//
//	scheduled ──(run-at reached)──► queued ──(placed)──► starting ──► running ──► succeeded
//	                                  ▲                                  │  └──► failed
//	                                  └──(retry / spot reclaimed / node lost)┘
//	any non-terminal state ──(cancel)──► cancelled
//
// Terminal states are final.
type State string

// The states of a job. Scripts depend on these names.
const (
	Scheduled State = "scheduled" // waiting for its run_at (or a retry's backoff)
	Queued    State = "queued"    // eligible, waiting for capacity
	Starting  State = "starting"  // placed on a node; its container is being created
	Running   State = "running"   // its container runs
	Succeeded State = "succeeded" // finished with exit code 0 (or reported success)
	Failed    State = "failed"    // finished otherwise, with no retries left
	Cancelled State = "cancelled" // cancelled by a user
)

// States lists every state, in lifecycle order.
var States = []State{Scheduled, Queued, Starting, Running, Succeeded, Failed, Cancelled}

// Valid reports whether s is one of the states.
func (s State) Valid() bool {
	for _, v := range States {
		if s == v {
			return true
		}
	}
	return false
}

// Terminal reports whether s is final: succeeded, failed or cancelled.
func (s State) Terminal() bool {
	return s == Succeeded || s == Failed || s == Cancelled
}

// Active reports whether a job in state s holds an attempt on a node.
func (s State) Active() bool { return s == Starting || s == Running }
