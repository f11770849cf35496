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
func TestHeartbeatStates(t *testing.T) { forEachStore(t, testHeartbeatStates) }

func testHeartbeatStates(t *testing.T) {
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
func TestJoinAndCredential(t *testing.T) { forEachStore(t, testJoinAndCredential) }

func testJoinAndCredential(t *testing.T) {
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

// TestDrainedSurvivesLost: a node's drain is its own flag, apart from its
// liveness: a drained node that is lost and comes back asking to be ready
// comes back draining, with whatever drained it (by hand or by a notice);
// undrained while lost, it comes back ready.
func TestDrainedSurvivesLost(t *testing.T) { forEachStore(t, testDrainedSurvivesLost) }

func testDrainedSurvivesLost(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		drain   func(s *Store, id string) error
		undrain bool
		want    berth.NodeState
	}{
		{"drained by hand", func(s *Store, id string) error { _, err := s.DrainNode(ctx, id, nil, "", t0); return err }, false, berth.NodeDraining},
		{"a Spot notice", func(s *Store, id string) error {
			_, err := s.NoticeNode(ctx, id, nodeapi.SpotInterruption, t0)
			return err
		}, false, berth.NodeDraining},
		{"a rebalance notice", func(s *Store, id string) error { _, err := s.NoticeNode(ctx, id, nodeapi.Rebalance, t0); return err }, false, berth.NodeDraining},
		{"undrained while lost", func(s *Store, id string) error { _, err := s.DrainNode(ctx, id, nil, "", t0); return err }, true, berth.NodeReady},
		{"never drained", func(*Store, string) error { return nil }, false, berth.NodeReady},
	} {
		s, _ := openStore(t)
		if _, err := s.JoinNode(ctx, "n", "default", nodeapi.Status{CPU: 1, MemoryMB: 1}, "h", t0); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.HeartbeatNode(ctx, "n", nodeapi.Status{CPU: 1, MemoryMB: 1, Ready: true}, t0); err != nil {
			t.Fatal(err)
		}
		if err := tt.drain(s, "n"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LoseNode(ctx, "n", "node lost", t0); err != nil {
			t.Fatal(err)
		}
		if tt.undrain {
			if n, err := s.UndrainNode(ctx, "n", t0); err != nil || n.State != berth.NodeLost || n.Drained {
				t.Errorf("%s: undrain while lost = %s drained %v, %v; want still lost, not drained", tt.name, n.State, n.Drained, err)
			}
		}
		n, _, err := s.HeartbeatNode(ctx, "n", nodeapi.Status{CPU: 1, MemoryMB: 1, Ready: true}, t0)
		if err != nil || n.State != tt.want {
			t.Errorf("%s: back from lost = %s, %v; want %s", tt.name, n.State, err, tt.want)
		}
	}
}

// TestRevokeNode: a revoked node's credential finds it no more.
func TestRevokeNode(t *testing.T) { forEachStore(t, testRevokeNode) }

func testRevokeNode(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	if _, err := s.JoinNode(ctx, "n", "default", nodeapi.Status{}, "hash", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeNode(ctx, "n"); err != nil {
		t.Fatal(err)
	}
	if id, err := s.NodeByToken(ctx, "hash"); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("NodeByToken after revoke = %q, %v; want not found", id, err)
	}
	if err := s.RevokeNode(ctx, "nobody"); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("RevokeNode(unknown) = %v, want not found", err)
	}
}
