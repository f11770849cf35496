package store

import (
	"context"
	"database/sql"
	"fmt"

	berth "github.com/berth-run/berth"
)

// KeepRefusals is how many refusals RefuseIntake keeps per queue: the
// oldest go as new ones come.
const KeepRefusals = 1000

// RefuseIntake records refusals of messages of intake queues, in one
// transaction, and deletes those of their queues beyond the last
// KeepRefusals.
func (s *Store) RefuseIntake(ctx context.Context, refusals []berth.IntakeRefusal) error {
	if len(refusals) == 0 {
		return nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		queues := map[string]bool{}
		for _, r := range refusals {
			if _, err := tx.ExecContext(ctx, `INSERT INTO intake_refusals (queue, message_id, received_at, receives, reason, excerpt)
				VALUES (?, ?, ?, ?, ?, ?)`, r.Queue, r.MessageID, ts(r.ReceivedAt), r.Receives, r.Reason, r.Excerpt); err != nil {
				return err
			}
			queues[r.Queue] = true
		}
		for q := range queues {
			if _, err := tx.ExecContext(ctx, `DELETE FROM intake_refusals WHERE queue = ? AND seq <=
				(SELECT seq FROM intake_refusals WHERE queue = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`, q, q, KeepRefusals); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record intake refusals: %w", err)
	}
	return nil
}

// IntakeRefusals returns up to limit refusals, newest first: of queue, or
// of every queue when it is "".
func (s *Store) IntakeRefusals(ctx context.Context, queue string, limit int) ([]berth.IntakeRefusal, error) {
	out := []berth.IntakeRefusal{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		q := `SELECT queue, message_id, received_at, receives, reason, excerpt FROM intake_refusals`
		args := []any{}
		if queue != "" {
			q += ` WHERE queue = ?`
			args = append(args, queue)
		}
		rows, err := tx.QueryContext(ctx, q+` ORDER BY seq DESC LIMIT ?`, append(args, limit)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				r        berth.IntakeRefusal
				received string
			)
			if err := rows.Scan(&r.Queue, &r.MessageID, &received, &r.Receives, &r.Reason, &r.Excerpt); err != nil {
				return err
			}
			if r.ReceivedAt, err = parseTS(received); err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("intake refusals: %w", err)
	}
	return out, nil
}
