package evaluate

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/berth-run/berth/internal/deadline"
)

// bruteOmniscient is the tick-by-tick program the run-level bound must
// equal: states (mode, changeover left, progress) after every tick, every
// decision the simulator allows.
func bruteOmniscient(su Setup, avail []bool) float64 {
	n, h, T := su.N, su.H, su.T
	none := su.Job.Checkpoint == deadline.CheckpointNone
	type key struct {
		m    deadline.Mode
		r, w int
	}
	cur := map[key]float64{{deadline.None, 0, 0}: 0}
	best := math.Inf(1)
	for t := range T {
		a := t < len(avail) && avail[t]
		next := map[key]float64{}
		for k, c := range cur {
			m, r, w := k.m, k.r, k.w
			if m == deadline.Spot && !a {
				m, r = deadline.None, 0
				if none {
					w = 0
				}
			}
			for _, choice := range []deadline.Mode{deadline.None, deadline.Spot, deadline.OnDemand} {
				if choice == deadline.Spot && !a {
					continue
				}
				m2, r2, w2 := m, r, w
				if choice != m2 {
					if none && m2 != deadline.None {
						w2 = 0
					}
					m2, r2 = choice, h
					if choice == deadline.None {
						r2 = 0
					}
				}
				c2 := c
				switch m2 {
				case deadline.Spot:
					c2 += su.spotCost(t)
				case deadline.OnDemand:
					c2++
				}
				if m2 != deadline.None {
					if r2 > 0 {
						r2--
					} else {
						w2++
					}
				}
				if w2 >= n {
					best = min(best, c2)
					continue
				}
				k2 := key{m2, r2, w2}
				if old, ok := next[k2]; !ok || c2 < old {
					next[k2] = c2
				}
			}
		}
		cur = next
	}
	return best
}

func randomAvail(rng *rand.Rand, T int, pUp, pDown float64) []bool {
	a := make([]bool, T)
	up := rng.Float64() < 0.5
	for i := range a {
		if up && rng.Float64() < pDown {
			up = false
		} else if !up && rng.Float64() < pUp {
			up = true
		}
		a[i] = up
	}
	return a
}

// randomCosts returns per-tick Spot costs in [0, 1]: steps around base, now
// and then a change, as prices move.
func randomCosts(rng *rand.Rand, T int, base float64) []float64 {
	c := make([]float64, T)
	v := base
	for i := range c {
		if rng.Float64() < 0.25 {
			v = rng.Float64()
		}
		c[i] = v
	}
	return c
}

func TestOmniscientMatchesTickProgram(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 1200 {
		gap := time.Minute
		n := 3 + rng.IntN(12)
		h := rng.IntN(4)
		T := n + h + rng.IntN(30)
		ck := deadline.CheckpointOnSigterm
		if i%5 == 4 {
			ck = deadline.CheckpointNone
		}
		job := Job{Work: time.Duration(n) * gap, Deadline: time.Duration(T) * gap, Changeover: time.Duration(h) * gap, Checkpoint: ck}
		su, err := NewSetup(job, gap, 1+4*rng.Float64())
		if err != nil {
			t.Fatal(err)
		}
		avail := randomAvail(rng, T, 0.2+0.5*rng.Float64(), 0.1+0.5*rng.Float64())
		if i%3 > 0 {
			su.SpotCosts = randomCosts(rng, T-rng.IntN(4), su.SpotCost)
		}
		got, ok := su.Omniscient(avail)
		if !ok {
			t.Fatalf("case %d: Omniscient found no schedule", i)
		}
		want := bruteOmniscient(su, avail)
		if math.Abs(got.Cost-want) > 1e-9 {
			t.Fatalf("case %d (n=%d h=%d T=%d %v avail=%v costs=%v): Omniscient = %v, tick program = %v",
				i, n, h, T, ck, avail, su.SpotCosts, got.Cost, want)
		}
	}
}
