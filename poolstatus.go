package berth

import "time"

// PoolStatus is a pool as the API shows it (GET /v1/pools): its
// configuration (for the pools of the configuration file), its nodes'
// totals, its instances and autoscaling signal (for pools with a
// provider), and the token that admits nodes to it.
type PoolStatus struct {
	Name         string         `json:"name"`
	Provider     string         `json:"provider,omitempty"`
	Spec         *PoolSpec      `json:"spec,omitempty"`
	Nodes        int            `json:"nodes"`
	Ready        int            `json:"ready"`
	CPU          float64        `json:"cpu"`
	MemoryMB     int64          `json:"memory_mb"`
	UsedCPU      float64        `json:"used_cpu"`
	UsedMemoryMB int64          `json:"used_memory_mb"`
	Instances    []PoolInstance `json:"instances,omitempty"`
	Autoscale    *PoolSignal    `json:"autoscale,omitempty"`
	// Window, for a pool with one, says whether it is open now and when
	// that changes.
	Window *PoolWindowState `json:"window,omitempty"`
	// Offerings are what the pool may launch now, as its provider last
	// priced them, for pools with a provider.
	Offerings []PoolOffering `json:"offerings,omitempty"`
	// Problem says what keeps the pool from listing or launching its
	// instances now (a permission its provider lacks, instances that did
	// not join in time); "" when nothing does.
	Problem   string `json:"problem,omitempty"`
	JoinToken string `json:"join_token"`
	// JoinTokenExpiresAt is when the join token expires; nil: never.
	JoinTokenExpiresAt *time.Time `json:"join_token_expires_at,omitempty"`
}

// PoolInstance is one of a pool's instances, as its provider lists it.
type PoolInstance struct {
	ID           string     `json:"id"`
	InstanceType string     `json:"instance_type"`
	Market       Market     `json:"market"`
	Zone         string     `json:"zone,omitempty"`
	State        string     `json:"state"` // pending, running or terminated
	Node         string     `json:"node,omitempty"`
	Job          string     `json:"job,omitempty"` // launched for this job alone
	LaunchedAt   time.Time  `json:"launched_at"`
	InterruptAt  *time.Time `json:"interrupt_at,omitempty"`
	TerminatedAt *time.Time `json:"terminated_at,omitempty"`
	Reclaimed    bool       `json:"reclaimed,omitempty"`
}

// PoolWindowState is where a pool is in its window.
type PoolWindowState struct {
	Open bool `json:"open"`
	// Next is when it next opens (when closed) or closes (when open).
	Next time.Time `json:"next"`
}

// PoolOffering is an instance type a pool may launch, at its price now.
type PoolOffering struct {
	InstanceType string  `json:"instance_type"`
	Market       Market  `json:"market"`
	PriceUSDHour float64 `json:"price_usd_hour"` // the Spot price now, on a Spot pool
	// Unavailable marks a type berth avoids for now: it ran out of
	// capacity, or Spot began to take its hosts back.
	Unavailable bool `json:"unavailable,omitempty"`
}

// PoolSignal is a pool's autoscaling signal as of the last round.
type PoolSignal struct {
	// SchedulableLargest is how many of the largest waiting job shapes
	// the pool's free capacity, hosts on their way included, could take.
	SchedulableLargest float64 `json:"schedulable_largest"`
	ShapeCPU           float64 `json:"shape_cpu"`
	ShapeMemoryMB      int64   `json:"shape_memory_mb"`
	Waiting            int     `json:"waiting"`
	Hosts              int     `json:"hosts"`
}
