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

func TestDurationUnmarshal(t *testing.T) {
	for in, want := range map[string]time.Duration{
		`"90s"`:   90 * time.Second,
		`"1h30m"`: 90 * time.Minute,
		`"0.5s"`:  500 * time.Millisecond,
		`"0s"`:    0,
	} {
		var d Duration
		if err := d.UnmarshalJSON([]byte(in)); err != nil || time.Duration(d) != want {
			t.Errorf("UnmarshalJSON(%s) = %v, %v; want %v", in, time.Duration(d), err, want)
		}
	}
	for in, want := range map[string]string{
		`"soon"`:       `"soon" is not a duration such as "90s" or "10m"`,
		`"10 minutes"`: `"10 minutes" is not a duration such as "90s" or "10m"`,
		`"90"`:         `"90" is not a duration such as "90s" or "10m"`,
		`"99999999h"`:  `"99999999h" is too large: at most 2562047h`,
		`"1.5e300s"`:   `"1.5e300s" is not a duration such as "90s" or "10m"`,
		// A bare number's unit would be a guess: seconds, or Go's
		// nanoseconds?
		`90`:     `want a duration with its unit, such as "90s" or "10m", not the number 90`,
		`0`:      `want a duration with its unit, such as "90s" or "10m", not the number 0`,
		`0.5`:    `want a duration with its unit, such as "90s" or "10m", not the number 0.5`,
		`-1e300`: `want a duration with its unit, such as "90s" or "10m", not the number -1e300`,
		`true`:   `want a duration such as "90s" or "10m"`,
		`{}`:     `want a duration such as "90s" or "10m"`,
	} {
		var d Duration
		err := d.UnmarshalJSON([]byte(in))
		if err == nil || err.Error() != want {
			t.Errorf("UnmarshalJSON(%s) error = %v, want %q", in, err, want)
		}
	}
}
