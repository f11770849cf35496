package scheduler

import (
	"fmt"

	berth "github.com/berth-run/berth"
)

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
	d, err := berth.ParseDuration(v)
	switch {
	case err != nil:
		return &berth.FieldError{Field: field, Problem: err.Error()}
	case d < 0:
		return &berth.FieldError{Field: field, Problem: fmt.Sprintf("%q must not be negative", v)}
	}
	return nil
}
