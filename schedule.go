package berth

import (
	"bytes"
	"time"
)

// Concurrency says what a schedule does when its next run is due while an
// earlier run of it has not finished.
type Concurrency string

// The concurrency policies of a schedule.
const (
	Allow   Concurrency = "allow"   // start the new run alongside (the default)
	Forbid  Concurrency = "forbid"  // skip the new run
	Replace Concurrency = "replace" // cancel the running one, start the new one
)

// ScheduleSpec is a cron expression that creates jobs from a template.
type ScheduleSpec struct {
	Name        string      `json:"name,omitempty"`
	Cron        string      `json:"cron"`                  // 5 fields, or @hourly, @daily, ...
	TimeZone    string      `json:"time_zone,omitempty"`   // IANA name; default UTC
	Concurrency Concurrency `json:"concurrency,omitempty"` // default allow
	Job         JobSpec     `json:"job"`
}

// Schedule is an accepted ScheduleSpec. Missed runs (while the server was
// down) collapse into at most one catch-up run.
type Schedule struct {
	ID string `json:"id"`
	ScheduleSpec
	NextRunAt time.Time  `json:"next_run_at"`
	LastRunAt *time.Time `json:"last_run_at,omitempty"`
	LastJobID string     `json:"last_job_id,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

// Validate reports the first problem with s as a *FieldError. The cron
// expression itself is checked by the cron parser (internal/cron); here only
// its presence.
func (s ScheduleSpec) Validate() error {
	switch {
	case s.Cron == "":
		return fieldErr("cron", "is required")
	case len(s.Cron) > maxShortString:
		return fieldErr("cron", "is longer than %d characters", maxShortString)
	case len(s.Name) > maxShortString:
		return fieldErr("name", "is longer than %d characters", maxShortString)
	}
	switch s.Concurrency {
	case "", Allow, Forbid, Replace:
	default:
		return fieldErr("concurrency", "%q is not one of allow, forbid, replace", s.Concurrency)
	}
	if _, err := s.Location(); err != nil {
		return err
	}
	if s.Job.RunAt != nil {
		return fieldErr("job.run_at", "is set by the schedule; leave it out")
	}
	if s.Job.IdempotencyKey != "" {
		return fieldErr("job.idempotency_key", "is set by the schedule; leave it out")
	}
	if s.Job.Deadline != nil {
		return fieldErr("job.deadline", "is one moment, which the schedule's runs cannot share; leave it out")
	}
	if err := s.Job.Validate(); err != nil {
		return prefixField("job", err)
	}
	for k, v := range s.Job.SecretEnv {
		// The template is kept as written, for every run to come; each
		// run's job has its secret_env sealed like any job's.
		if !IsSecretRef(v) {
			return fieldErr("job.secret_env."+k, "a schedule's job takes references only (ssm:NAME, a Secrets Manager ARN), not secret values")
		}
	}
	return nil
}

// CheckJSON reports, as a *FieldError, what doc, the JSON document s was
// decoded from, gives that decoding cannot show: see JobSpec.CheckJSON,
// which checks the job template.
func (ScheduleSpec) CheckJSON(doc []byte) error {
	var job []byte
	ok := eachJSONField(doc, func(name, value []byte) {
		if bytes.EqualFold(name, []byte("job")) {
			job = value
		}
	})
	switch {
	case !ok:
		return &FieldError{Problem: "want a schedule spec as a JSON object"}
	case job == nil || string(job) == "null":
		return nil
	}
	return prefixField("job", JobSpec{}.CheckJSON(job))
}

// Location returns the schedule's time zone.
func (s ScheduleSpec) Location() (*time.Location, error) {
	if s.TimeZone == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil || s.TimeZone == "Local" {
		return nil, fieldErr("time_zone", "%q is not an IANA time zone such as Europe/Paris", s.TimeZone)
	}
	return loc, nil
}
