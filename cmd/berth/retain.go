package main

import (
	"fmt"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/control"
)

// minRetain is the shortest --retain: a job must outlive the clients
// that wait for its end (berth run, berth logs -f) and its callback's
// first try.
const minRetain = time.Minute

// retainFlag is --retain: how long finished jobs are kept, a duration of
// a minute or more, or "forever". 0 is refused rather than read as
// "delete at once" or "keep": it says neither.
type retainFlag struct{ d *time.Duration }

func (f retainFlag) String() string {
	if f.d == nil {
		return ""
	}
	if *f.d == control.Forever {
		return "forever"
	}
	return berth.ShortDuration(*f.d)
}

func (f retainFlag) Set(s string) error {
	if s == "forever" {
		*f.d = control.Forever
		return nil
	}
	d, err := berth.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%v, or forever", err)
	}
	if d < minRetain {
		return fmt.Errorf("shorter than a minute, it would delete jobs as they finish: give a duration such as 720h, or forever")
	}
	*f.d = d
	return nil
}
