package scheduler

import (
	"fmt"
	"regexp"
	"time"

	berth "github.com/berth-run/berth"
)

// durationSyntax is what time.ParseDuration reads; a string of this shape
// that it refuses is out of range.
var durationSyntax = regexp.MustCompile(`^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`)

// CheckLabels checks the values of the labels placement reads, as written
// in a job spec: a start budget is a Go duration of at least 0. It
// returns a *berth.FieldError naming the label ("labels.berth.start-budget").
// Whether a pinned pool exists is for the caller to say: it knows the pools.
func CheckLabels(labels map[string]string) error {
	v, ok := labels[LabelStartBudget]
	if !ok {
		return nil
	}
	field := "labels." + LabelStartBudget
	d, err := time.ParseDuration(v)
	switch {
	case err != nil && durationSyntax.MatchString(v):
		return &berth.FieldError{Field: field, Problem: fmt.Sprintf("%q is too large: at most %s", v, berth.ShortDuration(time.Duration(1<<63-1).Truncate(time.Hour)))}
	case err != nil:
		return &berth.FieldError{Field: field, Problem: fmt.Sprintf("%q is not a duration such as \"45s\" or \"10m\"", v)}
	case d < 0:
		return &berth.FieldError{Field: field, Problem: fmt.Sprintf("%q must not be negative", v)}
	}
	return nil
}
