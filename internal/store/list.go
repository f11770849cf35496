package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	berth "github.com/berth-run/berth"
)

// Page sizes of ListJobs.
const (
	defaultListLimit = 50
	maxListLimit     = 1000
)

// JobFilter selects jobs for ListJobs. Zero fields select everything.
type JobFilter struct {
	State      berth.State
	Labels     map[string]string // all must match
	ScheduleID string
	Cursor     string // the next cursor of a previous page
	Limit      int    // default 50, at most 1000
}

// ListJobs returns one page of jobs, newest first, with their attempts, and
// the cursor of the next page ("" at the end). It reads only the page.
//
// Pages go by id (ids sort by creation time), so a page walks one index
// from the cursor down: (state, id) for a state, (schedule_id, id) for a
// schedule, job_labels (key, value, job_id) for labels, the primary key
// otherwise. The other conditions of the filter are checked on the rows
// that walk meets.
func (s *Store) ListJobs(ctx context.Context, f JobFilter) (jobs []berth.Job, next string, err error) {
	if f.State != "" && !f.State.Valid() {
		return nil, "", fmt.Errorf("list jobs: unknown state %q", f.State)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}
	limit = min(limit, maxListLimit)
	query, args := listQuery(f, limit+1)
	err = s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			j, err := scanJob(rows)
			if err != nil {
				return err
			}
			jobs = append(jobs, j)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(jobs) > limit {
			jobs = jobs[:limit]
			next = jobs[limit-1].ID
		}
		ids := make([]string, len(jobs))
		for i := range jobs {
			ids[i] = jobs[i].ID
		}
		as, err := loadAttempts(ctx, tx, ids)
		if err != nil {
			return err
		}
		for i := range jobs {
			jobs[i].Attempts = as[jobs[i].ID]
			if jobs[i].Attempts == nil {
				jobs[i].Attempts = []berth.Attempt{}
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("list jobs: %w", err)
	}
	return jobs, next, nil
}

// listQuery builds the query of one page of f, of at most limit rows.
func listQuery(f JobFilter, limit int) (string, []any) {
	var (
		from  string
		order string
		where []string
		args  []any
	)
	keys := make([]string, 0, len(f.Labels))
	for k := range f.Labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	switch {
	case len(keys) > 0:
		// CROSS JOIN keeps job_labels the outer loop: its index gives the
		// page's order.
		from, order = `job_labels l0 CROSS JOIN jobs j`, `l0.job_id`
		where = append(where, `l0.key = ?`, `l0.value = ?`, `j.id = l0.job_id`)
		args = append(args, keys[0], f.Labels[keys[0]])
		for _, k := range keys[1:] {
			where = append(where, `EXISTS (SELECT 1 FROM job_labels l
				WHERE l.key = ? AND l.value = ? AND l.job_id = j.id)`)
			args = append(args, k, f.Labels[k])
		}
	case f.ScheduleID != "":
		from, order = `jobs j INDEXED BY jobs_schedule_id`, `j.id`
	case f.State != "":
		from, order = `jobs j INDEXED BY jobs_state_id`, `j.id`
	default:
		from, order = `jobs j`, `j.id`
	}
	if f.ScheduleID != "" {
		where = append(where, `j.schedule_id = ?`)
		args = append(args, f.ScheduleID)
	}
	if f.State != "" {
		where = append(where, `j.state = ?`)
		args = append(args, string(f.State))
	}
	if f.Cursor != "" {
		where = append(where, order+` < ?`)
		args = append(args, f.Cursor)
	}
	q := `SELECT ` + jobCols + ` FROM ` + from
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY ` + order + ` DESC LIMIT ?`
	args = append(args, limit)
	return q, args
}
