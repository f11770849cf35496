package client

import (
	"testing"

	berth "github.com/berth-run/berth"
)

func TestMarkSharedEngines(t *testing.T) {
	node := func(engine string, state berth.NodeState) Node {
		return Node{Node: berth.Node{State: state}, Facts: HostFacts{EngineID: engine}}
	}
	nodes := []Node{
		node("e1", berth.NodeReady), node("e1", berth.NodeDraining), node("e2", berth.NodeReady),
		node("e3", berth.NodeReady), node("e3", berth.NodeGone), node("", berth.NodeReady), node("", berth.NodeReady),
	}
	MarkSharedEngines(nodes)
	want := []bool{true, true, false, false, false, false, false}
	for i, n := range nodes {
		if n.SharedEngine != want[i] {
			t.Errorf("node %d (engine %q, %s): shared %v, want %v", i, n.Facts.EngineID, n.State, n.SharedEngine, want[i])
		}
	}
}
