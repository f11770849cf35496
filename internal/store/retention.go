package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// A finished job is kept until its retention ends: cutoff, for the jobs
// under the server's retention (those that finished before it have
// expired), or its own retain_seconds after it finished. A job is deleted
// only once every attempt of it has ended, so that what it cost is final.

// endedSQL holds for a job that is terminal and whose attempts have all
// ended.
const endedSQL = `j.state IN ('succeeded', 'failed', 'cancelled')
	AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.job_id = j.id AND a.finished_at IS NULL)`

// Queries that must walk their partial index (TestRetentionQueryPlans).
const (
	expiredByServerSQL = `SELECT j.id FROM jobs j INDEXED BY jobs_finished
		WHERE j.retain_seconds IS NULL AND j.finished_at < ? AND ` + endedSQL + `
		ORDER BY j.finished_at LIMIT ?`
	expiredByOwnSQL = `SELECT j.id FROM jobs j INDEXED BY jobs_expires
		WHERE j.expires_at < ? AND ` + endedSQL + `
		ORDER BY j.expires_at LIMIT ?`
)

// ExpiredJobs returns up to limit ids of jobs whose retention has ended:
// those under the server's retention that finished before cutoff (none
// when cutoff is zero: the server keeps them), then those whose own
// retention ended before now; each oldest first, and each only once all
// its attempts have ended.
func (s *Store) ExpiredJobs(ctx context.Context, cutoff, now time.Time, limit int) ([]string, error) {
	var ids []string
	err := s.read(ctx, func(tx *sql.Tx) error {
		if !cutoff.IsZero() {
			if err := appendIDs(ctx, tx, &ids, expiredByServerSQL, ts(cutoff), limit); err != nil {
				return err
			}
		}
		if len(ids) < limit {
			return appendIDs(ctx, tx, &ids, expiredByOwnSQL, ts(now), limit-len(ids))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("expired jobs: %w", err)
	}
	return ids, nil
}

// appendIDs appends the ids that query returns to ids.
func appendIDs(ctx context.Context, q querier, ids *[]string, query string, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		*ids = append(*ids, id)
	}
	return rows.Err()
}

// DeleteJobs deletes, in one transaction, those of the jobs whose
// retention has ended (as ExpiredJobs says with cutoff and now): their
// attempts, labels and any callback not yet delivered. What their attempts
// cost goes to the cost rollup first, so that Ledger sums the same after.
// It returns the ids it deleted; the others (unknown, or not expired) are
// left alone. Their logs are the caller's to remove.
func (s *Store) DeleteJobs(ctx context.Context, ids []string, cutoff, now time.Time) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var deleted []string
	err := s.write(ctx, func(tx *sql.Tx) error {
		expired, err := expiredAmong(ctx, tx, ids, cutoff, now)
		if err != nil {
			return err
		}
		if len(expired) == 0 {
			return nil
		}
		jobIDs := make([]string, 0, len(expired))
		for id := range expired {
			jobIDs = append(jobIDs, id)
		}
		if err := rollUp(ctx, tx, jobIDs, expired); err != nil {
			return err
		}
		if err := deleteRows(ctx, tx, jobIDs); err != nil {
			return err
		}
		deleted = jobIDs
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("delete expired jobs: %w", err)
	}
	return deleted, nil
}

// expiredAmong returns the labels of those of ids whose retention has
// ended, by job id.
func expiredAmong(ctx context.Context, q querier, ids []string, cutoff, now time.Time) (map[string]map[string]string, error) {
	args := make([]any, 0, len(ids)+2)
	for _, id := range ids {
		args = append(args, id)
	}
	var cut any // NULL: no job is under the server's retention
	if !cutoff.IsZero() {
		cut = ts(cutoff)
	}
	args = append(args, cut, ts(now))
	marks := strings.Repeat("?,", len(ids))
	rows, err := q.QueryContext(ctx, `SELECT j.id, COALESCE(json_extract(j.spec, '$.labels'), '{}') FROM jobs j
		WHERE j.id IN (`+marks[:len(marks)-1]+`)
		AND ((j.retain_seconds IS NULL AND j.finished_at < ?) OR j.expires_at < ?) AND `+endedSQL, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[string]string{}
	for rows.Next() {
		var id, labels string
		if err := rows.Scan(&id, &labels); err != nil {
			return nil, err
		}
		var m map[string]string
		if err := json.Unmarshal([]byte(labels), &m); err != nil {
			return nil, fmt.Errorf("job %s: labels: %w", id, err)
		}
		out[id] = m
	}
	return out, rows.Err()
}

// deleteRows deletes the jobs and the rows that name them.
func deleteRows(ctx context.Context, tx *sql.Tx, jobs []string) error {
	var callbacks, attempts, labels, job *sql.Stmt
	for _, p := range []struct {
		st  **sql.Stmt
		sql string
	}{
		{&callbacks, `DELETE FROM callbacks WHERE job_id = ?`},
		{&attempts, `DELETE FROM attempts WHERE job_id = ?`},
		{&labels, `DELETE FROM job_labels WHERE job_id = ?`},
		{&job, `DELETE FROM jobs WHERE id = ?`},
	} {
		st, err := tx.PrepareContext(ctx, p.sql)
		if err != nil {
			return err
		}
		defer st.Close()
		*p.st = st
	}
	for _, id := range jobs {
		for _, st := range []*sql.Stmt{callbacks, attempts, labels, job} {
			if _, err := st.ExecContext(ctx, id); err != nil {
				return fmt.Errorf("job %s: %w", id, err)
			}
		}
	}
	return nil
}

// compactStep is how many free pages one step of Compact returns to the
// file system (4 MiB of 4 KiB pages): each step is a short write
// transaction of its own.
const compactStep = 1024

// checkpointBusyMS is how long Compact's checkpoint waits for readers.
const checkpointBusyMS = 200

// Compact shrinks the database after deletions: in a database made with
// auto_vacuum=INCREMENTAL (every database this store creates), it returns
// the free pages to the file system a step at a time, and then it
// checkpoints the write-ahead log and truncates it, unless a reader still
// needs it (then the next call does). A database made before has its free
// pages reused by later writes, but keeps its size. It returns how many
// pages it returned. On PostgreSQL it does nothing: autovacuum reclaims
// the space of deleted rows.
func (s *Store) Compact(ctx context.Context) (int, error) {
	if s.dialect == Postgres {
		return 0, nil
	}
	var mode, freed int
	if err := s.w.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode); err != nil {
		return 0, fmt.Errorf("compact: %w", err)
	}
	for mode == 2 { // INCREMENTAL
		var free int
		if err := s.w.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free); err != nil {
			return freed, fmt.Errorf("compact: %w", err)
		}
		if free == 0 {
			break
		}
		if _, err := s.w.ExecContext(ctx, fmt.Sprintf(`PRAGMA incremental_vacuum(%d)`, compactStep)); err != nil {
			return freed, fmt.Errorf("compact: %w", err)
		}
		freed += min(free, compactStep)
	}
	return freed, s.truncateWAL(ctx)
}

// truncateWAL checkpoints the log and truncates it, waiting for readers
// checkpointBusyMS at most, so that the writer is not held for long.
func (s *Store) truncateWAL(ctx context.Context) error {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA busy_timeout = %d`, checkpointBusyMS)); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf(`PRAGMA busy_timeout = %d`, busyTimeoutMS)) //nolint:errcheck // the connection is the writer's for life
	var busy, logPages, done int
	if err := conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logPages, &done); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}
