package store

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/cost"
	"github.com/berth-run/berth/internal/nodeapi"
)

// joinReady admits a ready node of pool with the facts given.
func joinReady(t *testing.T, s *Store, id, pool string, cpu float64, mem int64, facts nodeapi.Facts) {
	t.Helper()
	ctx := context.Background()
	st := nodeapi.Status{Name: id, CPU: cpu, MemoryMB: mem, Healthy: true, Facts: facts}
	if _, err := s.JoinNode(ctx, id, pool, st, "", t0); err != nil {
		t.Fatal(err)
	}
	st.Ready = true
	if _, _, err := s.HeartbeatNode(ctx, id, st, t0); err != nil {
		t.Fatal(err)
	}
}

// TestAttemptCost: an attempt placed on a node holds its share of the node
// at the price its agent reported; one placed with Held holds that; each
// costs price × share × its time, and the ledger sums them by pool, market
// and label, with each priced host's idle time: its life at its price less
// what its attempts held of it, up to now or until it is gone.
func TestAttemptCost(t *testing.T) { forEachStore(t, testAttemptCost) }

func testAttemptCost(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	joinReady(t, s, "n1", "spot", 4, 8192, nodeapi.Facts{InstanceID: "i-1", Market: "spot", Price: 0.08})
	joinReady(t, s, "sl", "overflow", 1024, 1<<20, nodeapi.Facts{})
	a := mustCreate(t, s, berth.JobSpec{Image: "x", CPU: 1, MemoryMB: 2048, Labels: map[string]string{"team": "ml"}}.WithDefaults(), t0)
	b := mustCreate(t, s, berth.JobSpec{Image: "x", CPU: 2, MemoryMB: 4096}.WithDefaults(), t0)
	held := Held{Pool: "overflow", Market: berth.OnDemand, Price: 0.36, Share: 1}
	done, err := s.Place(ctx, []Placement{
		{JobID: a.ID, JobVersion: a.Version, NodeID: "n1", AttemptID: "att_a"},
		{JobID: b.ID, JobVersion: b.Version, NodeID: "sl", AttemptID: "att_b", Held: &held},
	}, t0)
	if err != nil || len(done) != 2 {
		t.Fatalf("Place = %v, %v", done, err)
	}
	for _, id := range []string{"att_a", "att_b"} {
		if _, err := s.FinishAttempt(ctx, id, berth.Outcome{Kind: berth.Exited, ExitCode: new(0)}, t0.Add(30*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	costs, err := s.AttemptCosts(ctx, []string{a.ID, b.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		job  string
		held Held
		usd  float64
	}{
		{a.ID, Held{Pool: "spot", Market: berth.Spot, Price: 0.08, Share: 0.25}, 0.08 * 0.25 / 2},
		{b.ID, held, 0.36 / 2},
	} {
		cs := costs[tt.job]
		if len(cs) != 1 || cs[0].Held != tt.held || math.Abs(cs[0].USD(t0.Add(time.Hour))-tt.usd) > 1e-12 {
			t.Errorf("attempt costs of %s = %+v, want %+v costing %v", tt.job, cs, tt.held, tt.usd)
		}
	}
	l, err := s.Ledger(ctx, time.Time{}, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		got  map[string]float64
		want map[string]float64
	}{
		{"pool", l.By(cost.ByPool), map[string]float64{"spot": 0.08, "overflow": 0.18}},
		{"market", l.By(cost.ByMarket), map[string]float64{"spot": 0.08, "on-demand": 0.18}},
		{"label team", l.By(cost.ByLabel("team")), map[string]float64{"ml": 0.01, "": 0.18, cost.IdleHosts: 0.07}},
	} {
		for k, v := range tt.want {
			if math.Abs(tt.got[k]-v) > 1e-12 || len(tt.got) != len(tt.want) {
				t.Errorf("ledger by %s = %v, want %v", tt.name, tt.got, tt.want)
				break
			}
		}
	}
	// Since +1m: the attempts' last 29 minutes, the host's last 59.
	if l, err := s.Ledger(ctx, t0.Add(time.Minute), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	} else if by := l.By(cost.ByPool); len(l) != 3 || math.Abs(by["spot"]-0.08*59/60) > 1e-12 || math.Abs(by["overflow"]-0.36*29/60) > 1e-12 {
		t.Errorf("ledger since +1m = %v by pool %v; want spot %v, overflow %v", l, by, 0.08*59/60, 0.36*29/60)
	}
	if _, err := s.RetireNode(ctx, "n1", "scaled in", t0.Add(45*time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, now := range []time.Duration{time.Hour, 3 * time.Hour} {
		l, err := s.Ledger(ctx, time.Time{}, t0.Add(now))
		if got := l.By(cost.ByPool)["spot"]; err != nil || math.Abs(got-0.08*0.75) > 1e-12 {
			t.Errorf("ledger at +%v of the spot pool, its host gone at +45m = %v, %v; want 45 minutes of it", now, got, err)
		}
	}
	if l, err := s.Ledger(ctx, t0.Add(time.Hour), t0.Add(2*time.Hour)); err != nil || len(l) != 0 {
		t.Errorf("ledger since after the host went = %v, %v; want none", l, err)
	}
}

// TestRetireNode: a retired node is gone and its running attempt closed as
// lost, its job re-queued without spending a retry; a node's use says when
// it became idle.
func TestRetireNode(t *testing.T) { forEachStore(t, testRetireNode) }

func testRetireNode(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	joinReady(t, s, "n1", "spot", 4, 8192, nodeapi.Facts{InstanceID: "i-1"})
	joinReady(t, s, "n2", "spot", 4, 8192, nodeapi.Facts{InstanceID: "i-2"})
	j := mustCreate(t, s, berth.JobSpec{Image: "x", Retries: berth.RetryPolicy{Attempts: 1}}.WithDefaults(), t0)
	pinned := mustCreate(t, s, berth.JobSpec{Image: "x", Pool: "spot"}.WithDefaults(), t0)
	if _, err := s.Place(ctx, []Placement{{JobID: j.ID, JobVersion: j.Version, NodeID: "n1", AttemptID: "att_1"},
		{JobID: pinned.ID, JobVersion: pinned.Version, NodeID: "n1", AttemptID: "att_2"}}, t0); err != nil {
		t.Fatal(err)
	}
	uses, err := s.NodeUses(ctx, "spot")
	if err != nil {
		t.Fatal(err)
	}
	if u := uses["n1"]; u.Attempts != 2 || u.Pinned != 1 || !u.IdleSince.IsZero() {
		t.Errorf("use of the busy node = %+v, want 2 attempts, 1 of a job pinned to its pool, not idle", u)
	}
	if u := uses["n2"]; u.Attempts != 0 || !u.IdleSince.Equal(t0) {
		t.Errorf("use of the idle node = %+v, want idle since it joined", u)
	}
	closed, err := s.RetireNode(ctx, "n1", "spot reclaimed i-1", t0.Add(time.Minute))
	if err != nil || len(closed) != 2 {
		t.Fatalf("RetireNode = %v, %v; want both attempts closed", closed, err)
	}
	got, _ := s.Job(ctx, j.ID)
	if got.State != berth.Queued || got.Retried != 0 || got.Requeued != 1 {
		t.Errorf("job after its node was retired: %s, retried %d, requeued %d; want queued, 0, 1", got.State, got.Retried, got.Requeued)
	}
	if n, _ := s.NodeInfo(ctx, "n1"); n.State != berth.NodeGone {
		t.Errorf("retired node is %s, want gone", n.State)
	}
	if _, err := s.RetireNode(ctx, "n1", "again", t0); !errors.Is(err, berth.ErrStale) {
		t.Errorf("retiring a gone node = %v, want stale", err)
	}
}

// TestNoticeKeepsInterruption: a rebalance recommendation after an
// interruption notice does not hide it.
func TestNoticeKeepsInterruption(t *testing.T) { forEachStore(t, testNoticeKeepsInterruption) }

func testNoticeKeepsInterruption(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	joinReady(t, s, "n1", "spot", 4, 8192, nodeapi.Facts{})
	if _, err := s.NoticeNode(ctx, "n1", nodeapi.SpotInterruption, t0); err != nil {
		t.Fatal(err)
	}
	n, err := s.NoticeNode(ctx, "n1", nodeapi.Rebalance, t0.Add(time.Second))
	if err != nil || n.Notice != nodeapi.SpotInterruption || n.State != berth.NodeDraining {
		t.Errorf("after a rebalance: notice %q, state %s, %v; want spot_interruption, draining", n.Notice, n.State, err)
	}
}

// TestCostFollowsPrices: where the fleet records a type's prices, an
// attempt and its host's idle time are priced at the price of each
// moment, not at the price the host's agent reported when it joined.
func TestCostFollowsPrices(t *testing.T) { forEachStore(t, testCostFollowsPrices) }

func testCostFollowsPrices(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	joinReady(t, s, "n1", "spot", 4, 8192, nodeapi.Facts{InstanceID: "i-1", InstanceType: "m5.xlarge", Market: "spot", Price: 0.08})
	if err := s.RecordPrices(ctx, []PricePoint{
		{Pool: "spot", InstanceType: "m5.xlarge", At: t0.Add(10 * time.Minute), Price: 0.08},
		{Pool: "spot", InstanceType: "m5.xlarge", At: t0.Add(30 * time.Minute), Price: 0.16},
		{Pool: "other", InstanceType: "m5.xlarge", At: t0, Price: 9},
	}); err != nil {
		t.Fatal(err)
	}
	j := mustCreate(t, s, berth.JobSpec{Image: "x", CPU: 1, MemoryMB: 2048}.WithDefaults(), t0)
	if _, err := s.Place(ctx, []Placement{{JobID: j.ID, JobVersion: j.Version, NodeID: "n1", AttemptID: "att_1"}}, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishAttempt(ctx, "att_1", berth.Outcome{Kind: berth.Exited, ExitCode: new(0)}, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	costs, err := s.AttemptCosts(ctx, []string{j.ID})
	if err != nil {
		t.Fatal(err)
	}
	// A quarter of the host: 30 minutes at 0.08 (the agent's price, then
	// the same recorded), 30 at 0.16.
	work := 0.25 * (0.08*0.5 + 0.16*0.5)
	if c := costs[j.ID][0]; c.Price != 0.08 || math.Abs(c.USD(t0.Add(2*time.Hour))-work) > 1e-12 {
		t.Errorf("attempt held %+v costing %v, want 0.08/h at placement costing %v", c.Held, c.USD(t0.Add(2*time.Hour)), work)
	}
	l, err := s.Ledger(ctx, time.Time{}, t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	host := 0.08*0.5 + 0.16*1.5 // two hours: the first half at 0.08
	if got := l.By(cost.ByPool)["spot"]; math.Abs(got-host) > 1e-12 {
		t.Errorf("the spot pool cost %v over two hours, want %v at the recorded prices", got, host)
	}
	if err := s.RecordPrices(ctx, []PricePoint{{Pool: "spot", InstanceType: "m5.xlarge", At: t0, Price: -1}}); err == nil {
		t.Errorf("RecordPrices took a negative price")
	}
}

// TestHostWithoutAgentPrice: an EC2 host's agent knows no price; where
// its pool's prices of its type are recorded, its attempts hold the price
// of their placement and the host costs its life at the recorded prices,
// busy or idle. A host of no recorded type and no price costs nothing.
func TestHostWithoutAgentPrice(t *testing.T) { forEachStore(t, testHostWithoutAgentPrice) }

func testHostWithoutAgentPrice(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	joinReady(t, s, "n1", "spot", 4, 8192, nodeapi.Facts{InstanceID: "i-1", InstanceType: "m5.xlarge", Market: "spot"})
	joinReady(t, s, "n2", "spot", 4, 8192, nodeapi.Facts{InstanceID: "i-2", InstanceType: "c5.xlarge", Market: "spot"})
	if err := s.RecordPrices(ctx, []PricePoint{
		{Pool: "spot", InstanceType: "m5.xlarge", At: t0, Price: 0.08},
		{Pool: "spot", InstanceType: "m5.xlarge", At: t0.Add(time.Hour), Price: 0.16},
	}); err != nil {
		t.Fatal(err)
	}
	j := mustCreate(t, s, berth.JobSpec{Image: "x", CPU: 1, MemoryMB: 2048}.WithDefaults(), t0)
	if _, err := s.Place(ctx, []Placement{{JobID: j.ID, JobVersion: j.Version, NodeID: "n1", AttemptID: "att_1"}}, t0.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishAttempt(ctx, "att_1", berth.Outcome{Kind: berth.Exited, ExitCode: new(0)}, t0.Add(90*time.Minute)); err != nil {
		t.Fatal(err)
	}
	costs, err := s.AttemptCosts(ctx, []string{j.ID})
	if err != nil {
		t.Fatal(err)
	}
	work := 0.25 * (0.08*0.5 + 0.16*0.5) // a quarter of the host, 30 minutes at each price
	if c := costs[j.ID][0]; c.Price != 0.08 || c.Market != berth.Spot || math.Abs(c.USD(t0.Add(2*time.Hour))-work) > 1e-12 {
		t.Errorf("attempt held %+v costing %v, want spot at 0.08/h, its placement's, costing %v", c.Held, c.USD(t0.Add(2*time.Hour)), work)
	}
	l, err := s.Ledger(ctx, time.Time{}, t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	host := 0.08*1 + 0.16*1 // n1's two hours; n2's type has no price
	if got := l.By(cost.ByPool)["spot"]; math.Abs(got-host) > 1e-12 {
		t.Errorf("the spot pool cost %v over two hours, want %v: n1 at the recorded prices, n2 nothing", got, host)
	}
	var idle cost.Ledger
	for _, x := range l {
		if x.Idle() {
			idle = append(idle, x)
		}
	}
	if math.Abs(idle.Total()-(host-work)) > 1e-12 {
		t.Errorf("idle %v, want the host's life less its attempt's, %v", idle.Total(), host-work)
	}
}

// TestLostHostPricedToItsLastHeartbeat: a priced host that is lost (an
// agent's machine shut down) costs up to its last heartbeat, not for ever.
func TestLostHostPricedToItsLastHeartbeat(t *testing.T) {
	forEachStore(t, testLostHostPricedToItsLastHeartbeat)
}

func testLostHostPricedToItsLastHeartbeat(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	joinReady(t, s, "a1", "gpu", 4, 8192, nodeapi.Facts{Price: 0.10})
	// Its heartbeats, as the registry records them.
	if err := s.TouchNodes(ctx, map[string]time.Time{"a1": t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoseNode(ctx, "a1", "no heartbeat", t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, now := range []time.Duration{3 * time.Hour, 24 * time.Hour, 30 * 24 * time.Hour} {
		l, err := s.Ledger(ctx, time.Time{}, t0.Add(now))
		if err != nil || math.Abs(l.Total()-0.2) > 1e-12 {
			t.Errorf("ledger at +%v of a host last heard of at +2h = %v, %v; want its two hours, 0.2", now, l, err)
		}
	}
}

// TestCostByDay: a host busy with one job its first 24 hours and idle the
// next 24 costs, each UTC day, what it lived that day at its price, and
// its idle time falls on the days it was idle.
func TestCostByDay(t *testing.T) { forEachStore(t, testCostByDay) }

func testCostByDay(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	joinReady(t, s, "n1", "spot", 4, 8192, nodeapi.Facts{InstanceID: "i-1", Price: 1}) // at t0, 05:06 UTC
	j := mustCreate(t, s, berth.JobSpec{Image: "x", CPU: 4, MemoryMB: 8192}.WithDefaults(), t0)
	if _, err := s.Place(ctx, []Placement{{JobID: j.ID, JobVersion: j.Version, NodeID: "n1", AttemptID: "att_1"}}, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishAttempt(ctx, "att_1", berth.Outcome{Kind: berth.Exited, ExitCode: new(0)}, t0.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RetireNode(ctx, "n1", "scaled in", t0.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	l, err := s.Ledger(ctx, time.Time{}, t0.Add(72*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	first := 24 - (5 + 6.0/60 + (7+0.891011121)/3600) // hours of t0's day left
	var idle cost.Ledger
	for _, x := range l {
		if x.Idle() {
			idle = append(idle, x)
		}
	}
	for _, tt := range []struct {
		name      string
		got, want map[string]float64
	}{
		{"all", l.ByDay(time.UTC), map[string]float64{"2031-03-04": first, "2031-03-05": 24, "2031-03-06": 24 - first}},
		{"idle", idle.ByDay(time.UTC), map[string]float64{"2031-03-04": 0, "2031-03-05": first, "2031-03-06": 24 - first}},
	} {
		for day, want := range tt.want {
			if math.Abs(tt.got[day]-want) > 1e-6 {
				t.Errorf("%s by day = %v, want %v", tt.name, tt.got, tt.want)
				break
			}
		}
	}
}
