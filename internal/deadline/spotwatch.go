package deadline

import (
	"slices"
	"time"
)

// SpotWatch follows whether a Spot pool could have capacity (an open
// window and an instance type that has not run out of capacity or been
// reclaimed lately), for the statistics a policy weighs. Its zero value
// has seen nothing.
type SpotWatch struct {
	first, since         time.Time // first seen; start of the current spell
	up                   bool
	upTotal, downTotal   time.Duration // of the spells that ended
	upSpells, downSpells int
	// ups are the lengths of the last up spells that ended, at most
	// keepUps of them, oldest first.
	ups []time.Duration
}

// keepUps bounds the up spells a SpotWatch keeps for their median.
const keepUps = 101

// See records the pool's state at now.
func (w *SpotWatch) See(up bool, now time.Time) {
	if w.first.IsZero() {
		w.first, w.since, w.up = now, now, up
		return
	}
	if up == w.up || now.Before(w.since) {
		return
	}
	if d := now.Sub(w.since); w.up {
		w.upTotal += d
		w.upSpells++
		if len(w.ups) == keepUps {
			w.ups = w.ups[1:]
		}
		w.ups = append(w.ups, d)
	} else {
		w.downTotal += d
		w.downSpells++
	}
	w.up, w.since = up, now
}

// Stats returns what the watch saw up to now, the current spell included.
func (w *SpotWatch) Stats(now time.Time) PoolStats {
	if w.first.IsZero() || !now.After(w.first) {
		return PoolStats{}
	}
	up, down, ups, downs := w.upTotal, w.downTotal, w.upSpells, w.downSpells
	if cur := now.Sub(w.since); w.up {
		up, ups = up+cur, ups+1
	} else {
		down, downs = down+cur, downs+1
	}
	st := PoolStats{Observed: now.Sub(w.first), Availability: float64(up) / float64(up+down)}
	if ups > 0 {
		st.MeanUp = up / time.Duration(ups)
	}
	spells := slices.Clone(w.ups)
	if w.up {
		spells = append(spells, now.Sub(w.since))
	}
	if len(spells) > 0 {
		slices.Sort(spells)
		st.MedianUp = spells[len(spells)/2]
	}
	if downs > 0 {
		st.MeanDown = down / time.Duration(downs)
	}
	return st
}
