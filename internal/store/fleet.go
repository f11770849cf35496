package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	berth "github.com/berth-run/berth"
)

// NodeUse is how busy a node is, for the autoscaler.
type NodeUse struct {
	// Attempts counts its active attempts; Pinned those of jobs pinned to
	// its pool (their pool field).
	Attempts, Pinned int
	// IdleSince is when it last became idle: the end of its last attempt,
	// or its creation; zero while it runs an attempt.
	IdleSince time.Time
}

// NodeUses returns the use of each node of pool that is not gone.
func (s *Store) NodeUses(ctx context.Context, pool string) (map[string]NodeUse, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT n.id, n.created_at,
		(SELECT COUNT(*) FROM attempts a WHERE a.node_id = n.id AND a.finished_at IS NULL),
		(SELECT COUNT(*) FROM attempts a JOIN jobs j ON j.id = a.job_id WHERE a.node_id = n.id
			AND a.finished_at IS NULL AND j.pool = n.pool),
		(SELECT MAX(a.finished_at) FROM attempts a WHERE a.node_id = n.id)
		FROM nodes n WHERE n.pool = ? AND n.state != 'gone'`, pool)
	if err != nil {
		return nil, fmt.Errorf("node use in pool %s: %w", pool, err)
	}
	defer rows.Close()
	out := map[string]NodeUse{}
	for rows.Next() {
		var (
			id, created string
			active      int
			pinned      int
			last        sql.NullString
		)
		if err := rows.Scan(&id, &created, &active, &pinned, &last); err != nil {
			return nil, fmt.Errorf("node use in pool %s: %w", pool, err)
		}
		u := NodeUse{Attempts: active, Pinned: pinned}
		if active == 0 {
			t, err := parseTS(created)
			if err != nil {
				return nil, err
			}
			if last.Valid {
				end, err := parseTS(last.String)
				if err != nil {
					return nil, err
				}
				if end.After(t) {
					t = end
				}
			}
			u.IdleSince = t
		}
		out[id] = u
	}
	return out, rows.Err()
}

// RetireNode marks a node gone, its host terminated: each of its active
// attempts is closed with a berth.Lost outcome giving reason, so that its
// job is re-queued without spending a retry (bounded by
// berth.MaxRequeues). It returns the ids of the attempts it closed. A gone
// node is berth.ErrStale, an unknown one berth.ErrNotFound.
func (s *Store) RetireNode(ctx context.Context, id, reason string, now time.Time) ([]string, error) {
	var closed, jobs []string
	err := s.write(ctx, func(tx *sql.Tx) error {
		closed, jobs = closed[:0], jobs[:0]
		var state string
		err := tx.QueryRowContext(ctx, `SELECT state FROM nodes WHERE id = ?`, id).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("node %s: %w", id, berth.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if berth.NodeState(state) == berth.NodeGone {
			return fmt.Errorf("node %s is gone: %w", id, berth.ErrStale)
		}
		ids, err := activeAttempts(ctx, tx, id)
		if err != nil {
			return err
		}
		for _, a := range ids {
			j, err := finishAttempt(ctx, tx, a, berth.Outcome{Kind: berth.Lost, Reason: reason}, now)
			if err != nil {
				return fmt.Errorf("attempt %s: %w", a, err)
			}
			jobs = append(jobs, j.ID)
		}
		closed = ids
		_, err = tx.ExecContext(ctx, `UPDATE nodes SET state = 'gone', gone_at = ?, version = version + 1 WHERE id = ?`, ts(now), id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("retire node %s: %w", id, err)
	}
	s.ended(jobs...)
	return closed, nil
}
