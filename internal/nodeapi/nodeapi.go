// Package nodeapi holds the messages of the node-agent protocol: what an
// agent sends when it joins, heartbeats, reports attempts and ships logs,
// and what the server answers. The server's handlers (internal/httpapi),
// the agent's HTTP client (internal/agent) and the store share them.
//
// The protocol lives under /v1/agent/. An agent joins its pool once with the
// pool's join token and receives its own credential, good for its node only;
// every later call carries that credential.
package nodeapi

import (
	"time"

	berth "github.com/berth-run/berth"
)

// Facts describe the host a node runs on, as far as the agent knows them
// (from the cloud's instance metadata, or its flags).
type Facts struct {
	InstanceID   string  `json:"instance_id,omitempty"`
	InstanceType string  `json:"instance_type,omitempty"`
	Zone         string  `json:"zone,omitempty"`
	Market       string  `json:"market,omitempty"` // "on-demand" or "spot"
	Price        float64 `json:"price,omitempty"`  // per hour, when known
	// EngineID is the node's Docker engine's id: nodes that share one
	// share its capacity too.
	EngineID string `json:"engine_id,omitempty"`
}

// NoticeKind says what the cloud announced about a node's host.
type NoticeKind string

// The notices an agent reports.
const (
	// SpotInterruption: the host will be reclaimed (EC2 spot/instance-action).
	// The node drains at once and its attempts are stopped and re-queued.
	SpotInterruption NoticeKind = "spot_interruption"
	// Rebalance: the host is at elevated risk of interruption (EC2
	// events/recommendations/rebalance). The node takes no new work.
	Rebalance NoticeKind = "rebalance"
)

// Valid reports whether k is a known notice.
func (k NoticeKind) Valid() bool { return k == SpotInterruption || k == Rebalance }

// Notice is one announcement about a node's host.
type Notice struct {
	Kind   NoticeKind `json:"kind"`
	Action string     `json:"action,omitempty"` // for spot: terminate, stop or hibernate
	Time   *time.Time `json:"time,omitempty"`   // when the cloud will act, if it said
}

// Status is what an agent reports of its node on joining and with every
// heartbeat.
type Status struct {
	Name     string  `json:"name,omitempty"`
	CPU      float64 `json:"cpu"`
	MemoryMB int64   `json:"memory_mb"`
	Healthy  bool    `json:"healthy"`
	Reason   string  `json:"reason,omitempty"`
	Facts    Facts   `json:"facts"`
	// Ready asks the server to make a joining or lost node ready: the agent
	// has killed every container the server does not list. A draining node
	// stays draining.
	Ready bool `json:"ready,omitempty"`
}

// JoinRequest is the body of POST /v1/agent/join, sent with the pool's join
// token.
type JoinRequest struct {
	Pool   string `json:"pool"`
	Status Status `json:"status"`
}

// JoinResponse answers a join: the new node and its credential, shown once.
type JoinResponse struct {
	Node  berth.Node `json:"node"`
	Token string     `json:"token"`
}

// Assignments answers GET /v1/agent/assignments: the node's active attempts
// at Version.
type Assignments struct {
	Version     uint64             `json:"version"`
	Assignments []berth.Assignment `json:"assignments"`
}

// Started is the body of POST /v1/agent/attempts/{id}/started.
type Started struct {
	ContainerID string `json:"container_id"`
}

// LogAck answers POST /v1/agent/attempts/{id}/logs: how long the attempt's
// log is, and whether it reached its cap (the agent sends no more).
type LogAck struct {
	Size      int64 `json:"size"`
	Truncated bool  `json:"truncated"`
}

// Headers of every agent call. Each agent process names a session of its
// own: the server lets one session at a time act for a node, and refuses
// another (409, code session_conflict) while that one is alive, so that a
// copied data directory or a cloned disk never gives a node two agents. A
// restarted agent takes over once its old session has been silent for
// three of the heartbeat intervals it named.
const (
	SessionHeader   = "Berth-Session"
	HeartbeatHeader = "Berth-Heartbeat" // a duration: "5s"
)

// MaxLogChunk bounds one chunk of shipped output.
const MaxLogChunk = 256 << 10

// MaxWait bounds one long-poll for assignments.
const MaxWait = 60 * time.Second
