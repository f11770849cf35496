package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	berth "github.com/berth-run/berth"
)

// DeadlineRun is a job with a deadline whose current attempt is active,
// with the capacity that attempt holds.
type DeadlineRun struct {
	Job    berth.Job // with its attempts
	Held   Held      // of the current attempt
	MoveTo berth.Market
}

// DeadlineRuns returns the starting and running jobs that have a deadline.
func (s *Store) DeadlineRuns(ctx context.Context) ([]DeadlineRun, error) {
	var out []DeadlineRun
	err := s.read(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `SELECT `+jobCols+` FROM jobs j
			WHERE j.deadline IS NOT NULL AND j.state IN (?, ?) ORDER BY j.id`, string(berth.Starting), string(berth.Running))
		if err != nil {
			return err
		}
		var jobs []berth.Job
		for rows.Next() {
			j, err := scanJob(rows)
			if err != nil {
				rows.Close()
				return err
			}
			jobs = append(jobs, j)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, j := range jobs {
			r := DeadlineRun{Job: j}
			if r.Job.Attempts, err = jobAttempts(ctx, tx, j.ID); err != nil {
				return err
			}
			cur := r.Job.CurrentAttempt()
			if cur == nil {
				continue
			}
			var market, moveTo string
			if err := tx.QueryRowContext(ctx, `SELECT pool, market, price, share, move_to FROM attempts WHERE id = ?`, cur.ID).
				Scan(&r.Held.Pool, &market, &r.Held.Price, &r.Held.Share, &moveTo); err != nil {
				return err
			}
			r.Held.Market, r.MoveTo = berth.Market(market), berth.Market(moveTo)
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read running jobs with a deadline: %w", err)
	}
	return out, nil
}

// Attempts returns the attempts of the jobs, by job, in order.
func (s *Store) Attempts(ctx context.Context, jobIDs []string) (map[string][]berth.Attempt, error) {
	out := make(map[string][]berth.Attempt, len(jobIDs))
	for len(jobIDs) > 0 {
		batch := jobIDs[:min(len(jobIDs), 1000)]
		jobIDs = jobIDs[len(batch):]
		as, err := loadAttempts(ctx, s.r, batch)
		if err != nil {
			return nil, err
		}
		maps.Copy(out, as)
	}
	return out, nil
}

// jobAttempts reads the attempts of one job, in order.
func jobAttempts(ctx context.Context, q querier, jobID string) ([]berth.Attempt, error) {
	as, err := loadAttempts(ctx, q, []string{jobID})
	if err != nil {
		return nil, err
	}
	return as[jobID], nil
}

// MoveAttempt asks for the job's current attempt to be stopped so that the
// job runs on market to: the node sees the attempt as one to stop, and
// when the attempt ends the job is queued again without spending a retry
// or a re-queue. reason becomes the job's reason meanwhile. An attempt that
// is not its job's active current one returns berth.ErrStale; one already
// moving, berth.ErrConflict.
func (s *Store) MoveAttempt(ctx context.Context, attemptID string, to berth.Market, reason string, now time.Time) (berth.Job, error) {
	var j berth.Job
	err := s.write(ctx, func(tx *sql.Tx) error {
		a, cur, err := loadAttemptJob(ctx, tx, attemptID)
		if err != nil {
			return err
		}
		j = cur
		jobID := j.ID
		if !runs(&j, a.ID) {
			return fmt.Errorf("attempt %s is not its job's running attempt: %w", a.ID, berth.ErrStale)
		}
		res, err := tx.ExecContext(ctx, `UPDATE attempts SET move_to = ? WHERE id = ? AND move_to = ''`, string(to), a.ID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("attempt %s is already moving: %w", a.ID, berth.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET reason = ?, updated_at = ?, version = version + 1 WHERE id = ?`,
			reason, ts(now), jobID); err != nil {
			return err
		}
		j, err = loadJob(ctx, tx, jobID)
		return err
	})
	if err != nil {
		return berth.Job{}, fmt.Errorf("move attempt %s to %s: %w", attemptID, to, err)
	}
	return j, nil
}

// movedOutcome returns the outcome that closes attempt id, its job's
// current one, when it was being moved or re-queued (RequeueNode): a job
// that finished on its own meanwhile keeps its outcome; otherwise the
// attempt ends as berth.Moved, or as berth.Lost with the re-queue's reason.
func movedOutcome(ctx context.Context, q querier, id string, out berth.Outcome) (berth.Outcome, error) {
	var to, requeue string
	if err := q.QueryRowContext(ctx, `SELECT move_to, reason FROM attempts WHERE id = ?`, id).Scan(&to, &requeue); err != nil {
		return out, err
	}
	switch {
	case out.Succeeded():
		return out, nil
	case to != "":
		return berth.Outcome{Kind: berth.Moved, Reason: "moved to " + to + " by the deadline policy, queued"}, nil
	case requeue != "" && out.Kind != berth.Lost:
		// Stopped for RequeueNode: the job goes back to the queue.
		return berth.Outcome{Kind: berth.Lost, Reason: requeue}, nil
	}
	return out, nil
}

// RunTimes returns the run times of the last n jobs (by creation) with
// exactly these labels that succeeded, newest first: each job's time from
// the start of its last attempt to its end. Nothing matches when labels is
// empty.
func (s *Store) RunTimes(ctx context.Context, labels map[string]string, n int) ([]time.Duration, error) {
	if len(labels) == 0 || n <= 0 {
		return nil, nil
	}
	keys := slices.Sorted(maps.Keys(labels))
	// Candidates share the first label, newest first (ids sort by
	// creation), through the labels' primary key; their other labels are
	// compared here, from their specs, over a bounded number of them.
	rows, err := s.r.QueryContext(ctx, `SELECT j.spec,
		(SELECT a.started_at FROM attempts a WHERE a.job_id = j.id ORDER BY a.seq DESC LIMIT 1),
		(SELECT a.finished_at FROM attempts a WHERE a.job_id = j.id ORDER BY a.seq DESC LIMIT 1)
		FROM job_labels l JOIN jobs j ON j.id = l.job_id
		WHERE l.key = ? AND l.value = ? AND j.state = ?
		ORDER BY l.job_id DESC LIMIT ?`, keys[0], labels[keys[0]], string(berth.Succeeded), 20*n)
	if err != nil {
		return nil, fmt.Errorf("read run times: %w", err)
	}
	defer rows.Close()
	var out []time.Duration
	for rows.Next() && len(out) < n {
		var (
			spec       []byte
			start, end sql.NullString
		)
		if err := rows.Scan(&spec, &start, &end); err != nil {
			return nil, fmt.Errorf("read run times: %w", err)
		}
		var sp struct {
			Labels map[string]string `json:"labels"`
		}
		st, err1 := parseTSPtr(start)
		e, err2 := parseTSPtr(end)
		if err := errors.Join(json.Unmarshal(spec, &sp), err1, err2); err != nil {
			return nil, fmt.Errorf("read run times: %w", err)
		}
		if st != nil && e != nil && e.After(*st) && maps.Equal(sp.Labels, labels) {
			out = append(out, e.Sub(*st))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read run times: %w", err)
	}
	return out, nil
}
