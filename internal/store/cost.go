package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/cost"
	"github.com/berth-run/berth/internal/nodeapi"
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
	NodeID    string
	Held
	Start time.Time  // its placement
	End   *time.Time // nil while it holds its capacity
	// rate is its node's price over time, where the pool's prices are
	// recorded; Held.Price (the price at its placement) otherwise.
	rate         cost.Price
	instanceType string // of its node, when known
}

// USD is the attempt's cost up to its end, or up to now while it runs, at
// the price of each moment.
func (a AttemptCost) USD(now time.Time) float64 {
	end := now
	if a.End != nil {
		end = *a.End
	}
	return a.usdBetween(a.Start, end)
}

// usdBetween is what the attempt held from from to to.
func (a AttemptCost) usdBetween(from, to time.Time) float64 {
	if !to.After(from) {
		return 0
	}
	rate := a.rate
	if rate == nil {
		rate = cost.Fixed(a.Price)
	}
	return cost.Attempt(rate, from, to, a.Share)
}

// nodeDay is a node's UTC day, for what attempts held of it that day.
type nodeDay struct {
	node string
	day  time.Time
}

// dayOf is the node's UTC day that t falls in.
func dayOf(node string, t time.Time) nodeDay {
	return nodeDay{node, t.UTC().Truncate(24 * time.Hour)}
}

// days cuts [from, to) at UTC midnights, so that a ledger's lines each
// fall in one day: a host idle one day and busy the next is priced so.
func days(from, to time.Time) [][2]time.Time { return cost.Days(from, to, time.UTC) }

// attemptCostFrom is the table of attemptCostCols.
const attemptCostFrom = `attempts a LEFT JOIN nodes n ON n.id = a.node_id`

const attemptCostCols = `a.id, a.job_id, a.node_id, a.pool, a.market, a.price, a.share, a.created_at, a.finished_at,
	COALESCE(json_extract(n.facts, '$.instance_type'), '')`

func scanAttemptCost(sc scanner) (AttemptCost, error) {
	var (
		c       AttemptCost
		market  string
		created string
		fin     sql.NullString
	)
	if err := sc.Scan(&c.AttemptID, &c.JobID, &c.NodeID, &c.Pool, &market, &c.Price, &c.Share, &created, &fin, &c.instanceType); err != nil {
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
	cs, err := attemptCostsOf(ctx, s.r, jobIDs)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]AttemptCost, len(jobIDs))
	for _, c := range cs {
		out[c.JobID] = append(out[c.JobID], c)
	}
	book := newPriceBook(ctx, s.r)
	for _, cs := range out {
		if err := book.rate(cs); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// attemptCostsOf reads what the attempts of the jobs held, job by job,
// each job's in the order they were made; unpriced (see priceBook.rate).
func attemptCostsOf(ctx context.Context, q querier, jobIDs []string) ([]AttemptCost, error) {
	var out []AttemptCost
	for len(jobIDs) > 0 {
		batch := jobIDs[:min(len(jobIDs), 500)]
		jobIDs = jobIDs[len(batch):]
		args := make([]any, len(batch))
		for i, id := range batch {
			args[i] = id
		}
		marks := strings.Repeat("?,", len(batch))
		cs, err := readAttemptCosts(ctx, q, `WHERE a.job_id IN (`+marks[:len(marks)-1]+`) ORDER BY a.job_id, a.seq`, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

// readAttemptCosts reads the attempts that where (a WHERE and ORDER BY
// clause on attemptCostFrom) selects.
func readAttemptCosts(ctx context.Context, q querier, where string, args ...any) ([]AttemptCost, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+attemptCostCols+` FROM `+attemptCostFrom+` `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read attempt costs: %w", err)
	}
	defer rows.Close()
	var cs []AttemptCost
	for rows.Next() {
		c, err := scanAttemptCost(rows)
		if err != nil {
			return nil, fmt.Errorf("read attempt costs: %w", err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read attempt costs: %w", err)
	}
	return cs, nil
}

// rate gives each attempt its node's price over time, where one is
// recorded.
func (b *priceBook) rate(cs []AttemptCost) error {
	for i := range cs {
		c := &cs[i]
		if c.instanceType == "" {
			continue
		}
		p, err := b.price(c.Pool, c.instanceType, c.Price)
		if err != nil {
			return err
		}
		c.rate = p
	}
	return nil
}

// Ledger prices the time since since (all, when zero) of every attempt
// that held capacity then as a cost.Line, with its job's labels; attempts
// that run are priced up to now. The attempts of deleted jobs are in it
// as the lines of the cost rollup (JobID RolledUpJobs). Then, for each
// priced host (a node whose agent reports a price, or of an instance type
// whose prices its pool records, as an EC2 host's) alive since since,
// lines of its idle time (JobID ""): its life since since at its price,
// less what its attempts, deleted ones too, held of it. Every line falls
// in one UTC day. It reads one snapshot of the store.
func (s *Store) Ledger(ctx context.Context, since, now time.Time) (cost.Ledger, error) {
	var l cost.Ledger
	err := s.read(ctx, func(tx *sql.Tx) error {
		book := newPriceBook(ctx, tx) // within the transaction: one connection
		var held map[nodeDay]float64
		var err error
		if l, held, err = attemptLines(ctx, tx, book, since, now); err != nil {
			return err
		}
		rolled, err := rolledUpLines(ctx, tx, since, held)
		if err != nil {
			return err
		}
		idle, err := idleLines(ctx, tx, book, since, now, held)
		if err != nil {
			return err
		}
		l = append(append(l, rolled...), idle...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// attemptLines prices the time since since of the attempts that held
// capacity since then, and sums what they held of each node.
func attemptLines(ctx context.Context, q querier, book *priceBook, since, now time.Time) (cost.Ledger, map[nodeDay]float64, error) {
	labels, err := jobLabels(ctx, q, since)
	if err != nil {
		return nil, nil, err
	}
	cs, err := readAttemptCosts(ctx, q, `WHERE a.finished_at IS NULL OR a.finished_at > ? ORDER BY a.seq`, ts(since))
	if err != nil {
		return nil, nil, fmt.Errorf("read ledger: %w", err)
	}
	if err := book.rate(cs); err != nil {
		return nil, nil, err
	}
	var l cost.Ledger
	held := map[nodeDay]float64{}
	for _, c := range cs {
		end := now
		if c.End != nil {
			end = *c.End
		}
		// Only its time since then, a line a day.
		for _, d := range days(maxTime(c.Start, since), end) {
			usd := c.usdBetween(d[0], d[1])
			l = append(l, cost.Line{Pool: c.Pool, Market: c.Market, Labels: labels[c.JobID], JobID: c.JobID,
				Start: d[0], End: d[1], USD: usd})
			held[dayOf(c.NodeID, d[0])] += usd
		}
	}
	return l, held, nil
}

// idleLines prices the idle time of the priced hosts alive since since:
// each host's life (from its join to its end, or now) at the price of each
// moment, less held, what the ledger's attempts held of it, a line per
// UTC day. A serverless pool's node has no price of its own: its
// containers are all in the attempts.
func idleLines(ctx context.Context, q querier, book *priceBook, since, now time.Time, held map[nodeDay]float64) (cost.Ledger, error) {
	type host struct {
		id, pool   string
		facts      nodeapi.Facts
		start, end time.Time
	}
	// A lost node is priced up to its last heartbeat: it may come back
	// (then it is priced on), or never (an agent's host shut down).
	rows, err := q.QueryContext(ctx, `SELECT id, pool, facts, created_at,
		COALESCE(gone_at, CASE WHEN state IN ('gone', 'lost') THEN last_seen END)
		FROM nodes WHERE state NOT IN ('gone', 'lost') OR COALESCE(gone_at, last_seen) >= ? ORDER BY id`, ts(since))
	if err != nil {
		return nil, fmt.Errorf("read host costs: %w", err)
	}
	var hosts []host
	for rows.Next() {
		var h host
		var facts, created string
		var gone sql.NullString
		if err = rows.Scan(&h.id, &h.pool, &facts, &created, &gone); err != nil {
			break
		}
		if err = json.Unmarshal([]byte(facts), &h.facts); err != nil {
			err = fmt.Errorf("node %s: facts: %w", h.id, err)
			break
		}
		if h.start, err = parseTS(created); err != nil {
			break
		}
		h.end = now
		if gone.Valid {
			if h.end, err = parseTS(gone.String); err != nil {
				break
			}
		}
		h.start = maxTime(h.start, since)
		if (h.facts.Price > 0 || h.facts.InstanceType != "") && h.end.After(h.start) {
			hosts = append(hosts, h)
		}
	}
	if err == nil {
		err = rows.Err()
	}
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("read host costs: %w", err)
	}
	var l cost.Ledger
	for _, h := range hosts {
		if h.facts.Price == 0 { // its agent knows no price: its pool's recorded prices, if any
			ok, err := book.recorded(h.pool, h.facts.InstanceType)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		rate, err := book.price(h.pool, h.facts.InstanceType, h.facts.Price)
		if err != nil {
			return nil, err
		}
		m := berth.Market(h.facts.Market)
		if m == "" {
			m = berth.OnDemand
		}
		for _, d := range days(h.start, h.end) {
			usd := cost.Instance(rate, d[0], d[1]) - held[dayOf(h.id, d[0])]
			l = append(l, cost.Line{Pool: h.pool, Market: m, Start: d[0], End: d[1], USD: max(usd, 0)})
		}
	}
	return l, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// jobLabels returns the labels of the jobs with an attempt made since
// since.
func jobLabels(ctx context.Context, q querier, since time.Time) (map[string]map[string]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT l.job_id, l.key, l.value FROM job_labels l
		WHERE l.job_id IN (SELECT DISTINCT job_id FROM attempts WHERE finished_at IS NULL OR finished_at > ?)`, ts(since))
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
