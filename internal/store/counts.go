package store

import (
	"context"
	"fmt"

	berth "github.com/berth-run/berth"
)

// CountJobs returns how many jobs are in each state. It reads the counts
// the store keeps as jobs are inserted, moved and deleted (job_counts), a
// row per state: its cost does not grow with the jobs.
func (s *Store) CountJobs(ctx context.Context) (map[berth.State]int, error) {
	counts := make(map[berth.State]int, len(berth.States))
	rows, err := s.r.QueryContext(ctx, `SELECT state, n FROM job_counts`)
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count jobs: %w", err)
		}
		if n != 0 {
			counts[berth.State(st)] = n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	return counts, nil
}
