// Package cron parses the cron expressions of berth's schedules and computes
// their next run in a time zone.
//
// An expression has the five classic fields (minute, hour, day of month,
// month, day of week) or is a descriptor (@hourly, @daily, @weekly,
// @monthly, @yearly). As in Vixie cron, when both day of month and day of
// week are restricted a day matching either runs.
package cron

import (
	"fmt"
	"strings"
	"time"

	gocron "github.com/netresearch/go-cron"
)

// Expression is a parsed cron expression bound to a time zone.
type Expression struct {
	spec  string
	sched gocron.Schedule
	loc   *time.Location
}

// parser accepts the classic five fields and descriptors, with
// day-of-month OR day-of-week.
var parser = gocron.MustNewParser(gocron.Minute | gocron.Hour | gocron.Dom | gocron.Month | gocron.Dow | gocron.Descriptor | gocron.DowOrDom)

// Parse parses expr for the time zone loc (nil means UTC).
func Parse(expr string, loc *time.Location) (*Expression, error) {
	if loc == nil {
		loc = time.UTC
	}
	e := strings.TrimSpace(expr)
	switch {
	case e == "":
		return nil, fmt.Errorf("empty expression")
	case strings.HasPrefix(e, "TZ=") || strings.HasPrefix(e, "CRON_TZ="):
		return nil, fmt.Errorf("set the time zone in time_zone, not in the expression")
	case strings.HasPrefix(e, "@every"):
		return nil, fmt.Errorf("@every is not supported; use a five-field expression such as */5 * * * *")
	}
	sched, err := parser.Parse("CRON_TZ=" + loc.String() + " " + e)
	if err != nil {
		return nil, fmt.Errorf("%q is not a cron expression (minute hour day-of-month month day-of-week, or @hourly, @daily, ...): %v", expr, err)
	}
	x := &Expression{spec: e, sched: sched, loc: loc}
	if x.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("%q never runs", expr)
	}
	return x, nil
}

// Next returns the first run strictly after t, in UTC, or the zero time if
// the expression never runs again.
func (x *Expression) Next(t time.Time) time.Time {
	n := x.sched.Next(t.In(x.loc))
	if n.IsZero() {
		return n
	}
	return n.UTC()
}

// String returns the expression as written, trimmed.
func (x *Expression) String() string { return x.spec }
