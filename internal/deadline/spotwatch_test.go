package deadline

import (
	"testing"
	"time"
)

func TestSpotWatch(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	var w SpotWatch
	if st := w.Stats(t0); st != (PoolStats{}) {
		t.Errorf("stats of an unused watch = %+v, want zero", st)
	}
	// Up 0-6h, down 6-7h, up 7-13h, down 13h-14h, seen at 15h: still down.
	for _, s := range []struct {
		at time.Duration
		up bool
	}{{0, true}, {time.Hour, true}, {6 * time.Hour, false}, {7 * time.Hour, true}, {13 * time.Hour, false}} {
		w.See(s.up, t0.Add(s.at))
	}
	got := w.Stats(t0.Add(14 * time.Hour))
	want := PoolStats{Availability: 12.0 / 14, MeanUp: 6 * time.Hour, MedianUp: 6 * time.Hour, MeanDown: time.Hour, Observed: 14 * time.Hour}
	if got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
	// Up again from 14h to 14h30m: spells of 6h, 6h and 30m so far.
	w.See(true, t0.Add(14*time.Hour))
	w.See(false, t0.Add(14*time.Hour+30*time.Minute))
	w.See(true, t0.Add(15*time.Hour))
	if got := w.Stats(t0.Add(15*time.Hour + 10*time.Minute)); got.MedianUp != 6*time.Hour || got.MeanUp != (12*time.Hour+40*time.Minute)/4 {
		t.Errorf("after short spells: median up %s, mean up %s; want 6h and 3h10m", got.MedianUp, got.MeanUp)
	}
}
