package berth

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
)

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("90s", "10m", "1h30m"). It also accepts a number of seconds.
type Duration time.Duration

// String formats d as time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var secs float64
		if err := json.Unmarshal(b, &secs); err != nil {
			return fmt.Errorf("want a duration such as \"90s\" or \"10m\"")
		}
		if !(math.Abs(secs) < maxDurationSeconds) { // float64(MaxInt64) rounds up to 2⁶³
			return fmt.Errorf("%v seconds is too large: at most %s", secs, maxDuration)
		}
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// maxDurationSeconds is the longest duration, in seconds, a Duration holds.
const maxDurationSeconds = float64(math.MaxInt64) / float64(time.Second)

// maxDuration is the longest duration in whole hours, for messages.
var maxDuration = ShortDuration(time.Duration(math.MaxInt64).Truncate(time.Hour))

// durationSyntax matches what time.ParseDuration reads, whatever the size.
var durationSyntax = regexp.MustCompile(`^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`)

// ParseDuration is time.ParseDuration with errors for people: it says
// whether s is not a duration at all or one too large to hold.
func ParseDuration(s string) (time.Duration, error) {
	v, err := time.ParseDuration(s)
	if err == nil {
		return v, nil
	}
	if durationSyntax.MatchString(s) {
		return 0, fmt.Errorf("%q is too large: at most %s", s, maxDuration)
	}
	return 0, fmt.Errorf("%q is not a duration such as \"90s\" or \"10m\"", s)
}

// ShortDuration formats d without trailing zero units: "10m", "1h30m",
// "1m30s", "45s".
func ShortDuration(d time.Duration) string {
	s := d.String()
	if d >= time.Minute && strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if d >= time.Hour && strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
