package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
)

func TestNodes(t *testing.T) {
	f := newFakeAPI(t)
	f.nodes = []berth.Node{
		{ID: "node_1", Name: "local", Pool: "baseline", State: berth.NodeReady, CPU: 8, MemoryMB: 16384, Healthy: true,
			LastSeen: now.Add(-time.Second), UsedCPU: 2.5, UsedMemoryMB: 1536, Version: 3},
		{ID: "node_2", Name: "ip-10-0-1-17", Pool: "spot", State: berth.NodeDraining, CPU: 4, MemoryMB: 7680, Healthy: false,
			Reason:   "docker engine not answering: dial unix /var/run/docker.sock: connect: no such file or directory",
			LastSeen: now.Add(-time.Minute), UsedCPU: 0.5, UsedMemoryMB: 256},
	}
	for _, width := range []int{0, 100} {
		in := f.against()
		in.width = width
		name := map[int]string{0: "nodes.golden", 100: "nodes-100.golden"}[width]
		golden(t, name, in.run(t.Context(), "nodes").mustSucceed(t).stdout)
	}
	r := f.cli(t, "nodes", "-o", "json").mustSucceed(t)
	var got struct{ Nodes []berth.Node }
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stdout is not a node list: %v", err)
	}
	if diff := cmp.Diff(f.nodes, got.Nodes); diff != "" {
		t.Errorf("-o json mismatch (-want +got):\n%s", diff)
	}
}
