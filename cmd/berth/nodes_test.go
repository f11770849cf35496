package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/client"
)

func testNodes() []client.Node {
	return []client.Node{
		{Node: berth.Node{ID: "node_1", Name: "local", Pool: "baseline", State: berth.NodeReady, CPU: 8, MemoryMB: 16384, Healthy: true,
			LastSeen: now.Add(-time.Second), UsedCPU: 2.5, UsedMemoryMB: 1536, Version: 3}},
		{Node: berth.Node{ID: "node_2", Name: "ip-10-0-1-17", Pool: "spot", State: berth.NodeDraining, CPU: 4, MemoryMB: 7680, Healthy: false,
			Reason:   "docker engine not answering: dial unix /var/run/docker.sock: connect: no such file or directory",
			LastSeen: now.Add(-time.Minute), UsedCPU: 0.5, UsedMemoryMB: 256},
			Facts:  client.HostFacts{InstanceID: "i-0abc", InstanceType: "m5.large", Zone: "eu-west-1a", Market: "spot", Price: 0.038},
			Notice: "spot_interruption", NoticeAt: &now},
		{Node: berth.Node{ID: "node_3", Name: "ip-10-0-1-18", Pool: "spot", State: berth.NodeLost, CPU: 4, MemoryMB: 7680, Healthy: true,
			LastSeen: now.Add(-3 * time.Minute)}},
	}
}

func TestNodes(t *testing.T) {
	f := newFakeAPI(t)
	f.nodes = testNodes()
	for _, width := range []int{0, 100} {
		in := f.against()
		in.width = width
		name := map[int]string{0: "nodes.golden", 100: "nodes-100.golden"}[width]
		golden(t, name, in.run(t.Context(), "nodes").mustSucceed(t).stdout)
	}
	r := f.cli(t, "nodes", "-o", "json").mustSucceed(t)
	var got struct{ Nodes []client.Node }
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stdout is not a node list: %v", err)
	}
	if diff := cmp.Diff(f.nodes, got.Nodes); diff != "" {
		t.Errorf("-o json mismatch (-want +got):\n%s", diff)
	}
}

func TestNodeDrain(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		state    berth.NodeState
		deadline *time.Time
		stderr   string
	}{
		{"until done", []string{"node", "drain", "node_1"}, 0, berth.NodeDraining, nil, ""},
		{"by name, deadline after the id", []string{"node", "drain", "local", "--deadline", "10m"}, 0, berth.NodeDraining, new(now.Add(10 * time.Minute)), ""},
		{"at once", []string{"node", "drain", "--deadline=0s", "node_1"}, 0, berth.NodeDraining, &now, ""},
		{"undrain", []string{"node", "undrain", "node_2"}, 0, berth.NodeReady, nil, ""},
		{"lost", []string{"node", "drain", "node_3"}, 1, berth.NodeLost, nil, "node node_3 is lost"},
		{"unknown", []string{"node", "drain", "nope"}, 1, "", nil, `no node has the id or name "nope"`},
		{"no id", []string{"node", "drain"}, 2, "", nil, "want one node ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t)
			f.nodes = testNodes()
			r := f.against().run(t.Context(), append(tt.args, "-o", "json")...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.stderr) {
				t.Fatalf("berth %v: exit %d, stderr %q; want %d and %q", tt.args, r.code, r.stderr, tt.code, tt.stderr)
			}
			if tt.code != 0 {
				return
			}
			var n client.Node
			if err := json.Unmarshal([]byte(r.stdout), &n); err != nil {
				t.Fatalf("stdout is not a node: %v\n%s", err, r.stdout)
			}
			if n.State != tt.state || !cmp.Equal(n.DrainDeadline, tt.deadline) {
				t.Errorf("node: %s, deadline %v; want %s, %v", n.State, n.DrainDeadline, tt.state, tt.deadline)
			}
		})
	}
}

func TestPools(t *testing.T) {
	f := newFakeAPI(t)
	spot := berth.PoolSpec{Name: "spot", Provider: "fake", Market: berth.Spot, Max: 4,
		InstanceTypes: []berth.InstanceType{{Name: "m5.large", CPU: 2, MemoryMB: 8192, Price: 0.096}}}
	overflow := berth.PoolSpec{Name: "overflow", Provider: "fake-serverless", Serverless: &berth.Serverless{VCPUSecond: 1e-5}}
	nightly := spot
	nightly.Name, nightly.Window = "nightly", &berth.PoolWindow{Opens: "0 2 * * *", Closes: "0 6 * * *"}
	f.pools = []client.Pool{
		{Name: "spot", Provider: "fake", Spec: &spot, Nodes: 2, Ready: 1, CPU: 4, MemoryMB: 16384, UsedCPU: 0.5, UsedMemoryMB: 256,
			Instances: []client.Instance{{ID: "i-1", State: "running"}, {ID: "i-2", State: "running"}, {ID: "i-3", State: "pending"}, {ID: "i-0", State: "terminated"}},
			Autoscale: &client.Autoscale{SchedulableLargest: 0, Waiting: 3}, JoinToken: "bjt_spot"},
		{Name: "nightly", Provider: "fake", Spec: &nightly, Window: &berth.PoolWindowState{Open: false, Next: time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)},
			Autoscale: &client.Autoscale{Waiting: 5}, JoinToken: "bjt_nightly"},
		{Name: "overflow", Provider: "fake-serverless", Spec: &overflow, Nodes: 1, Ready: 1, CPU: 1024, MemoryMB: 16 << 20, JoinToken: "bjt_overflow"},
		{Name: "default", JoinToken: "bjt_default"},
	}
	in := f.against()
	in.width = 40 // the token is never cut
	golden(t, "pools.golden", in.run(t.Context(), "pools").mustSucceed(t).stdout)
	r := f.cli(t, "pools", "gpu", "-o", "json").mustSucceed(t)
	if !strings.Contains(r.stdout, `"join_token": "bjt_gpu"`) {
		t.Errorf("berth pools gpu -o json = %s, want the gpu pool's join token", r.stdout)
	}
}

func TestNodeShow(t *testing.T) {
	f := newFakeAPI(t)
	f.nodes = testNodes()
	r := f.cli(t, "node", "ip-10-0-1-17", "-o", "json").mustSucceed(t)
	var n client.Node
	if err := json.Unmarshal([]byte(r.stdout), &n); err != nil || n.ID != "node_2" || n.Facts.InstanceID != "i-0abc" {
		t.Errorf("berth node ip-10-0-1-17 -o json = %s (%v), want node_2 with its facts", r.stdout, err)
	}
	r = f.cli(t, "node", "node_1").mustSucceed(t)
	if !strings.Contains(r.stdout, "node_1") || !strings.Contains(r.stdout, "ready") {
		t.Errorf("berth node node_1 = %q", r.stdout)
	}
}

func TestCost(t *testing.T) {
	f := newFakeAPI(t)
	f.cost = map[string][]client.CostLine{
		"pool":       {{Key: "local", CostUSD: 0}, {Key: "overflow", CostUSD: 0.004}, {Key: "spot", CostUSD: 1.25, IdleUSD: 0.31}},
		"label:team": {{Key: "", CostUSD: 0.25}, {Key: "(idle hosts)", CostUSD: 0.31, IdleUSD: 0.31}, {Key: "ml", CostUSD: 0.694}},
	}
	golden(t, "cost.golden", f.cli(t, "cost").mustSucceed(t).stdout)
	golden(t, "cost-label.golden", f.cli(t, "cost", "--by", "label:team").mustSucceed(t).stdout)
	r := f.cli(t, "cost", "--by", "market", "--since", "24h", "-o", "json").mustSucceed(t)
	if !strings.Contains(r.stdout, `"by": "market"`) {
		t.Errorf("berth cost --by market -o json = %s, want the report by market", r.stdout)
	}
	if calls := f.callLog(); !slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, "GET /v1/cost?by=market&since=") }) {
		t.Errorf("calls %v, want GET /v1/cost?by=market&since=...", calls)
	}
	if r := f.cli(t, "cost", "--by", "colour"); r.code != 2 || !strings.Contains(r.stderr, `--by "colour"`) {
		t.Errorf("berth cost --by colour: exit %d, stderr %q; want a usage error naming --by", r.code, r.stderr)
	}
	for _, since := range []string{"-5h", "yesterday"} {
		calls := len(f.callLog())
		if r := f.cli(t, "cost", "--since", since); r.code != 2 || !strings.Contains(r.stderr, `--since "`+since+`"`) || len(f.callLog()) != calls {
			t.Errorf("berth cost --since %s: exit %d, stderr %q; want a usage error naming --since, and no call", since, r.code, r.stderr)
		}
	}
}
