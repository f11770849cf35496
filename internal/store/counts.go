package store

import (
	"context"
	"database/sql"
	"fmt"

	berth "github.com/berth-run/berth"
)

// CountJobs returns how many jobs are in each state. Terminal states are
// counted over the whole table; it reads the (state, id) index only.
func (s *Store) CountJobs(ctx context.Context) (map[berth.State]int, error) {
	counts := make(map[berth.State]int, len(berth.States))
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT state, count(*) FROM jobs INDEXED BY jobs_state_id GROUP BY state`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var st string
			var n int
			if err := rows.Scan(&st, &n); err != nil {
				return err
			}
			counts[berth.State(st)] = n
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	return counts, nil
}
