package providertest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/provider"
)

// PoolHarness is what the Pool conformance suite needs of a provider.
type PoolHarness struct {
	// NewPool returns the pool under test. A later call returns a new Pool
	// on the same provider and pool name, as berth has after a restart.
	NewPool func(t *testing.T) provider.Pool
	// Exhaust makes the provider run out of capacity for o until restore
	// is called.
	Exhaust func(t *testing.T, o provider.Offering) (restore func())
	// Reclaim gives a Spot instance its interruption notice now; nil when
	// the pool is on-demand or the provider cannot.
	Reclaim func(t *testing.T, id string)
	// Wait lets d of the provider's time pass.
	Wait func(d time.Duration)
	// BootTime is the longest an instance stays pending.
	BootTime time.Duration
}

// RunPoolTests runs the conformance suite of provider.Pool against h. The
// tests run one after the other and terminate what they launch.
func RunPoolTests(t *testing.T, h PoolHarness) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, h PoolHarness, p provider.Pool)
	}{
		{"Offerings", testOfferings},
		{"LaunchBootsAndLists", testLaunch},
		{"LaunchIsIdempotentPerToken", testLaunchToken},
		{"Terminate", testTerminate},
		{"InsufficientCapacity", testInsufficientCapacity},
		{"NoOffering", testNoOffering},
		{"ListAfterRestart", testListAfterRestart},
		{"SpotNotice", testSpotNotice},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, h, h.NewPool(t)) })
	}
}

func poolCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// cheapest returns the pool's cheapest offering.
func cheapest(t *testing.T, p provider.Pool) provider.Offering {
	t.Helper()
	os, err := p.Offerings(poolCtx(t))
	if err != nil || len(os) == 0 {
		t.Fatalf("Offerings() = %v, %v; want at least one", os, err)
	}
	return slices.MinFunc(os, func(a, b provider.Offering) int {
		switch {
		case a.Price < b.Price:
			return -1
		case a.Price > b.Price:
			return 1
		}
		return 0
	})
}

// launch launches o and terminates the instance when the test ends.
func launch(t *testing.T, p provider.Pool, o provider.Offering, token string) provider.Instance {
	t.Helper()
	in, err := p.Launch(poolCtx(t), provider.LaunchRequest{
		InstanceType: o.InstanceType, Market: o.Market, Tags: map[string]string{"berth.test": t.Name()}, Token: token,
	})
	if err != nil {
		t.Fatalf("Launch(%s) = %v", o.InstanceType, err)
	}
	t.Cleanup(func() { _ = p.Terminate(context.Background(), in.ID) })
	return in
}

// findInstance returns the listed instance id.
func findInstance(t *testing.T, p provider.Pool, id string) (provider.Instance, bool) {
	t.Helper()
	list, err := p.List(poolCtx(t))
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	for _, in := range list {
		if in.ID == id {
			return in, true
		}
	}
	return provider.Instance{}, false
}

func testOfferings(t *testing.T, h PoolHarness, p provider.Pool) {
	os, err := p.Offerings(poolCtx(t))
	if err != nil || len(os) == 0 {
		t.Fatalf("Offerings() = %v, %v; want at least one", os, err)
	}
	for _, o := range os {
		if o.InstanceType == "" || o.CPU <= 0 || o.MemoryMB <= 0 || o.Price <= 0 || (o.Market != berth.OnDemand && o.Market != berth.Spot) {
			t.Errorf("offering %+v: want a type, positive shape and price, and a market", o)
		}
	}
}

func testLaunch(t *testing.T, h PoolHarness, p provider.Pool) {
	o := cheapest(t, p)
	in := launch(t, p, o, "")
	if in.ID == "" || in.InstanceType != o.InstanceType || in.Market != o.Market || in.State == provider.InstanceTerminated {
		t.Fatalf("Launch() = %+v, want a live %s %s instance", in, o.Market, o.InstanceType)
	}
	if in.Tags[provider.TagPool] == "" || in.Tags["berth.test"] != t.Name() {
		t.Errorf("Launch() tags = %v, want berth.pool and the request's tags", in.Tags)
	}
	if in.CPU != o.CPU || in.MemoryMB != o.MemoryMB {
		t.Errorf("Launch() shape = %v/%d, want the offering's %v/%d", in.CPU, in.MemoryMB, o.CPU, o.MemoryMB)
	}
	if _, ok := findInstance(t, p, in.ID); !ok {
		t.Fatalf("List() lacks the launched %s", in.ID)
	}
	h.Wait(h.BootTime)
	got, _ := findInstance(t, p, in.ID)
	if got.State != provider.InstanceRunning {
		t.Errorf("after the boot time, state = %s, want running", got.State)
	}
}

func testLaunchToken(t *testing.T, h PoolHarness, p provider.Pool) {
	o := cheapest(t, p)
	token := "tok-" + time.Now().Format("150405.000000")
	a := launch(t, p, o, token)
	b := launch(t, p, o, token)
	if a.ID != b.ID {
		t.Errorf("two launches with one token gave %s and %s, want one instance", a.ID, b.ID)
	}
}

func testTerminate(t *testing.T, h PoolHarness, p provider.Pool) {
	in := launch(t, p, cheapest(t, p), "")
	for i := range 2 {
		if err := p.Terminate(poolCtx(t), in.ID); err != nil {
			t.Fatalf("Terminate #%d = %v, want nil", i+1, err)
		}
	}
	got, ok := findInstance(t, p, in.ID)
	if !ok || got.State != provider.InstanceTerminated || got.TerminatedAt.IsZero() || got.Reclaimed {
		t.Errorf("after Terminate, List() shows %+v (listed %v), want it terminated by berth", got, ok)
	}
	if err := p.Terminate(poolCtx(t), "i-no-such-instance"); !errors.Is(err, provider.ErrNoInstance) {
		t.Errorf("Terminate(unknown) = %v, want ErrNoInstance", err)
	}
}

func testInsufficientCapacity(t *testing.T, h PoolHarness, p provider.Pool) {
	o := cheapest(t, p)
	restore := h.Exhaust(t, o)
	_, err := p.Launch(poolCtx(t), provider.LaunchRequest{InstanceType: o.InstanceType, Market: o.Market})
	var ice *provider.InsufficientCapacityError
	if !errors.As(err, &ice) || ice.InstanceType != o.InstanceType || ice.Market != o.Market {
		t.Fatalf("Launch() with no capacity = %v, want *InsufficientCapacityError for %s", err, o.InstanceType)
	}
	restore()
	launch(t, p, o, "")
}

func testNoOffering(t *testing.T, h PoolHarness, p provider.Pool) {
	_, err := p.Launch(poolCtx(t), provider.LaunchRequest{InstanceType: "no-such-type.huge"})
	if !errors.Is(err, provider.ErrNoOffering) {
		t.Errorf("Launch(unknown type) = %v, want ErrNoOffering", err)
	}
}

func testListAfterRestart(t *testing.T, h PoolHarness, p provider.Pool) {
	in := launch(t, p, cheapest(t, p), "")
	if _, ok := findInstance(t, h.NewPool(t), in.ID); !ok {
		t.Errorf("a new Pool on the same provider does not list %s", in.ID)
	}
}

func testSpotNotice(t *testing.T, h PoolHarness, p provider.Pool) {
	o := cheapest(t, p)
	if h.Reclaim == nil || o.Market != berth.Spot {
		// A property of the provider, not a missing dependency: the pool
		// is on-demand, or its provider shows no notices in List (EC2's
		// come from instance metadata and the interruption queue).
		t.Skip("the pool under test is not Spot, or its provider lists no notices")
	}
	in := launch(t, p, o, "")
	h.Wait(h.BootTime)
	h.Reclaim(t, in.ID)
	got, _ := findInstance(t, p, in.ID)
	if !got.Interrupted() || got.State != provider.InstanceRunning {
		t.Fatalf("after a notice, %+v: want it running with InterruptAt set", got)
	}
	h.Wait(berth.SpotNotice)
	got, _ = findInstance(t, p, in.ID)
	if got.State != provider.InstanceTerminated || !got.Reclaimed {
		t.Errorf("two minutes after the notice, %+v: want it reclaimed", got)
	}
}
