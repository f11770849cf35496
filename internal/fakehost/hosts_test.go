package fakehost

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/fakecloud"
)

// plane is the server side of the agents: it records the nodes created,
// their last status and the notices they report, and gives no work.
type plane struct {
	mu      sync.Mutex
	pools   map[string]string // node → pool
	status  map[string]nodeapi.Status
	notices map[string][]nodeapi.NoticeKind
}

func newPlane() *plane {
	return &plane{pools: map[string]string{}, status: map[string]nodeapi.Status{}, notices: map[string][]nodeapi.NoticeKind{}}
}

func (p *plane) Ensure(ctx context.Context, id, pool, name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pools[id] = pool
	return nil
}

func (p *plane) Register(ctx context.Context, id string, st nodeapi.Status) (berth.Node, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status[id] = st
	return berth.Node{ID: id, State: berth.NodeReady, Healthy: st.Healthy}, nil
}

func (p *plane) Assignments(ctx context.Context, id string, since uint64, wait time.Duration) ([]berth.Assignment, uint64, error) {
	if since > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil, since, ctx.Err()
		case <-t.C:
		}
	}
	return nil, 1, nil
}

func (p *plane) Started(context.Context, string, string) error         { return nil }
func (p *plane) Finished(context.Context, string, berth.Outcome) error { return nil }
func (p *plane) Notice(ctx context.Context, id string, n nodeapi.Notice) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.notices[id] = append(p.notices[id], n.Kind)
	return nil
}

// byInstance returns the node whose agent reports instance id, and its
// last status.
func (p *plane) byInstance(id string) (string, nodeapi.Status, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for node, st := range p.status {
		if st.Facts.InstanceID == id {
			return node, st, true
		}
	}
	return "", nodeapi.Status{}, false
}

// TestMachines: an instance gets an agent once it has booted, reporting
// the instance's shape, market and Spot price in its pool; the agent
// reports the cloud's interruption notice once, and stops when the
// instance is reclaimed. A serverless pool's node runs from the start.
func TestMachines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		spec := berth.PoolSpec{Name: "spot", Provider: berth.ProviderFake, Market: berth.Spot, Max: 2,
			InstanceTypes: []berth.InstanceType{{Name: "m5.large", CPU: 2, MemoryMB: 8192, Price: 0.096, SpotPrice: 0.03}}}.WithDefaults()
		fargate := berth.PoolSpec{Name: "fargate", Provider: berth.ProviderFakeServerless,
			Serverless: &berth.Serverless{VCPUSecond: 1e-5}}.WithDefaults()
		cloud := fakecloud.New(fakecloud.Config{BootTime: time.Minute})
		pool := cloud.Pool(spec)
		p := newPlane()
		h := New(Config{}, []Pool{{Spec: spec, Cloud: cloud}, {Spec: fargate}}, p, p, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.Run(ctx)
		}()
		defer func() {
			cancel()
			<-done
		}()
		in, err := pool.Launch(ctx, provider.LaunchRequest{InstanceType: "m5.large"})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Second)
		if _, _, ok := p.byInstance(in.ID); ok {
			t.Fatal("an agent runs for an instance that is still booting")
		}
		p.mu.Lock()
		_, ok := p.status[ServerlessNode("fargate")]
		p.mu.Unlock()
		if !ok {
			t.Error("the serverless pool has no node")
		}
		time.Sleep(40 * time.Second)
		node, st, ok := p.byInstance(in.ID)
		p.mu.Lock()
		inPool := p.pools[node]
		p.mu.Unlock()
		want := nodeapi.Facts{InstanceID: in.ID, InstanceType: "m5.large", Zone: cloud.Zone(), Market: "spot", Price: 0.03}
		if !ok || st.Facts != want || st.CPU != 2 || st.MemoryMB != 8192 || inPool != "spot" {
			t.Fatalf("the instance's node: %+v in pool %q, want %+v with 2 vCPU/8 GiB in spot", st, inPool, want)
		}
		cloud.Reclaim(in.ID)
		time.Sleep(time.Minute)
		p.mu.Lock()
		got := append([]nodeapi.NoticeKind(nil), p.notices[node]...)
		p.mu.Unlock()
		if len(got) != 1 || got[0] != nodeapi.SpotInterruption {
			t.Errorf("notices reported: %v, want one spot interruption", got)
		}
		time.Sleep(2 * time.Minute)
		if _, ok := h.Nodes()[in.ID]; ok {
			t.Error("the reclaimed instance's agent still runs")
		}
	})
}
