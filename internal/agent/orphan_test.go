package agent

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/fake"
)

// downServer is a fakeServer that the network can cut off.
type downServer struct {
	*fakeServer
	mu   sync.Mutex
	down bool
}

var errUnreachable = errors.New("dial tcp 10.0.0.1:7070: connect: no route to host")

func (s *downServer) cut(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

func (s *downServer) isDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down
}

func (s *downServer) Register(ctx context.Context, nodeID string, st nodeapi.Status) (berth.Node, error) {
	if s.isDown() {
		return berth.Node{}, errUnreachable
	}
	return s.fakeServer.Register(ctx, nodeID, st)
}

func (s *downServer) Assignments(ctx context.Context, nodeID string, since uint64, wait time.Duration) ([]berth.Assignment, uint64, error) {
	if s.isDown() {
		time.Sleep(time.Second)
		return nil, since, errUnreachable
	}
	return s.fakeServer.Assignments(ctx, nodeID, since, wait)
}

// TestOrphanPowersOff: the server becomes unreachable. While the node runs
// a job the host stays up; once nothing runs and the server has been gone
// for OrphanAfter, the agent powers the host off, once. A server that
// comes back in time keeps it up.
func TestOrphanPowersOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &downServer{fakeServer: newFakeServer(berth.NodeReady)}
		runner := fake.New(provider.Capacity{CPU: 4, MemoryMB: 4096})
		var offs atomic.Int32
		ctx, cancel := context.WithCancel(context.Background())
		a := New(Config{NodeID: "node_a", StopGrace: 10 * time.Second, HealthInterval: time.Second, OrphanAfter: 15 * time.Minute,
			PowerOff: func() error { offs.Add(1); return nil }}, srv, runner, discardSink{}, quiet())
		done := make(chan struct{})
		go func() { defer close(done); a.Run(ctx) }()
		defer func() { cancel(); <-done }()

		srv.assign("att_1", "FAKE_RUN_FOR", "20m")
		time.Sleep(5 * time.Second)
		srv.cut(true)
		time.Sleep(16 * time.Minute)
		if n := offs.Load(); n != 0 {
			t.Fatalf("powered off %d times while a job runs", n)
		}
		time.Sleep(5 * time.Minute) // the job ends at +20m
		if n := offs.Load(); n != 1 {
			t.Fatalf("powered off %d times once the server was gone 15m and nothing ran, want once", n)
		}
		time.Sleep(5 * time.Minute)
		if n := offs.Load(); n != 1 {
			t.Fatalf("powered off %d times, want once: the host is going down", n)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		srv := &downServer{fakeServer: newFakeServer(berth.NodeReady)}
		var offs atomic.Int32
		ctx, cancel := context.WithCancel(context.Background())
		a := New(Config{NodeID: "node_a", HealthInterval: time.Second, OrphanAfter: 15 * time.Minute,
			PowerOff: func() error { offs.Add(1); return nil }}, srv, fake.New(provider.Capacity{CPU: 1, MemoryMB: 1024}), discardSink{}, quiet())
		done := make(chan struct{})
		go func() { defer close(done); a.Run(ctx) }()
		defer func() { cancel(); <-done }()
		time.Sleep(time.Second)
		srv.cut(true)
		time.Sleep(10 * time.Minute)
		srv.cut(false)
		time.Sleep(10 * time.Minute)
		if n := offs.Load(); n != 0 {
			t.Errorf("powered off %d times though the server came back within the limit", n)
		}
	})
}
