package store

import (
	"context"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/google/go-cmp/cmp"
)

func TestUpsertNode(t *testing.T) { forEachStore(t, testUpsertNode) }

func testUpsertNode(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	n, err := s.UpsertNode(ctx, berth.Node{ID: "n1", Name: "host-1", Pool: "baseline", CPU: 4, MemoryMB: 8192, Healthy: true}, t0)
	if err != nil {
		t.Fatal(err)
	}
	want := berth.Node{ID: "n1", Name: "host-1", Pool: "baseline", State: berth.NodeJoining, CPU: 4, MemoryMB: 8192,
		Healthy: true, LastSeen: t0, Version: 1}
	if diff := cmp.Diff(want, n); diff != "" {
		t.Errorf("new node (-want +got):\n%s", diff)
	}

	// Setting a state changes it; leaving it out keeps it.
	if n, err = s.UpsertNode(ctx, berth.Node{ID: "n1", Name: "host-1", Pool: "baseline", State: berth.NodeReady, CPU: 4, MemoryMB: 8192, Healthy: true}, t0); err != nil || n.State != berth.NodeReady {
		t.Fatalf("UpsertNode(ready) = %s, %v", n.State, err)
	}
	j := mustCreate(t, s, berth.JobSpec{Image: "busybox", CPU: 1.5, MemoryMB: 1000}, t0)
	mustPlace(t, s, j.ID, "n1", t0)
	later := t0.Add(time.Minute)
	n, err = s.UpsertNode(ctx, berth.Node{ID: "n1", Name: "host-1b", Pool: "spot", CPU: 8, MemoryMB: 16384, Healthy: false, Reason: "engine unreachable"}, later)
	if err != nil {
		t.Fatal(err)
	}
	want = berth.Node{ID: "n1", Name: "host-1b", Pool: "spot", State: berth.NodeReady, CPU: 8, MemoryMB: 16384,
		Healthy: false, Reason: "engine unreachable", LastSeen: later, UsedCPU: 1.5, UsedMemoryMB: 1000, Version: 3}
	if diff := cmp.Diff(want, n); diff != "" {
		t.Errorf("updated node (-want +got):\n%s", diff)
	}
	if _, err := s.UpsertNode(ctx, berth.Node{ID: "n1", State: "sleeping"}, t0); err == nil {
		t.Errorf("UpsertNode with an unknown state = nil error")
	}
	anon, err := s.UpsertNode(ctx, berth.Node{Name: "no id", CPU: 1, MemoryMB: 1}, t0)
	if err != nil || anon.ID == "" {
		t.Errorf("UpsertNode without an id = %+v, %v; want an id", anon, err)
	}
}

func TestNodesLeavesOutGone(t *testing.T) { forEachStore(t, testNodesLeavesOutGone) }

func testNodesLeavesOutGone(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	mustNode(t, s, "b", 2, 2048)
	mustNode(t, s, "a", 2, 2048)
	mustNode(t, s, "c", 2, 2048)
	if _, err := s.UpsertNode(ctx, berth.Node{ID: "c", State: berth.NodeGone}, t0); err != nil {
		t.Fatal(err)
	}
	nodes, err := s.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, n := range nodes {
		ids = append(ids, n.ID)
	}
	if want := []string{"a", "b"}; !cmp.Equal(ids, want) {
		t.Errorf("Nodes = %v, want %v", ids, want)
	}
}

func TestUsedCapacitySumsActiveAttempts(t *testing.T) {
	forEachStore(t, testUsedCapacitySumsActiveAttempts)
}

func testUsedCapacitySumsActiveAttempts(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	mustNode(t, s, "n1", 4, 4096)
	var atts []string
	for _, c := range []struct {
		cpu float64
		mem int64
	}{{0.1, 100}, {0.2, 200}, {0.3, 300}} {
		j := mustCreate(t, s, berth.JobSpec{Image: "busybox", CPU: c.cpu, MemoryMB: c.mem}, t0)
		atts = append(atts, mustPlace(t, s, j.ID, "n1", t0))
	}
	if _, err := s.FinishAttempt(ctx, atts[1], berth.Outcome{Kind: berth.Lost}, t0); err != nil {
		t.Fatal(err)
	}
	nodes, _ := s.Nodes(ctx)
	if n := nodes[0]; n.UsedCPU < 0.4-1e-9 || n.UsedCPU > 0.4+1e-9 || n.UsedMemoryMB != 400 {
		t.Errorf("used %g vCPU, %d MB; want 0.4, 400", n.UsedCPU, n.UsedMemoryMB)
	}
}
