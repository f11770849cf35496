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
// string ("90s", "10m", "1h30m"). A bare number is refused: its unit would
// be a guess.
type Duration time.Duration

// String formats d as time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n json.Number
		if json.Unmarshal(b, &n) == nil {
			return fmt.Errorf("want a duration with its unit, such as \"90s\" or \"10m\", not the number %s", n)
		}
		return fmt.Errorf("want a duration such as \"90s\" or \"10m\"")
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

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
