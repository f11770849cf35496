package fakecloud

import (
	"sync"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/providertest"
)

// manualClock is a clock that moves only when told.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *manualClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func spotSpec() berth.PoolSpec {
	return berth.PoolSpec{Name: "spot", Provider: berth.ProviderFake, Market: berth.Spot, Max: 10,
		InstanceTypes: []berth.InstanceType{
			{Name: "m5.large", CPU: 2, MemoryMB: 8192, Price: 0.096, SpotPrice: 0.034},
			{Name: "m5.xlarge", CPU: 4, MemoryMB: 16384, Price: 0.192},
		}}
}

func TestPoolConformance(t *testing.T) {
	for _, market := range []berth.Market{berth.OnDemand, berth.Spot} {
		t.Run(string(market), func(t *testing.T) {
			clock := &manualClock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
			c := New(Config{Clock: clock.now, BootTime: 45 * time.Second})
			spec := spotSpec()
			if market == berth.OnDemand {
				spec.Market = berth.OnDemand
				for i := range spec.InstanceTypes {
					spec.InstanceTypes[i].SpotPrice = 0
				}
			}
			providertest.RunPoolTests(t, providertest.PoolHarness{
				NewPool: func(*testing.T) provider.Pool { return c.Pool(spec) },
				Exhaust: func(t *testing.T, o provider.Offering) func() {
					c.SetCapacity(o.InstanceType, o.Market, 0)
					return func() { c.SetCapacity(o.InstanceType, o.Market, -1) }
				},
				Reclaim:  func(t *testing.T, id string) { c.Reclaim(id) },
				Wait:     clock.add,
				BootTime: 45 * time.Second,
			})
		})
	}
}
