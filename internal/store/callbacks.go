package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	berth "github.com/berth-run/berth"
)

// Callback is a job's terminal state waiting to be POSTed to its callback_url.
type Callback struct {
	JobID    string
	URL      string
	Tries    int
	NextAt   time.Time
	LastErr  string
	Snapshot json.RawMessage // the job as JSON when it turned terminal
}

// dueCallbacksSQL reads the callbacks due at a time.
const dueCallbacksSQL = `SELECT job_id, url, tries, next_at, last_err, snapshot
	FROM callbacks WHERE next_at <= ? ORDER BY next_at, job_id LIMIT ?`

// DueCallbacks returns up to limit callbacks whose NextAt is at or before
// now, the longest waiting first.
func (s *Store) DueCallbacks(ctx context.Context, now time.Time, limit int) ([]Callback, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.r.QueryContext(ctx, dueCallbacksSQL, ts(now), limit)
	if err != nil {
		return nil, fmt.Errorf("due callbacks: %w", err)
	}
	defer rows.Close()
	var cbs []Callback
	for rows.Next() {
		var (
			c          Callback
			next, snap string
		)
		if err := rows.Scan(&c.JobID, &c.URL, &c.Tries, &next, &c.LastErr, &snap); err != nil {
			return nil, fmt.Errorf("due callbacks: %w", err)
		}
		if c.NextAt, err = parseTS(next); err != nil {
			return nil, fmt.Errorf("due callbacks: %w", err)
		}
		c.Snapshot = json.RawMessage(snap)
		cbs = append(cbs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("due callbacks: %w", err)
	}
	return cbs, nil
}

// CallbackDelivered removes the job's callback from the outbox and marks
// the job's callback_sent. A job with no callback in the outbox returns
// berth.ErrNotFound.
func (s *Store) CallbackDelivered(ctx context.Context, jobID string, now time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := deleteCallback(ctx, tx, jobID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE jobs SET callback_sent = TRUE, updated_at = ?,
			version = version + 1 WHERE id = ?`, ts(now), jobID)
		return err
	})
	if err != nil {
		return fmt.Errorf("callback of job %s delivered: %w", jobID, err)
	}
	return nil
}

// CallbackFailed counts a failed delivery and sets when to try again;
// a zero next gives up: the callback leaves the outbox and the job is not
// changed. A job with no callback in the outbox returns berth.ErrNotFound.
func (s *Store) CallbackFailed(ctx context.Context, jobID string, next time.Time, lastErr string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if next.IsZero() {
			return deleteCallback(ctx, tx, jobID)
		}
		r, err := tx.ExecContext(ctx, `UPDATE callbacks SET tries = tries + 1, next_at = ?, last_err = ?
			WHERE job_id = ?`, ts(next), lastErr, jobID)
		if err != nil {
			return err
		}
		return oneRow(r, jobID)
	})
	if err != nil {
		return fmt.Errorf("callback of job %s failed: %w", jobID, err)
	}
	return nil
}

// deleteCallback removes the job's callback, or returns berth.ErrNotFound.
func deleteCallback(ctx context.Context, tx *sql.Tx, jobID string) error {
	r, err := tx.ExecContext(ctx, `DELETE FROM callbacks WHERE job_id = ?`, jobID)
	if err != nil {
		return err
	}
	return oneRow(r, jobID)
}

// oneRow returns berth.ErrNotFound unless r changed a row.
func oneRow(r sql.Result, jobID string) error {
	n, err := r.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("no callback of job %s in the outbox: %w", jobID, berth.ErrNotFound)
	}
	return nil
}
