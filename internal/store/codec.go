package store

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	berth "github.com/berth-run/berth"
)

// tsLayout is how timestamps are stored: UTC, nanoseconds, one fixed width,
// so that text order is time order and years up to 9999 fit.
const tsLayout = "2006-01-02T15:04:05.000000000Z"

// ts formats t for storage.
func ts(t time.Time) string { return t.UTC().Format(tsLayout) }

// tsPtr formats an optional time: NULL when nil.
func tsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

// parseTS reads a stored timestamp, in UTC.
func parseTS(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// parseTSPtr reads an optional stored timestamp.
func parseTSPtr(s sql.NullString) (*time.Time, error) {
	if !s.Valid {
		return nil, nil
	}
	t, err := parseTS(s.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// intPtr reads an optional integer.
func intPtr(n sql.NullInt64) *int {
	if !n.Valid {
		return nil
	}
	v := int(n.Int64)
	return &v
}

// nullInt writes an optional integer: NULL when nil.
func nullInt(p *int) any {
	if p == nil {
		return nil
	}
	return int64(*p)
}

// utcPtr returns a copy of t in UTC, or nil.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// jobCols are the columns a jobRow reads, from jobs aliased j.
const jobCols = `j.id, j.spec, j.state, j.reason, j.exit_code, j.result, j.schedule_id,
	j.not_before, j.retried, j.requeued, j.created_at, j.updated_at, j.finished_at,
	j.version, j.callback_sent`

// jobRow receives one row of jobCols.
type jobRow struct {
	j                       berth.Job
	spec                    []byte
	exit                    sql.NullInt64
	result, sched, nb, fin  sql.NullString
	created, updated, state string
}

// dest returns the destinations of jobCols, in order.
func (r *jobRow) dest() []any {
	return []any{&r.j.ID, &r.spec, &r.state, &r.j.Reason, &r.exit, &r.result, &r.sched,
		&r.nb, &r.j.Retried, &r.j.Requeued, &r.created, &r.updated, &r.fin,
		&r.j.Version, &r.j.CallbackSent}
}

// job decodes the row into a job without attempts.
func (r *jobRow) job() (berth.Job, error) {
	j := r.j
	if err := json.Unmarshal(r.spec, &j.JobSpec); err != nil {
		return berth.Job{}, fmt.Errorf("job %s: spec: %w", j.ID, err)
	}
	j.State = berth.State(r.state)
	j.ExitCode = intPtr(r.exit)
	if r.result.Valid {
		j.Result = json.RawMessage(r.result.String)
	}
	j.ScheduleID = r.sched.String
	var err error
	if j.NotBefore, err = parseTSPtr(r.nb); err != nil {
		return berth.Job{}, err
	}
	if j.FinishedAt, err = parseTSPtr(r.fin); err != nil {
		return berth.Job{}, err
	}
	if j.CreatedAt, err = parseTS(r.created); err != nil {
		return berth.Job{}, err
	}
	if j.UpdatedAt, err = parseTS(r.updated); err != nil {
		return berth.Job{}, err
	}
	return j, nil
}

// scanJob reads one row of jobCols into a job without attempts.
func scanJob(sc scanner) (berth.Job, error) {
	var r jobRow
	if err := sc.Scan(r.dest()...); err != nil {
		return berth.Job{}, err
	}
	return r.job()
}

// attemptCols are the columns an attemptRow reads, from attempts aliased a.
const attemptCols = `a.job_id, a.id, a.node_id, a.container_id, a.created_at,
	a.started_at, a.finished_at, a.exit_code, a.reason`

// attemptRow receives one row of attemptCols.
type attemptRow struct {
	a            berth.Attempt
	jobID        string
	created      string
	started, fin sql.NullString
	exit         sql.NullInt64
}

// dest returns the destinations of attemptCols, in order.
func (r *attemptRow) dest() []any {
	return []any{&r.jobID, &r.a.ID, &r.a.Node, &r.a.ContainerID, &r.created,
		&r.started, &r.fin, &r.exit, &r.a.Reason}
}

// attempt decodes the row.
func (r *attemptRow) attempt() (berth.Attempt, error) {
	a := r.a
	var err error
	if a.CreatedAt, err = parseTS(r.created); err != nil {
		return berth.Attempt{}, err
	}
	if a.StartedAt, err = parseTSPtr(r.started); err != nil {
		return berth.Attempt{}, err
	}
	if a.FinishedAt, err = parseTSPtr(r.fin); err != nil {
		return berth.Attempt{}, err
	}
	a.ExitCode = intPtr(r.exit)
	return a, nil
}

// scanAttempt reads one row of attemptCols and returns the attempt and its
// job's id.
func scanAttempt(sc scanner) (berth.Attempt, string, error) {
	var r attemptRow
	if err := sc.Scan(r.dest()...); err != nil {
		return berth.Attempt{}, "", err
	}
	a, err := r.attempt()
	return a, r.jobID, err
}
