package berth

import "time"

// NodeState is where a node is in its life.
type NodeState string

// The states of a node.
const (
	NodeJoining  NodeState = "joining"
	NodeReady    NodeState = "ready"
	NodeDraining NodeState = "draining" // takes no new work
	NodeLost     NodeState = "lost"     // its lease lapsed
	NodeGone     NodeState = "gone"
)

// Node is a host with a Docker engine that runs attempts.
type Node struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Pool     string    `json:"pool"`
	State    NodeState `json:"state"`
	CPU      float64   `json:"cpu"`       // capacity in vCPUs
	MemoryMB int64     `json:"memory_mb"` // capacity
	// Healthy is false while the node cannot reach its engine, or may not
	// take work (its containers would reach the instance metadata
	// service); Reason says why.
	Healthy  bool      `json:"healthy"`
	Reason   string    `json:"reason,omitempty"`
	LastSeen time.Time `json:"last_seen"`
	// UsedCPU and UsedMemoryMB are held by the node's active attempts.
	UsedCPU      float64 `json:"used_cpu"`
	UsedMemoryMB int64   `json:"used_memory_mb"`
	Version      int64   `json:"version"`
}

// Schedulable reports whether new work may be placed on n.
func (n *Node) Schedulable() bool { return n.State == NodeReady && n.Healthy }

// Fits reports whether a job of the given shape fits in n's free capacity.
func (n *Node) Fits(cpu float64, memoryMB int64) bool {
	const eps = 1e-9
	return n.UsedCPU+cpu <= n.CPU+eps && n.UsedMemoryMB+memoryMB <= n.MemoryMB
}

// Assignment is one active attempt on a node, as the node's executor sees
// it. Stop is true when the job no longer wants this attempt to run (the job
// was cancelled, finished by its callback, or moved on): the executor stops
// the container and reports the attempt finished.
type Assignment struct {
	Attempt Attempt `json:"attempt"`
	Job     Job     `json:"job"` // without attempts
	Stop    bool    `json:"stop"`
	// CallbackURL and CallbackToken let the container report its own
	// result; the executor passes them as BERTH_CALLBACK_URL and
	// BERTH_CALLBACK_TOKEN. The token is good for this attempt only.
	CallbackURL   string `json:"callback_url,omitempty"`
	CallbackToken string `json:"callback_token,omitempty"`
	// SecretEnv is the job's secret_env as submitted, unsealed: the
	// secrets themselves, or references (SecretRef) for the executor to
	// read. The server sends it only while the attempt's container is yet
	// to start; Job.SecretEnv holds the values hidden.
	SecretEnv map[string]string `json:"secret_env,omitempty"`
}
