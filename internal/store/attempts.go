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

// Placement puts one Queued job on one node.
type Placement struct {
	JobID      string
	JobVersion int64 // the version the decision read
	NodeID     string
	AttemptID  string // new, from berth.NewID("att", now)
	// Held, when set, is what the attempt holds, for its cost; by default
	// its share of the node at the price the node's agent reported.
	Held *Held
	// Why, when set, says why the job goes there ("its start budget of
	// 2s would be exceeded"); the job's reason keeps it while it runs.
	Why string
}

// Place commits placements, each in the same transaction but each checked on
// its own: the job is still Queued at JobVersion, the node is still ready and
// healthy, and the job's cpu and memory still fit the node's free capacity
// (capacity minus its active attempts). Each placement that holds creates
// the attempt and moves its job to Starting; the others are skipped. Place
// returns the placements that were committed. A placement without an
// AttemptID gets one.
func (s *Store) Place(ctx context.Context, ps []Placement, now time.Time) ([]Placement, error) {
	var done []Placement
	err := s.write(ctx, func(tx *sql.Tx) error {
		done = done[:0]
		for _, p := range ps {
			ok, err := place(ctx, tx, &p, now)
			if err != nil {
				return fmt.Errorf("job %s on node %s: %w", p.JobID, p.NodeID, err)
			}
			if ok {
				done = append(done, p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("place: %w", err)
	}
	return done, nil
}

// place commits one placement inside tx if it still holds, and reports
// whether it did.
func place(ctx context.Context, tx *sql.Tx, p *Placement, now time.Time) (bool, error) {
	var (
		state   string
		version int64
		cpu     float64
		mem     int64
	)
	err := tx.QueryRowContext(ctx, `SELECT state, version, cpu, memory_mb FROM jobs WHERE id = ?`,
		p.JobID).Scan(&state, &version, &cpu, &mem)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if berth.State(state) != berth.Queued || version != p.JobVersion {
		return false, nil
	}
	n, err := loadNodeInfo(ctx, tx, p.NodeID)
	if errors.Is(err, berth.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !n.Schedulable() || !n.Fits(cpu, mem) {
		return false, nil
	}
	if p.AttemptID == "" {
		p.AttemptID = berth.NewID("att", now)
	}
	held := heldOnNode(n, cpu, mem)
	switch {
	case p.Held != nil:
		held = *p.Held
	case held.Price == 0 && n.Facts.InstanceType != "":
		// An agent that knows no price (an EC2 host's): its pool's price of
		// its type now, where the fleet records one.
		if held.Price, err = recordedPrice(ctx, tx, n.Pool, n.Facts.InstanceType, now); err != nil {
			return false, err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO attempts (id, job_id, node_id, created_at, pool, market, price, share)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, p.AttemptID, p.JobID, p.NodeID, ts(now),
		held.Pool, string(held.Market), held.Price, held.Share); err != nil {
		return false, fmt.Errorf("insert attempt %s: %w", p.AttemptID, err)
	}
	name := n.Name
	if name == "" {
		name = n.ID
	}
	reason := "starting on " + name
	if p.Why != "" {
		reason += " because " + p.Why
	}
	if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = ?, reason = ?, updated_at = ?,
		version = version + 1 WHERE id = ?`,
		string(berth.Starting), reason, ts(now), p.JobID); err != nil {
		return false, err
	}
	return true, nil
}

// AttemptEnd returns when the attempt finished, nil while it is active, or
// berth.ErrNotFound.
func (s *Store) AttemptEnd(ctx context.Context, attemptID string) (*time.Time, error) {
	var end sql.NullString
	err := s.r.QueryRowContext(ctx, `SELECT finished_at FROM attempts WHERE id = ?`, attemptID).Scan(&end)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("attempt %s: %w", attemptID, berth.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("attempt %s: %w", attemptID, err)
	}
	return parseTSPtr(end)
}

// Assignment is one active attempt on a node, as its executor sees it.
type Assignment = berth.Assignment

// assignmentsSQL reads a node's active attempts, their jobs, and the id of
// each job's current attempt.
const assignmentsSQL = `SELECT ` + attemptCols + `, ` + jobCols + `,
	(SELECT x.id FROM attempts x WHERE x.job_id = a.job_id ORDER BY x.seq DESC LIMIT 1), a.move_to
	FROM attempts a JOIN jobs j ON j.id = a.job_id
	WHERE a.node_id = ? AND a.finished_at IS NULL ORDER BY a.seq`

// Assignments returns every active attempt placed on the node, oldest first.
func (s *Store) Assignments(ctx context.Context, nodeID string) ([]Assignment, error) {
	rows, err := s.r.QueryContext(ctx, assignmentsSQL, nodeID)
	if err != nil {
		return nil, fmt.Errorf("assignments of node %s: %w", nodeID, err)
	}
	defer rows.Close()
	out := []Assignment{}
	for rows.Next() {
		var (
			ar      attemptRow
			jr      jobRow
			current string
			moveTo  string
		)
		if err := rows.Scan(append(append(ar.dest(), jr.dest()...), &current, &moveTo)...); err != nil {
			return nil, fmt.Errorf("assignments of node %s: %w", nodeID, err)
		}
		a, err := ar.attempt()
		if err != nil {
			return nil, fmt.Errorf("assignments of node %s: %w", nodeID, err)
		}
		j, err := jr.job()
		if err != nil {
			return nil, fmt.Errorf("assignments of node %s: %w", nodeID, err)
		}
		stop := !j.State.Active() || current != a.ID || moveTo != "" || a.Reason != "" // a reason: re-queued
		out = append(out, Assignment{Attempt: a, Job: j, Stop: stop})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("assignments of node %s: %w", nodeID, err)
	}
	return out, nil
}

// loadAttempt reads one attempt and its job's id, or returns
// berth.ErrNotFound.
func loadAttempt(ctx context.Context, q querier, id string) (berth.Attempt, string, error) {
	a, jobID, err := scanAttempt(q.QueryRowContext(ctx, `SELECT `+attemptCols+` FROM attempts a WHERE a.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return berth.Attempt{}, "", fmt.Errorf("attempt %s: %w", id, berth.ErrNotFound)
	}
	if err != nil {
		return berth.Attempt{}, "", fmt.Errorf("attempt %s: %w", id, err)
	}
	return a, jobID, nil
}

// loadAttemptJob reads one attempt and its job (with its attempts).
func loadAttemptJob(ctx context.Context, q querier, id string) (berth.Attempt, berth.Job, error) {
	a, jobID, err := loadAttempt(ctx, q, id)
	if err != nil {
		return a, berth.Job{}, err
	}
	j, err := loadJob(ctx, q, jobID)
	return a, j, err
}

// runs reports whether j still runs attempt id: it is Starting or Running
// and id is its current attempt.
func runs(j *berth.Job, id string) bool {
	cur := j.CurrentAttempt()
	return j.State.Active() && cur != nil && cur.ID == id
}

// nodeName is how reasons name a node: its name, else its id.
func nodeName(ctx context.Context, q querier, id string) string {
	var name string
	if err := q.QueryRowContext(ctx, `SELECT name FROM nodes WHERE id = ?`, id).Scan(&name); err != nil || name == "" {
		return id
	}
	return name
}

// AttemptStarted records that the attempt's container runs: it sets the
// container id and started_at, and moves the job from Starting to Running.
// It returns berth.ErrStale if the attempt is not active or not its job's
// current attempt, and berth.ErrNotFound if there is no such attempt.
// Reporting twice is harmless: started_at keeps its first value, and a
// report that changes nothing does not bump the job's version.
func (s *Store) AttemptStarted(ctx context.Context, attemptID, containerID string, now time.Time) (berth.Job, error) {
	var j berth.Job
	err := s.write(ctx, func(tx *sql.Tx) error {
		a, cur, err := loadAttemptJob(ctx, tx, attemptID)
		if err != nil {
			return err
		}
		j = cur
		jobID := j.ID
		if cur := j.CurrentAttempt(); !a.Active() || cur == nil || cur.ID != a.ID {
			return fmt.Errorf("attempt %s is not the active attempt of job %s: %w", attemptID, jobID, berth.ErrStale)
		}
		r, err := tx.ExecContext(ctx, `UPDATE attempts SET container_id = ?, started_at = COALESCE(started_at, ?)
			WHERE id = ? AND (started_at IS NULL OR container_id != ?)`, containerID, ts(now), attemptID, containerID)
		if err != nil {
			return err
		}
		changed, err := r.RowsAffected()
		if err != nil {
			return err
		}
		switch {
		case j.State == berth.Starting:
			// Why it was placed there (an overflow's "because") stays.
			_, why, _ := strings.Cut(j.Reason, " because ")
			reason := "running on " + nodeName(ctx, tx, a.Node)
			if why != "" {
				reason += " because " + why
			}
			_, err = tx.ExecContext(ctx, `UPDATE jobs SET state = ?, reason = ?, updated_at = ?,
				version = version + 1 WHERE id = ?`,
				string(berth.Running), reason, ts(now), jobID)
		case changed > 0:
			_, err = tx.ExecContext(ctx, `UPDATE jobs SET updated_at = ?, version = version + 1 WHERE id = ?`, ts(now), jobID)
		default:
			return nil
		}
		if err != nil {
			return err
		}
		j, err = loadJob(ctx, tx, jobID)
		return err
	})
	if err != nil {
		return berth.Job{}, fmt.Errorf("attempt %s started: %w", attemptID, err)
	}
	return j, nil
}

// FinishAttempt records how an active attempt ended and closes it. If the
// job is not terminal and still runs the attempt (Starting or Running, with
// it as its current attempt), the job moves as berth.Next decides (retry,
// re-queue, succeed, fail), and a terminal job gets its callback queued. If
// the job is already terminal (cancelled, or finished by its callback) or
// has moved on, only the attempt is closed. A finished or unknown attempt
// returns berth.ErrStale or berth.ErrNotFound.
func (s *Store) FinishAttempt(ctx context.Context, attemptID string, out berth.Outcome, now time.Time) (berth.Job, error) {
	var j berth.Job
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		j, err = finishAttempt(ctx, tx, attemptID, out, now)
		return err
	})
	if err != nil {
		return berth.Job{}, fmt.Errorf("finish attempt %s: %w", attemptID, err)
	}
	s.ended(j.ID)
	return j, nil
}

// finishAttempt is FinishAttempt inside tx. An attempt that was given its
// reason before it ended (its job was re-queued away from it) keeps it.
func finishAttempt(ctx context.Context, tx *sql.Tx, attemptID string, out berth.Outcome, now time.Time) (berth.Job, error) {
	a, jobID, err := loadAttempt(ctx, tx, attemptID)
	if err != nil {
		return berth.Job{}, err
	}
	if !a.Active() {
		return berth.Job{}, fmt.Errorf("attempt %s has finished: %w", attemptID, berth.ErrStale)
	}
	j, err := loadJob(ctx, tx, jobID)
	if err != nil {
		return berth.Job{}, err
	}
	moves := runs(&j, a.ID)
	if moves {
		if out, err = movedOutcome(ctx, tx, attemptID, out); err != nil {
			return berth.Job{}, err
		}
	}
	reason := berth.Describe(&j, out)
	if _, err := tx.ExecContext(ctx, `UPDATE attempts SET finished_at = ?, exit_code = ?,
		reason = CASE WHEN reason != '' THEN reason ELSE ? END WHERE id = ?`,
		ts(endedAt(&a, out, now)), nullInt(out.ExitCode), reason, attemptID); err != nil {
		return berth.Job{}, err
	}
	if !moves {
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET updated_at = ?, version = version + 1
			WHERE id = ?`, ts(now), jobID); err != nil {
			return berth.Job{}, err
		}
		return loadJob(ctx, tx, jobID)
	}
	t := berth.Next(&j, &a, out, now)
	return applyTransition(ctx, tx, jobID, t, nil, now)
}

// endedAt is when attempt a ended: when its executor says its container
// ended, if that lies between the attempt's start (its placement, when it
// never started) and now; else now.
func endedAt(a *berth.Attempt, out berth.Outcome, now time.Time) time.Time {
	if out.At == nil {
		return now
	}
	from := a.CreatedAt
	if a.StartedAt != nil {
		from = *a.StartedAt
	}
	if out.At.Before(from) || out.At.After(now) {
		return now
	}
	return *out.At
}

// ReportResult applies a result the job reported about itself (out.Kind is
// berth.Reported) to the job whose current, active attempt is attemptID:
// the job moves as berth.Next decides and records out.Result. The attempt
// stays active until its executor reports it finished. A terminal job
// returns berth.ErrConflict; a non-current attempt berth.ErrStale; an
// unknown attempt berth.ErrNotFound.
func (s *Store) ReportResult(ctx context.Context, attemptID string, out berth.Outcome, now time.Time) (berth.Job, error) {
	if out.Kind != berth.Reported {
		return berth.Job{}, fmt.Errorf("report result of attempt %s: outcome is %q, want %q", attemptID, out.Kind, berth.Reported)
	}
	if out.Result != nil && !json.Valid(out.Result) {
		return berth.Job{}, fmt.Errorf("report result of attempt %s: result is not valid JSON", attemptID)
	}
	var j berth.Job
	err := s.write(ctx, func(tx *sql.Tx) error {
		a, cur, err := loadAttemptJob(ctx, tx, attemptID)
		if err != nil {
			return err
		}
		j = cur
		jobID := j.ID
		if j.State.Terminal() {
			return fmt.Errorf("job %s is %s: %w", jobID, j.State, berth.ErrConflict)
		}
		if !a.Active() || !runs(&j, a.ID) {
			return fmt.Errorf("attempt %s is not the running attempt of job %s: %w", attemptID, jobID, berth.ErrStale)
		}
		t := berth.Next(&j, &a, out, now)
		j, err = applyTransition(ctx, tx, jobID, t, out.Result, now)
		return err
	})
	if err != nil {
		return berth.Job{}, fmt.Errorf("report result of attempt %s: %w", attemptID, err)
	}
	return j, nil
}

// applyTransition moves a job as t says, records result when it is set,
// and returns the job, with its callback queued if t made it terminal.
func applyTransition(ctx context.Context, tx *sql.Tx, jobID string, t berth.Transition, result json.RawMessage, now time.Time) (berth.Job, error) {
	var fin, res any
	if t.State.Terminal() {
		fin = ts(now)
	}
	if result != nil {
		res = string(result)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = ?, reason = ?, exit_code = ?,
		not_before = COALESCE(?, not_before), retried = ?, requeued = ?, finished_at = ?,
		result = COALESCE(?, result), updated_at = ?, version = version + 1 WHERE id = ?`,
		string(t.State), t.Reason, nullInt(t.ExitCode), tsPtr(t.NotBefore), t.Retried, t.Requeued,
		fin, res, ts(now), jobID); err != nil {
		return berth.Job{}, err
	}
	return reloadJob(ctx, tx, jobID, t.State.Terminal(), now)
}
