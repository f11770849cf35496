package store

import (
	"context"
	"errors"
	"testing"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/nodeapi"
)

// TestHeartbeatStates: asking to be ready makes a joining or lost node
// ready and nothing else; a plain heartbeat never changes the state; a gone
// node has no heartbeat.
func TestHeartbeatStates(t *testing.T) {
	tests := []struct {
		from  berth.NodeState
		ready bool
		want  berth.NodeState
	}{
		{berth.NodeJoining, true, berth.NodeReady},
		{berth.NodeLost, true, berth.NodeReady},
		{berth.NodeDraining, true, berth.NodeDraining},
		{berth.NodeReady, true, berth.NodeReady},
		{berth.NodeJoining, false, berth.NodeJoining},
		{berth.NodeLost, false, berth.NodeLost},
		{berth.NodeDraining, false, berth.NodeDraining},
	}
	for _, tt := range tests {
		s, _ := openStore(t)
		ctx := context.Background()
		if _, err := s.UpsertNode(ctx, berth.Node{ID: "n", State: tt.from, CPU: 1, MemoryMB: 1}, t0); err != nil {
			t.Fatal(err)
		}
		n, _, err := s.HeartbeatNode(ctx, "n", nodeapi.Status{CPU: 1, MemoryMB: 1, Ready: tt.ready}, t0)
		if err != nil || n.State != tt.want {
			t.Errorf("heartbeat (ready %v) of a %s node = %s, %v; want %s", tt.ready, tt.from, n.State, err, tt.want)
		}
	}
	s, _ := openStore(t)
	if _, err := s.UpsertNode(context.Background(), berth.Node{ID: "g", State: berth.NodeGone}, t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.HeartbeatNode(context.Background(), "g", nodeapi.Status{Ready: true}, t0); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("heartbeat of a gone node = %v, want not found", err)
	}
}

// TestJoinAndCredential: a joined node is found by its credential's hash,
// joining, in its pool; its facts are kept.
func TestJoinAndCredential(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	facts := nodeapi.Facts{InstanceID: "i-1", Market: "spot", Price: 0.04}
	n, err := s.JoinNode(ctx, "node_1", "spot", nodeapi.Status{Name: "a", CPU: 2, MemoryMB: 512, Facts: facts}, "hash1", t0)
	if err != nil {
		t.Fatal(err)
	}
	if n.State != berth.NodeJoining || n.Pool != "spot" || n.Facts != facts {
		t.Errorf("joined node = %+v", n)
	}
	if id, err := s.NodeByToken(ctx, "hash1"); err != nil || id != "node_1" {
		t.Errorf("NodeByToken(hash1) = %q, %v", id, err)
	}
	for _, h := range []string{"hash2", ""} {
		if _, err := s.NodeByToken(ctx, h); !errors.Is(err, berth.ErrNotFound) {
			t.Errorf("NodeByToken(%q) = %v, want not found", h, err)
		}
	}
	if _, err := s.JoinNode(ctx, "node_2", "spot", nodeapi.Status{}, "hash1", t0); err == nil {
		t.Errorf("a second node took the same credential")
	}
}
