package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/cost"
)

// RolledUpJobs is the JobID of the ledger's lines that sum the attempts
// of deleted jobs: the cost rollup keeps, per UTC day, pool, market and
// set of labels, what they cost, and per node and day what they held of
// it. Reports by pool, market, day or label, and the hosts' idle time,
// come out as they did before the jobs were deleted. A report that starts
// within a day takes the part of that day's rollup after its start as if
// the day's attempts had held their capacity evenly from the first to the
// last moment any of them held it.
const RolledUpJobs = "(deleted jobs)"

// rollupKey is one line of the cost rollup.
type rollupKey struct {
	day, pool, market, labels string
}

// rollupSum is what a line of the rollup sums.
type rollupSum struct {
	first, last time.Time
	usd         float64
	pieces      int
}

func (r *rollupSum) add(from, to time.Time, usd float64) {
	if r.pieces == 0 || from.Before(r.first) {
		r.first = from
	}
	if r.pieces == 0 || to.After(r.last) {
		r.last = to
	}
	r.usd += usd
	r.pieces++
}

// rollUp adds what the attempts of the jobs (all ended) cost to the
// rollup, each job's attempts under its labels (job id → labels).
func rollUp(ctx context.Context, tx *sql.Tx, jobIDs []string, labels map[string]map[string]string) error {
	cs, err := attemptCostsOf(ctx, tx, jobIDs)
	if err != nil {
		return err
	}
	if err := newPriceBook(ctx, tx).rate(cs); err != nil {
		return err
	}
	lines := map[rollupKey]*rollupSum{}
	held := map[nodeDay]*rollupSum{}
	encoded := map[string]string{} // job id → its labels as JSON
	for _, c := range cs {
		if c.End == nil {
			return fmt.Errorf("attempt %s of job %s has not ended", c.AttemptID, c.JobID)
		}
		lb, ok := encoded[c.JobID]
		if !ok {
			b, err := json.Marshal(labels[c.JobID]) // keys sorted
			if err != nil {
				return fmt.Errorf("job %s: labels: %w", c.JobID, err)
			}
			if lb = string(b); lb == "null" {
				lb = "{}"
			}
			encoded[c.JobID] = lb
		}
		for _, d := range days(c.Start, *c.End) {
			usd := c.usdBetween(d[0], d[1])
			k := rollupKey{day: d[0].UTC().Format(time.DateOnly), pool: c.Pool, market: string(c.Market), labels: lb}
			if lines[k] == nil {
				lines[k] = &rollupSum{}
			}
			lines[k].add(d[0], d[1], usd)
			nd := dayOf(c.NodeID, d[0])
			if held[nd] == nil {
				held[nd] = &rollupSum{}
			}
			held[nd].add(d[0], d[1], usd)
		}
	}
	return writeRollup(ctx, tx, lines, held)
}

// writeRollup adds lines and held to the rollup's tables.
func writeRollup(ctx context.Context, tx *sql.Tx, lines map[rollupKey]*rollupSum, held map[nodeDay]*rollupSum) error {
	// CASE, not min and max: PostgreSQL's are LEAST and GREATEST.
	line, err := tx.PrepareContext(ctx, `INSERT INTO cost_rollup AS r (day, pool, market, labels, first_at, last_at, usd, attempts)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (day, pool, market, labels) DO UPDATE SET
		first_at = CASE WHEN excluded.first_at < r.first_at THEN excluded.first_at ELSE r.first_at END,
		last_at = CASE WHEN excluded.last_at > r.last_at THEN excluded.last_at ELSE r.last_at END,
		usd = r.usd + excluded.usd, attempts = r.attempts + excluded.attempts`)
	if err != nil {
		return err
	}
	defer line.Close()
	for k, r := range lines {
		if _, err := line.ExecContext(ctx, k.day, k.pool, k.market, k.labels, ts(r.first), ts(r.last), r.usd, r.pieces); err != nil {
			return fmt.Errorf("roll up cost: %w", err)
		}
	}
	node, err := tx.PrepareContext(ctx, `INSERT INTO cost_rollup_held AS r (day, node_id, first_at, last_at, usd)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (day, node_id) DO UPDATE SET
		first_at = CASE WHEN excluded.first_at < r.first_at THEN excluded.first_at ELSE r.first_at END,
		last_at = CASE WHEN excluded.last_at > r.last_at THEN excluded.last_at ELSE r.last_at END,
		usd = r.usd + excluded.usd`)
	if err != nil {
		return err
	}
	defer node.Close()
	for k, r := range held {
		if _, err := node.ExecContext(ctx, k.day.Format(time.DateOnly), k.node, ts(r.first), ts(r.last), r.usd); err != nil {
			return fmt.Errorf("roll up held: %w", err)
		}
	}
	return nil
}

// rolledUpLines returns the rollup's lines since since and adds what the
// deleted attempts held of each node to held.
func rolledUpLines(ctx context.Context, q querier, since time.Time, held map[nodeDay]float64) (cost.Ledger, error) {
	day, after := since.UTC().Format(time.DateOnly), ts(since)
	rows, err := q.QueryContext(ctx, `SELECT pool, market, labels, first_at, last_at, usd FROM cost_rollup
		WHERE day >= ? AND last_at > ?`, day, after)
	if err != nil {
		return nil, fmt.Errorf("read cost rollup: %w", err)
	}
	defer rows.Close()
	var l cost.Ledger
	for rows.Next() {
		var pool, market, labels, first, last string
		var usd float64
		if err := rows.Scan(&pool, &market, &labels, &first, &last, &usd); err != nil {
			return nil, fmt.Errorf("read cost rollup: %w", err)
		}
		from, to, part, err := partSince(first, last, since)
		if err != nil {
			return nil, fmt.Errorf("read cost rollup: %w", err)
		}
		x := cost.Line{Pool: pool, Market: berth.Market(market), JobID: RolledUpJobs, Start: from, End: to, USD: usd * part}
		if labels != "{}" {
			if err := json.Unmarshal([]byte(labels), &x.Labels); err != nil {
				return nil, fmt.Errorf("read cost rollup: labels %s: %w", labels, err)
			}
		}
		l = append(l, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read cost rollup: %w", err)
	}
	if err := rolledUpHeld(ctx, q, since, held); err != nil {
		return nil, err
	}
	return l, nil
}

// rolledUpHeld adds what deleted attempts held of each node each day since
// since to held.
func rolledUpHeld(ctx context.Context, q querier, since time.Time, held map[nodeDay]float64) error {
	rows, err := q.QueryContext(ctx, `SELECT node_id, first_at, last_at, usd FROM cost_rollup_held
		WHERE day >= ? AND last_at > ?`, since.UTC().Format(time.DateOnly), ts(since))
	if err != nil {
		return fmt.Errorf("read cost rollup: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var node, first, last string
		var usd float64
		if err := rows.Scan(&node, &first, &last, &usd); err != nil {
			return fmt.Errorf("read cost rollup: %w", err)
		}
		from, _, part, err := partSince(first, last, since)
		if err != nil {
			return fmt.Errorf("read cost rollup: %w", err)
		}
		held[dayOf(node, from)] += usd * part
	}
	return rows.Err()
}

// partSince reads a rollup line's span [first, last) and returns the part
// of it from since on: its bounds, and its share of the span's time.
func partSince(first, last string, since time.Time) (from, to time.Time, part float64, err error) {
	if from, err = parseTS(first); err != nil {
		return
	}
	if to, err = parseTS(last); err != nil {
		return
	}
	if !since.After(from) {
		return from, to, 1, nil
	}
	if !to.After(since) || !to.After(from) {
		return since, since, 0, nil
	}
	return since, to, float64(to.Sub(since)) / float64(to.Sub(from)), nil
}
