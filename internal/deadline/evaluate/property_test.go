package evaluate

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/berth-run/berth/internal/deadline"
)

var onlinePolicies = []deadline.Policy{deadline.Greedy{}, deadline.UniformProgress{}, deadline.Adaptive{}}

// sample is one random job on one random synthetic trace.
type sample struct {
	su    Setup
	avail []bool
	stats deadline.PoolStats
}

func randomSample(t *testing.T, rng *rand.Rand, ck deadline.Checkpoint, avail func(T int) []bool) sample {
	t.Helper()
	gap := 5 * time.Minute
	n := 20 + rng.IntN(200)
	h := rng.IntN(6)
	frac := 0.5 + 0.48*rng.Float64()
	T := max(int(float64(n)/frac), n+h)
	job := Job{Work: time.Duration(n) * gap, Deadline: time.Duration(T) * gap, Changeover: time.Duration(h) * gap, Checkpoint: ck}
	su, err := NewSetup(job, gap, 1.5+4*rng.Float64())
	if err != nil {
		t.Fatal(err)
	}
	a := avail(T + 50)
	st := deadline.PoolStats{}
	if rng.IntN(4) > 0 { // mostly known statistics, some unknown
		st = Trace{Gap: gap, Avail: randomAvail(rng, 2000, 0.05+0.3*rng.Float64(), 0.02+0.3*rng.Float64())}.Stats(0, 2000)
	}
	return sample{su, a, st}
}

func TestNoPolicyMissesAMeetableDeadline(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 3000 {
		ck := deadline.CheckpointOnSigterm
		if i%4 == 3 {
			ck = deadline.CheckpointNone
		}
		s := randomSample(t, rng, ck, func(T int) []bool {
			return randomAvail(rng, T, 0.02+0.5*rng.Float64(), 0.02+0.5*rng.Float64())
		})
		for _, p := range onlinePolicies {
			if out := s.su.Run(p, s.avail, s.stats); out.Missed {
				t.Fatalf("sample %d: %s missed the deadline (N=%d H=%d T=%d %v)", i, p.Name(), s.su.N, s.su.H, s.su.T, ck)
			}
		}
	}
}

func TestOmniscientIsBelowEveryPolicy(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 3000 {
		ck := deadline.CheckpointOnSigterm
		if i%4 == 3 {
			ck = deadline.CheckpointNone
		}
		s := randomSample(t, rng, ck, func(T int) []bool {
			return randomAvail(rng, T, 0.02+0.5*rng.Float64(), 0.02+0.5*rng.Float64())
		})
		if i%2 == 0 { // per-tick Spot prices
			s.su.SpotCosts = randomCosts(rng, len(s.avail), s.su.SpotCost)
		}
		bound, ok := s.su.Omniscient(s.avail)
		if !ok {
			t.Fatalf("sample %d: no bound", i)
		}
		for _, p := range onlinePolicies {
			if out := s.su.Run(p, s.avail, s.stats); out.Cost < bound.Cost-1e-9 {
				t.Fatalf("sample %d: %s costs %v, below the omniscient bound %v", i, p.Name(), out.Cost, bound.Cost)
			}
		}
	}
}

func TestSpotAlwaysAvailableMeansSpotOnly(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	always := func(T int) []bool {
		a := make([]bool, T)
		for i := range a {
			a[i] = true
		}
		return a
	}
	for i := range 500 {
		s := randomSample(t, rng, deadline.CheckpointOnSigterm, always)
		if s.su.T-s.su.N-s.su.H < 2*s.su.H+1 {
			continue // too tight to start on Spot safely: on-demand is the only safe start
		}
		want := float64(s.su.N+s.su.H) * s.su.SpotCost
		for _, p := range append(onlinePolicies, nil) {
			var out Outcome
			name := OmniscientName
			if p == nil {
				out, _ = s.su.Omniscient(s.avail)
			} else {
				out, name = s.su.Run(p, s.avail, s.stats), p.Name()
			}
			if out.SpotWork != out.Work || math.Abs(out.Cost-want) > 1e-9 {
				t.Fatalf("sample %d: %s did %d of %d ticks on Spot for %v, want all for %v", i, name, out.SpotWork, out.Work, out.Cost, want)
			}
		}
	}
}

func TestSpotNeverAvailableMeansOnDemand(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	never := func(T int) []bool { return make([]bool, T) }
	for i := range 500 {
		ck := deadline.CheckpointOnSigterm
		if i%2 == 1 {
			ck = deadline.CheckpointNone
		}
		s := randomSample(t, rng, ck, never)
		want := s.su.OnDemandCost()
		for _, p := range append(onlinePolicies, nil) {
			var out Outcome
			name := OmniscientName
			if p == nil {
				out, _ = s.su.Omniscient(s.avail)
			} else {
				out, name = s.su.Run(p, s.avail, s.stats), p.Name()
			}
			if out.Cost != want || out.Missed {
				t.Fatalf("sample %d: %s cost %v (missed %v), want on-demand's %v", i, name, out.Cost, out.Missed, want)
			}
		}
	}
}

// TestNoSpotPaidForARestart: while Spot holds, a job that restarts from
// zero runs wholly on the market it starts on. Started on Spot, it ends
// there; where it could not, it starts on on-demand instead of paying Spot
// for a run the safety net would throw away.
func TestNoSpotPaidForARestart(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	always := func(T int) []bool {
		a := make([]bool, T)
		for i := range a {
			a[i] = true
		}
		return a
	}
	gap := 5 * time.Minute
	onSpot, onDemand := 0, 0
	for i := range 1000 {
		// Deadlines from 1.1 to 5 times the run: about half of the jobs
		// have room for a run on Spot and a restart on on-demand.
		n, h := 20+rng.IntN(200), rng.IntN(6)
		T := int(float64(n+h) * (1.1 + 3.9*rng.Float64()))
		job := Job{Work: time.Duration(n) * gap, Deadline: time.Duration(T) * gap, Changeover: time.Duration(h) * gap, Checkpoint: deadline.CheckpointNone}
		su, err := NewSetup(job, gap, 1.5+4*rng.Float64())
		if err != nil {
			t.Fatal(err)
		}
		stats := Trace{Gap: gap, Avail: randomAvail(rng, 2000, 0.05+0.3*rng.Float64(), 0.02+0.3*rng.Float64())}.Stats(0, 2000)
		for _, p := range onlinePolicies {
			out := su.Run(p, always(T+50), stats)
			if out.Missed || out.Work != su.N || (out.SpotWork != 0 && out.SpotWork != out.Work) {
				t.Fatalf("sample %d (N=%d H=%d T=%d): %s did %d ticks of work for %d, %d on Spot (missed %v); want one run, on one market",
					i, su.N, su.H, su.T, p.Name(), out.Work, su.N, out.SpotWork, out.Missed)
			}
			if out.SpotWork > 0 {
				onSpot++
			} else {
				onDemand++
			}
		}
	}
	if onSpot == 0 || onDemand == 0 {
		t.Errorf("%d runs on Spot, %d on on-demand; want both", onSpot, onDemand)
	}
}
