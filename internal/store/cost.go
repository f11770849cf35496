package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/cost"
)

// Held is what an attempt holds, for its cost: a share of a node at the
// node's price, or a serverless container at the container's price (share
// 1).
type Held struct {
	Pool   string
	Market berth.Market
	Price  float64 // USD per hour of the node or container
	Share  float64 // of it, from 0 to 1
}

// heldOnNode is what an attempt of cpu×mem holds on node n: its share of
// the node at the price its agent reported.
func heldOnNode(n NodeInfo, cpu float64, mem int64) Held {
	m := berth.Market(n.Facts.Market)
	if m == "" {
		m = berth.OnDemand
	}
	return Held{Pool: n.Pool, Market: m, Price: n.Facts.Price, Share: cost.Share(cpu, mem, n.CPU, n.MemoryMB)}
}

// AttemptCost is what one attempt held and for how long.
type AttemptCost struct {
	AttemptID string
	JobID     string
	Held
	Start time.Time  // its placement
	End   *time.Time // nil while it holds its capacity
}

// USD is the attempt's cost up to its end, or up to now while it runs.
func (a AttemptCost) USD(now time.Time) float64 {
	end := now
	if a.End != nil {
		end = *a.End
	}
	if !end.After(a.Start) {
		return 0
	}
	return cost.Attempt(cost.Fixed(a.Price), a.Start, end, a.Share)
}

const attemptCostCols = `a.id, a.job_id, a.pool, a.market, a.price, a.share, a.created_at, a.finished_at`

func scanAttemptCost(sc scanner) (AttemptCost, error) {
	var (
		c       AttemptCost
		market  string
		created string
		fin     sql.NullString
	)
	if err := sc.Scan(&c.AttemptID, &c.JobID, &c.Pool, &market, &c.Price, &c.Share, &created, &fin); err != nil {
		return AttemptCost{}, err
	}
	c.Market = berth.Market(market)
	var err error
	if c.Start, err = parseTS(created); err != nil {
		return AttemptCost{}, err
	}
	if c.End, err = parseTSPtr(fin); err != nil {
		return AttemptCost{}, err
	}
	return c, nil
}

// AttemptCosts returns what the attempts of the jobs held, by job, in the
// order they were made.
func (s *Store) AttemptCosts(ctx context.Context, jobIDs []string) (map[string][]AttemptCost, error) {
	out := make(map[string][]AttemptCost, len(jobIDs))
	for len(jobIDs) > 0 {
		batch := jobIDs[:min(len(jobIDs), 500)]
		jobIDs = jobIDs[len(batch):]
		args := make([]any, len(batch))
		for i, id := range batch {
			args[i] = id
		}
		marks := strings.Repeat("?,", len(batch))
		rows, err := s.r.QueryContext(ctx, `SELECT `+attemptCostCols+` FROM attempts a
			WHERE a.job_id IN (`+marks[:len(marks)-1]+`) ORDER BY a.job_id, a.seq`, args...)
		if err != nil {
			return nil, fmt.Errorf("read attempt costs: %w", err)
		}
		for rows.Next() {
			c, err := scanAttemptCost(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("read attempt costs: %w", err)
			}
			out[c.JobID] = append(out[c.JobID], c)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("read attempt costs: %w", err)
		}
	}
	return out, nil
}

// Ledger prices every attempt made since since (all when zero) as a
// cost.Line, with its job's labels; attempts that run are priced up to
// now.
func (s *Store) Ledger(ctx context.Context, since, now time.Time) (cost.Ledger, error) {
	labels, err := s.jobLabels(ctx, since)
	if err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+attemptCostCols+` FROM attempts a
		WHERE a.created_at >= ? ORDER BY a.seq`, ts(since))
	if err != nil {
		return nil, fmt.Errorf("read ledger: %w", err)
	}
	defer rows.Close()
	var l cost.Ledger
	for rows.Next() {
		c, err := scanAttemptCost(rows)
		if err != nil {
			return nil, fmt.Errorf("read ledger: %w", err)
		}
		end := now
		if c.End != nil {
			end = *c.End
		}
		l = append(l, cost.Line{Pool: c.Pool, Market: c.Market, Labels: labels[c.JobID], JobID: c.JobID,
			Start: c.Start, End: end, USD: c.USD(now)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read ledger: %w", err)
	}
	return l, nil
}

// jobLabels returns the labels of the jobs with an attempt made since
// since.
func (s *Store) jobLabels(ctx context.Context, since time.Time) (map[string]map[string]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT l.job_id, l.key, l.value FROM job_labels l
		WHERE l.job_id IN (SELECT DISTINCT job_id FROM attempts WHERE created_at >= ?)`, ts(since))
	if err != nil {
		return nil, fmt.Errorf("read labels: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]string{}
	for rows.Next() {
		var id, k, v string
		if err := rows.Scan(&id, &k, &v); err != nil {
			return nil, fmt.Errorf("read labels: %w", err)
		}
		if out[id] == nil {
			out[id] = map[string]string{}
		}
		out[id][k] = v
	}
	return out, rows.Err()
}
