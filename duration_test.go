package berth

import (
	"testing"
	"time"
)

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		45 * time.Second:                "45s",
		10 * time.Minute:                "10m",
		90 * time.Second:                "1m30s",
		90 * time.Minute:                "1h30m",
		2 * time.Hour:                   "2h",
		time.Hour + 30*time.Second:      "1h0m30s",
		1500 * time.Millisecond:         "1.5s",
		30*time.Minute + 10*time.Second: "30m10s",
		100*time.Hour + 20*time.Minute:  "100h20m",
	} {
		if got := ShortDuration(d); got != want {
			t.Errorf("ShortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
