package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	berth "github.com/berth-run/berth"
)

// Reasons the store gives a job when it moves it.
const (
	reasonQueued    = "waiting to be placed"
	reasonCancelled = "cancelled"
)

// CreateJob stores a new job from spec (validated, with defaults applied) and
// returns it with created=true once it is durably committed. Its state is
// Scheduled (NotBefore = RunAt) when RunAt is after now, else Queued, with a
// reason. When spec.IdempotencyKey names an existing job, that job comes back
// with created=false and nothing is written. Concurrent calls are committed
// together (group commit) so that thousands per second stay durable.
//
// Once the call has joined a group it returns only when the group is
// committed, even if ctx ends meanwhile.
func (s *Store) CreateJob(ctx context.Context, spec berth.JobSpec, now time.Time) (j berth.Job, created bool, err error) {
	if err := spec.Validate(); err != nil {
		return berth.Job{}, false, fmt.Errorf("create job: %w", err)
	}
	j, specJSON, err := newJob(spec, "", now)
	if err != nil {
		return berth.Job{}, false, fmt.Errorf("create job: %w", err)
	}
	if key := j.IdempotencyKey; key != "" {
		// Most repeats of a key find their job here, without a write.
		old, err := s.jobByIdempotencyKey(ctx, key)
		if err == nil {
			return old, false, nil
		}
		if !errors.Is(err, berth.ErrNotFound) {
			return berth.Job{}, false, fmt.Errorf("create job: %w", err)
		}
	}
	secrets, err := s.sealEnv(j.ID, spec.SecretEnv)
	if err != nil {
		return berth.Job{}, false, fmt.Errorf("create job: %w", err)
	}
	req := &createReq{job: j, spec: specJSON, secrets: secrets, done: make(chan createRes, 1)}
	select {
	case s.creates <- req:
	case <-s.quit:
		return berth.Job{}, false, fmt.Errorf("create job: %w", errClosed)
	case <-ctx.Done():
		return berth.Job{}, false, fmt.Errorf("create job: %w", ctx.Err())
	}
	res := <-req.done
	if res.err != nil {
		return berth.Job{}, false, fmt.Errorf("create job: %w", res.err)
	}
	return res.job, res.created, nil
}

// newJob builds a job from a valid spec, and its spec as stored JSON. The
// spec read back from that JSON is the job's, so that what CreateJob returns
// equals what later reads return. Both hold the spec's secret_env hidden
// (berth.JobSpec.WithSecretsHidden): its values go to the secret_env
// column, sealed (Store.sealEnv).
func newJob(spec berth.JobSpec, scheduleID string, now time.Time) (berth.Job, []byte, error) {
	spec = spec.WithDefaults().WithSecretsHidden()
	spec.RunAt = utcPtr(spec.RunAt)
	b, err := json.Marshal(spec)
	if err != nil {
		return berth.Job{}, nil, fmt.Errorf("encode spec: %w", err)
	}
	now = now.UTC()
	j := berth.Job{
		ID:         berth.NewID("job", now),
		State:      berth.Queued,
		Reason:     reasonQueued,
		ScheduleID: scheduleID,
		Attempts:   []berth.Attempt{},
		CreatedAt:  now,
		UpdatedAt:  now,
		Version:    1,
	}
	if err := json.Unmarshal(b, &j.JobSpec); err != nil {
		return berth.Job{}, nil, fmt.Errorf("decode spec: %w", err)
	}
	if j.RunAt != nil && j.RunAt.After(now) {
		nb := *j.RunAt
		j.State, j.NotBefore = berth.Scheduled, &nb
		j.Reason = "waiting for its run_at, " + nb.Format(time.RFC3339)
	}
	return j, b, nil
}

// insertJobSQL inserts a new job; insertStmts.insert fills it.
const insertJobSQL = `INSERT INTO jobs (id, spec, state, reason, schedule_id, not_before,
	priority, cpu, memory_mb, idempotency_key, callback_url, created_at, updated_at, version, deadline, pool, retain_seconds, secret_env)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// retainSeconds is a job's own retention for its column, nil when it has
// none (the server's --retain applies).
func retainSeconds(d *berth.Duration) any {
	if d == nil {
		return nil
	}
	return int64(time.Duration(*d).Seconds())
}

// insertStmts are the statements that insert a job, bound to a transaction.
type insertStmts struct {
	job, label *sql.Stmt
}

// insertStmtsOf binds the store's insert statements to tx.
func (s *Store) insertStmtsOf(ctx context.Context, tx *sql.Tx) insertStmts {
	return insertStmts{job: tx.StmtContext(ctx, s.insJob), label: tx.StmtContext(ctx, s.insLabel)}
}

// insert inserts j, whose spec is specJSON and whose secret_env column is
// secrets (Store.sealEnv), and its labels.
func (st insertStmts) insert(ctx context.Context, j *berth.Job, specJSON []byte, secrets any) error {
	var key, sched any
	if j.IdempotencyKey != "" {
		key = j.IdempotencyKey
	}
	if j.ScheduleID != "" {
		sched = j.ScheduleID
	}
	if _, err := st.job.ExecContext(ctx, j.ID, specJSON, string(j.State), j.Reason, sched,
		tsPtr(j.NotBefore), j.Priority, j.CPU, j.MemoryMB, key, j.CallbackURL,
		ts(j.CreatedAt), ts(j.UpdatedAt), j.Version, tsPtr(j.Deadline), j.Pool, retainSeconds(j.Retain), secrets); err != nil {
		return fmt.Errorf("insert job %s: %w", j.ID, err)
	}
	for k, v := range j.Labels {
		if _, err := st.label.ExecContext(ctx, k, v, j.ID); err != nil {
			return fmt.Errorf("insert label %s of job %s: %w", k, j.ID, err)
		}
	}
	return nil
}

// jobByIdempotencyKey returns the job with the key, or berth.ErrNotFound.
func (s *Store) jobByIdempotencyKey(ctx context.Context, key string) (berth.Job, error) {
	var j berth.Job
	err := s.read(ctx, func(tx *sql.Tx) error {
		var id string
		err := tx.QueryRowContext(ctx, `SELECT id FROM jobs WHERE idempotency_key = ?`, key).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("idempotency key %q: %w", key, berth.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("idempotency key %q: %w", key, err)
		}
		j, err = loadJob(ctx, tx, id)
		return err
	})
	return j, err
}

// Job returns the job with its attempts, oldest first, or berth.ErrNotFound.
func (s *Store) Job(ctx context.Context, id string) (berth.Job, error) {
	var j berth.Job
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		j, err = loadJob(ctx, tx, id)
		return err
	})
	if err != nil {
		return berth.Job{}, fmt.Errorf("read job: %w", err)
	}
	return j, nil
}

// loadJob reads one job with its attempts, or returns berth.ErrNotFound.
func loadJob(ctx context.Context, q querier, id string) (berth.Job, error) {
	j, err := scanJob(q.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs j WHERE j.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return berth.Job{}, fmt.Errorf("job %s: %w", id, berth.ErrNotFound)
	}
	if err != nil {
		return berth.Job{}, fmt.Errorf("job %s: %w", id, err)
	}
	as, err := loadAttempts(ctx, q, []string{id})
	if err != nil {
		return berth.Job{}, err
	}
	j.Attempts = as[id]
	if j.Attempts == nil {
		j.Attempts = []berth.Attempt{}
	}
	return j, nil
}

// loadAttempts reads the attempts of the jobs, oldest first, in one query.
func loadAttempts(ctx context.Context, q querier, jobIDs []string) (map[string][]berth.Attempt, error) {
	out := make(map[string][]berth.Attempt, len(jobIDs))
	if len(jobIDs) == 0 {
		return out, nil
	}
	args := make([]any, len(jobIDs))
	for i, id := range jobIDs {
		args[i] = id
	}
	marks := strings.Repeat("?,", len(jobIDs))
	rows, err := q.QueryContext(ctx, `SELECT `+attemptCols+` FROM attempts a
		WHERE a.job_id IN (`+marks[:len(marks)-1]+`) ORDER BY a.job_id, a.seq`, args...)
	if err != nil {
		return nil, fmt.Errorf("read attempts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		a, jobID, err := scanAttempt(rows)
		if err != nil {
			return nil, fmt.Errorf("read attempts: %w", err)
		}
		out[jobID] = append(out[jobID], a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read attempts: %w", err)
	}
	return out, nil
}

// CancelJob marks a non-terminal job Cancelled with the given reason and
// queues its callback. Its active attempt, if any, stays active until the
// executor reports it finished (the executor sees Stop on its assignment).
// A terminal job returns berth.ErrConflict; an unknown one berth.ErrNotFound.
// An empty reason is "cancelled".
func (s *Store) CancelJob(ctx context.Context, id, reason string, now time.Time) (berth.Job, error) {
	var j berth.Job
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		j, err = cancelJob(ctx, tx, id, reason, now)
		return err
	})
	if err != nil {
		return berth.Job{}, fmt.Errorf("cancel job %s: %w", id, err)
	}
	s.ended(j.ID)
	return j, nil
}

// cancelJob cancels one job inside tx.
func cancelJob(ctx context.Context, tx *sql.Tx, id, reason string, now time.Time) (berth.Job, error) {
	var state string
	err := tx.QueryRowContext(ctx, `SELECT state FROM jobs WHERE id = ?`, id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return berth.Job{}, fmt.Errorf("job %s: %w", id, berth.ErrNotFound)
	}
	if err != nil {
		return berth.Job{}, err
	}
	if berth.State(state).Terminal() {
		return berth.Job{}, fmt.Errorf("job %s is %s: %w", id, state, berth.ErrConflict)
	}
	if reason == "" {
		reason = reasonCancelled
	}
	if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = ?, reason = ?, finished_at = ?,
		updated_at = ?, version = version + 1 WHERE id = ?`,
		string(berth.Cancelled), reason, ts(now), ts(now), id); err != nil {
		return berth.Job{}, err
	}
	return reloadJob(ctx, tx, id, true, now)
}

// reloadJob reads a job changed inside tx and, when the change made it
// terminal and it has a callback URL, queues its callback with the job as
// it now is.
func reloadJob(ctx context.Context, tx *sql.Tx, id string, madeTerminal bool, now time.Time) (berth.Job, error) {
	j, err := loadJob(ctx, tx, id)
	if err != nil {
		return berth.Job{}, err
	}
	if !madeTerminal || j.CallbackURL == "" {
		return j, nil
	}
	snap, err := json.Marshal(j.WithoutSecrets()) // the webhook carries no env, no URL credentials
	if err != nil {
		return berth.Job{}, fmt.Errorf("snapshot of job %s: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO callbacks (job_id, url, tries, next_at, last_err, snapshot)
		VALUES (?, ?, 0, ?, '', ?)`, id, j.CallbackURL, ts(now), string(snap)); err != nil {
		return berth.Job{}, fmt.Errorf("queue callback of job %s: %w", id, err)
	}
	return j, nil
}

// Queries that must walk their partial index; the planner, without
// statistics, would rather take jobs_state_id and scan every job of the
// state. TestQueryPlans checks them.
const (
	releaseDueSQL = `UPDATE jobs INDEXED BY jobs_due SET state = ?, reason = ?, updated_at = ?,
		version = version + 1 WHERE state = 'scheduled' AND not_before <= ?`
	nextDueSQL = `SELECT MIN(not_before) FROM jobs INDEXED BY jobs_due WHERE state = 'scheduled'`
	queuedSQL  = `SELECT ` + jobCols + ` FROM jobs j INDEXED BY jobs_queued
		WHERE j.state = 'queued' ORDER BY j.priority DESC, j.created_at, j.id LIMIT ?`
)

// ReleaseDue moves Scheduled jobs whose NotBefore is at or before now to
// Queued, and returns how many moved.
func (s *Store) ReleaseDue(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, releaseDueSQL, string(berth.Queued), reasonQueued, ts(now), ts(now))
		if err != nil {
			return err
		}
		n, err = r.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("release due jobs: %w", err)
	}
	return int(n), nil
}

// NextDue returns the earliest NotBefore of a Scheduled job, and false if
// there is none.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullString
	if err := s.r.QueryRowContext(ctx, nextDueSQL).Scan(&next); err != nil {
		return time.Time{}, false, fmt.Errorf("next due job: %w", err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	t, err := parseTS(next.String)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next due job: %w", err)
	}
	return t, true, nil
}

// Queued returns up to limit Queued jobs in dispatch order: priority
// descending, then oldest first. Attempts are not loaded.
func (s *Store) Queued(ctx context.Context, limit int) ([]berth.Job, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.r.QueryContext(ctx, queuedSQL, limit)
	if err != nil {
		return nil, fmt.Errorf("read queued jobs: %w", err)
	}
	defer rows.Close()
	var jobs []berth.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("read queued jobs: %w", err)
		}
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read queued jobs: %w", err)
	}
	return jobs, nil
}

// SetReasons updates the reason of Queued jobs (job id → reason), skipping
// jobs that are no longer Queued and writing only reasons that changed. It
// does not bump versions; a changed reason sets updated_at to now.
func (s *Store) SetReasons(ctx context.Context, reasons map[string]string, now time.Time) error {
	if len(reasons) == 0 {
		return nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE jobs SET reason = ?, updated_at = ?
			WHERE id = ? AND state = 'queued' AND reason != ?`)
		if err != nil {
			return err
		}
		defer st.Close()
		for id, r := range reasons {
			if _, err := st.ExecContext(ctx, r, ts(now), id, r); err != nil {
				return fmt.Errorf("job %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set reasons: %w", err)
	}
	return nil
}
