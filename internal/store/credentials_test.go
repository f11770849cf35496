package store

import (
	"context"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/nodeapi"
)

func TestRotateJoinToken(t *testing.T) { forEachStore(t, testRotateJoinToken) }

func testRotateJoinToken(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	if g, err := s.JoinGeneration(ctx, "spot"); err != nil || g.Generation != 1 || g.ExpiresAt != nil {
		t.Fatalf("a pool never rotated: %+v, %v; want generation 1, no expiry", g, err)
	}
	exp := t0.Add(time.Hour)
	g, err := s.RotateJoinToken(ctx, "spot", &exp, t0)
	if err != nil || g.Generation != 2 || g.ExpiresAt == nil || !g.ExpiresAt.Equal(exp) {
		t.Fatalf("first rotation: %+v, %v", g, err)
	}
	if g.Expired(exp.Add(-time.Second)) || !g.Expired(exp) {
		t.Errorf("Expired around %v is wrong", exp)
	}
	g, err = s.RotateJoinToken(ctx, "spot", nil, t0)
	if err != nil || g.Generation != 3 || g.ExpiresAt != nil {
		t.Fatalf("second rotation, no expiry: %+v, %v", g, err)
	}
	all, err := s.JoinGenerations(ctx)
	if err != nil || len(all) != 1 || all["spot"].Generation != 3 {
		t.Errorf("JoinGenerations = %+v, %v", all, err)
	}
}

// TestPurgeSilentNodes: nodes that joined and were never heard from again
// are deleted after the cutoff; nodes heard from, placed on, or newer stay.
func TestPurgeSilentNodes(t *testing.T) { forEachStore(t, testPurgeSilentNodes) }

func testPurgeSilentNodes(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	st := nodeapi.Status{CPU: 1, MemoryMB: 512}
	for _, id := range []string{"silent", "heard", "placed", "lost-silent"} {
		if _, err := s.JoinNode(ctx, id, "default", st, "h-"+id, t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.JoinNode(ctx, "new", "default", st, "h-new", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchNodes(ctx, map[string]time.Time{"heard": t0.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoseNode(ctx, "lost-silent", "node lost", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpsertNode(ctx, berth.Node{ID: "placed", Pool: "default", State: berth.NodeReady, CPU: 1, MemoryMB: 512, Healthy: true}, t0); err != nil {
		t.Fatal(err)
	}
	placeOne(t, s, "placed")
	if _, err := s.LoseNode(ctx, "placed", "node lost", t0); err != nil {
		t.Fatal(err)
	}
	ids, err := s.PurgeSilentNodes(ctx, t0.Add(30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || !(ids[0] == "silent" && ids[1] == "lost-silent" || ids[1] == "silent" && ids[0] == "lost-silent") {
		t.Errorf("purged %v, want silent and lost-silent", ids)
	}
	for _, id := range []string{"heard", "placed", "new"} {
		if _, err := s.NodeInfo(ctx, id); err != nil {
			t.Errorf("node %s after the purge: %v", id, err)
		}
	}
}

// placeOne places a new job on node.
func placeOne(t *testing.T, s *Store, node string) {
	t.Helper()
	ctx := context.Background()
	j, _, err := s.CreateJob(ctx, berth.JobSpec{Image: "busybox"}.WithDefaults(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if ps, err := s.Place(ctx, []Placement{{JobID: j.ID, JobVersion: j.Version, NodeID: node}}, t0); err != nil || len(ps) != 1 {
		t.Fatalf("place on %s: %v, %v", node, ps, err)
	}
}
