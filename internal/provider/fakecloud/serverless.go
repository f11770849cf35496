package fakecloud

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/cost"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/fake"
)

// Fargate-like start latencies: from request to running.
const (
	DefaultMinStartLatency = 30 * time.Second
	DefaultMaxStartLatency = 90 * time.Second
)

// Serverless is a Fargate-like runner: every container runs on its own,
// starts after a latency drawn uniformly from [min, max] (30–90 s unless
// set), and is priced per vCPU-second and GB-second from the start request
// to its end. Containers are scripted as in package fake.
type Serverless struct {
	*fake.Runner
	price berth.Serverless

	// mu guards the fields below it.
	mu       sync.Mutex
	rng      *rand.Rand
	min, max time.Duration
}

var _ provider.Runner = (*Serverless)(nil)

// NewServerless returns a runner with the given prices and limits (Info
// reports the limits as the capacity of one container); seed draws the
// latencies.
func NewServerless(price berth.Serverless, seed uint64) *Serverless {
	if price.MaxCPU == 0 {
		price.MaxCPU = berth.FargateMaxCPU
	}
	if price.MaxMemoryMB == 0 {
		price.MaxMemoryMB = berth.FargateMaxMemoryMB
	}
	return &Serverless{
		Runner: fake.New(provider.Capacity{CPU: price.MaxCPU, MemoryMB: price.MaxMemoryMB}),
		price:  price,
		rng:    rand.New(rand.NewPCG(seed, 0xfa7)),
		min:    DefaultMinStartLatency,
		max:    DefaultMaxStartLatency,
	}
}

// SetStartLatency makes starts take between lo and hi.
func (s *Serverless) SetStartLatency(lo, hi time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.min, s.max = lo, max(hi, lo)
}

// StartLatency draws the latency of the next start.
func (s *Serverless) StartLatency() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return DrawLatency(s.rng, s.min, s.max)
}

// DrawLatency draws a start latency uniformly from [lo, hi].
func DrawLatency(r *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo)+1))
}

// Start starts a created container after the start latency.
func (s *Serverless) Start(ctx context.Context, id string) error {
	if d := s.StartLatency(); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("start %s: %w", id, ctx.Err())
		}
	}
	return s.Runner.Start(ctx, id)
}

// Cost is the price of running a container of cpu vCPUs and memoryMB for d.
func (s *Serverless) Cost(cpu float64, memoryMB int64, d time.Duration) float64 {
	return cost.Serverless(s.price, cpu, memoryMB, d)
}
