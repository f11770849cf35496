package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	berth "github.com/berth-run/berth"
)

// scheduleCols are the columns scanSchedule reads.
const scheduleCols = `id, spec, next_run_at, last_run_at, last_job_id, created_at`

// scanSchedule reads one row of scheduleCols.
func scanSchedule(sc scanner) (berth.Schedule, error) {
	var (
		s             berth.Schedule
		spec          []byte
		next, created string
		last          sql.NullString
	)
	if err := sc.Scan(&s.ID, &spec, &next, &last, &s.LastJobID, &created); err != nil {
		return berth.Schedule{}, err
	}
	if err := json.Unmarshal(spec, &s.ScheduleSpec); err != nil {
		return berth.Schedule{}, fmt.Errorf("schedule %s: spec: %w", s.ID, err)
	}
	var err error
	if s.NextRunAt, err = parseTS(next); err != nil {
		return berth.Schedule{}, err
	}
	if s.LastRunAt, err = parseTSPtr(last); err != nil {
		return berth.Schedule{}, err
	}
	if s.CreatedAt, err = parseTS(created); err != nil {
		return berth.Schedule{}, err
	}
	return s, nil
}

// loadSchedule reads one schedule, or returns berth.ErrNotFound.
func loadSchedule(ctx context.Context, q querier, id string) (berth.Schedule, error) {
	s, err := scanSchedule(q.QueryRowContext(ctx, `SELECT `+scheduleCols+` FROM schedules WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return berth.Schedule{}, fmt.Errorf("schedule %s: %w", id, berth.ErrNotFound)
	}
	if err != nil {
		return berth.Schedule{}, fmt.Errorf("schedule %s: %w", id, err)
	}
	return s, nil
}

// CreateSchedule stores a validated schedule whose first run is at next.
// Its concurrency defaults to allow and its job template gets the job
// defaults.
func (s *Store) CreateSchedule(ctx context.Context, spec berth.ScheduleSpec, next, now time.Time) (berth.Schedule, error) {
	if err := spec.Validate(); err != nil {
		return berth.Schedule{}, fmt.Errorf("create schedule: %w", err)
	}
	if spec.Concurrency == "" {
		spec.Concurrency = berth.Allow
	}
	spec.Job = spec.Job.WithDefaults()
	b, err := json.Marshal(spec)
	if err != nil {
		return berth.Schedule{}, fmt.Errorf("create schedule: encode spec: %w", err)
	}
	id := berth.NewID("sch", now)
	var sch berth.Schedule
	err = s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO schedules (id, spec, next_run_at, created_at)
			VALUES (?, ?, ?, ?)`, id, string(b), ts(next), ts(now)); err != nil {
			return err
		}
		sch, err = loadSchedule(ctx, tx, id)
		return err
	})
	if err != nil {
		return berth.Schedule{}, fmt.Errorf("create schedule: %w", err)
	}
	return sch, nil
}

// Schedule returns one schedule, or berth.ErrNotFound.
func (s *Store) Schedule(ctx context.Context, id string) (berth.Schedule, error) {
	sch, err := loadSchedule(ctx, s.r, id)
	if err != nil {
		return berth.Schedule{}, fmt.Errorf("read schedule: %w", err)
	}
	return sch, nil
}

// Schedules returns every schedule, oldest first.
func (s *Store) Schedules(ctx context.Context) ([]berth.Schedule, error) {
	return s.schedules(ctx, `SELECT `+scheduleCols+` FROM schedules ORDER BY created_at, id`)
}

// dueSchedulesSQL reads the schedules due at a time.
const dueSchedulesSQL = `SELECT ` + scheduleCols + ` FROM schedules WHERE next_run_at <= ?
	ORDER BY next_run_at, id`

// DueSchedules returns the schedules whose NextRunAt is at or before now,
// the earliest first.
func (s *Store) DueSchedules(ctx context.Context, now time.Time) ([]berth.Schedule, error) {
	return s.schedules(ctx, dueSchedulesSQL, ts(now))
}

// schedules reads the schedules a query selects.
func (s *Store) schedules(ctx context.Context, query string, args ...any) ([]berth.Schedule, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read schedules: %w", err)
	}
	defer rows.Close()
	out := []berth.Schedule{}
	for rows.Next() {
		sch, err := scanSchedule(rows)
		if err != nil {
			return nil, fmt.Errorf("read schedules: %w", err)
		}
		out = append(out, sch)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schedules: %w", err)
	}
	return out, nil
}

// DeleteSchedule deletes a schedule; the jobs it created stay. An unknown
// schedule returns berth.ErrNotFound.
func (s *Store) DeleteSchedule(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `DELETE FROM schedules WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("schedule %s: %w", id, berth.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete schedule: %w", err)
	}
	return nil
}

// FireSchedule runs a due schedule once, in one transaction: it checks that
// its NextRunAt still equals due (else berth.ErrStale: another loop fired
// it), sets NextRunAt to next and LastRunAt to now, and applies the
// schedule's concurrency policy against its earlier jobs that are not
// terminal: allow creates a job; forbid creates none if one is active;
// replace cancels the active ones (reason "replaced by the next run of
// schedule ID") and creates a job. The new job is Queued, created from the
// template with schedule_id set. It returns the job, or nil when skipped.
// An unknown schedule returns berth.ErrNotFound.
func (s *Store) FireSchedule(ctx context.Context, id string, due, next, now time.Time) (*berth.Job, error) {
	var out *berth.Job
	var replaced []string
	err := s.write(ctx, func(tx *sql.Tx) error {
		out, replaced = nil, replaced[:0]
		sch, err := loadSchedule(ctx, tx, id)
		if err != nil {
			return err
		}
		if !sch.NextRunAt.Equal(due) {
			return fmt.Errorf("schedule %s is next due at %s, not %s: %w", id,
				sch.NextRunAt.Format(time.RFC3339Nano), due.UTC().Format(time.RFC3339Nano), berth.ErrStale)
		}
		open, err := openJobs(ctx, tx, id)
		if err != nil {
			return err
		}
		create := true
		switch sch.Concurrency {
		case berth.Forbid:
			create = len(open) == 0
		case berth.Replace:
			for _, jid := range open {
				if _, err := cancelJob(ctx, tx, jid, "replaced by the next run of schedule "+id, now); err != nil {
					return err
				}
				replaced = append(replaced, jid)
			}
		}
		lastJob := sch.LastJobID
		if create {
			j, err := s.insertScheduledJob(ctx, tx, sch, now)
			if err != nil {
				return err
			}
			out, lastJob = &j, j.ID
		}
		_, err = tx.ExecContext(ctx, `UPDATE schedules SET next_run_at = ?, last_run_at = ?, last_job_id = ?
			WHERE id = ?`, ts(next), ts(now), lastJob, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("fire schedule %s: %w", id, err)
	}
	s.ended(replaced...)
	return out, nil
}

// openJobsSQL reads the ids of a schedule's jobs that are not terminal.
const openJobsSQL = `SELECT id FROM jobs INDEXED BY jobs_schedule_open
	WHERE schedule_id = ? AND state IN ('scheduled', 'queued', 'starting', 'running')
	ORDER BY id`

// openJobs returns the ids of the schedule's jobs that are not terminal.
func openJobs(ctx context.Context, tx *sql.Tx, scheduleID string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, openJobsSQL, scheduleID)
	if err != nil {
		return nil, fmt.Errorf("open jobs of schedule %s: %w", scheduleID, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("open jobs of schedule %s: %w", scheduleID, err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// insertScheduledJob inserts a Queued job from the schedule's template.
func (s *Store) insertScheduledJob(ctx context.Context, tx *sql.Tx, sch berth.Schedule, now time.Time) (berth.Job, error) {
	spec := sch.Job
	spec.RunAt, spec.IdempotencyKey = nil, ""
	j, b, err := newJob(spec, sch.ID, now)
	if err != nil {
		return berth.Job{}, err
	}
	secrets, err := s.sealEnv(j.ID, spec.SecretEnv)
	if err != nil {
		return berth.Job{}, err
	}
	if err := s.insertStmtsOf(ctx, tx).insert(ctx, &j, b, secrets); err != nil {
		return berth.Job{}, err
	}
	return j, nil
}
