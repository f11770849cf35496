package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	berth "github.com/berth-run/berth"
)

// nodeSelect reads nodes (aliased n) with the capacity their active
// attempts use; add a WHERE on n and GROUP BY n.id.
const nodeSelect = `SELECT n.id, n.name, n.pool, n.state, n.cpu, n.memory_mb, n.healthy,
	n.reason, n.last_seen, n.version,
	COALESCE(SUM(j.cpu), 0), COALESCE(SUM(j.memory_mb), 0)
	FROM nodes n
	LEFT JOIN attempts a ON a.node_id = n.id AND a.finished_at IS NULL
	LEFT JOIN jobs j ON j.id = a.job_id`

// scanNode reads one row of nodeSelect.
func scanNode(sc scanner) (berth.Node, error) {
	var (
		n           berth.Node
		state, seen string
	)
	if err := sc.Scan(&n.ID, &n.Name, &n.Pool, &state, &n.CPU, &n.MemoryMB, &n.Healthy,
		&n.Reason, &seen, &n.Version, &n.UsedCPU, &n.UsedMemoryMB); err != nil {
		return berth.Node{}, err
	}
	n.State = berth.NodeState(state)
	var err error
	if n.LastSeen, err = parseTS(seen); err != nil {
		return berth.Node{}, err
	}
	return n, nil
}

// loadNode reads one node with its used capacity, or returns
// berth.ErrNotFound.
func loadNode(ctx context.Context, q querier, id string) (berth.Node, error) {
	n, err := scanNode(q.QueryRowContext(ctx, nodeSelect+` WHERE n.id = ? GROUP BY n.id`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return berth.Node{}, fmt.Errorf("node %s: %w", id, berth.ErrNotFound)
	}
	if err != nil {
		return berth.Node{}, fmt.Errorf("node %s: %w", id, err)
	}
	return n, nil
}

// validNodeState reports whether s is one of the node states.
func validNodeState(s berth.NodeState) bool {
	switch s {
	case berth.NodeJoining, berth.NodeReady, berth.NodeDraining, berth.NodeLost, berth.NodeGone:
		return true
	}
	return false
}

// UpsertNode registers a node or updates its name, pool, capacity, health
// and last_seen, keeping its state unless n.State is set. It returns the
// node with its used capacity. A new node without a state is joining; a
// node without an id gets one from berth.NewID("node", now).
func (s *Store) UpsertNode(ctx context.Context, n berth.Node, now time.Time) (berth.Node, error) {
	if n.State != "" && !validNodeState(n.State) {
		return berth.Node{}, fmt.Errorf("upsert node %s: unknown state %q", n.ID, n.State)
	}
	if n.CPU < 0 || n.MemoryMB < 0 {
		return berth.Node{}, fmt.Errorf("upsert node %s: negative capacity", n.ID)
	}
	if n.ID == "" {
		n.ID = berth.NewID("node", now)
	}
	var out berth.Node
	err := s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `UPDATE nodes SET name = ?, pool = ?, cpu = ?, memory_mb = ?,
			healthy = ?, reason = ?, last_seen = ?, state = COALESCE(NULLIF(?, ''), state),
			gone_at = CASE WHEN COALESCE(NULLIF(?, ''), state) = 'gone' THEN COALESCE(gone_at, ?) END,
			drained = CASE ? WHEN 'draining' THEN TRUE WHEN 'ready' THEN FALSE ELSE drained END,
			version = version + 1 WHERE id = ?`,
			n.Name, n.Pool, n.CPU, n.MemoryMB, n.Healthy, n.Reason, ts(now), string(n.State), string(n.State), ts(now),
			string(n.State), n.ID)
		if err != nil {
			return err
		}
		if k, err := r.RowsAffected(); err != nil {
			return err
		} else if k == 0 {
			state := n.State
			if state == "" {
				state = berth.NodeJoining
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO nodes (id, name, pool, state, cpu, memory_mb,
				healthy, reason, last_seen, version, created_at, drained) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`,
				n.ID, n.Name, n.Pool, string(state), n.CPU, n.MemoryMB, n.Healthy, n.Reason,
				ts(now), ts(now), state == berth.NodeDraining); err != nil {
				return err
			}
		}
		out, err = loadNode(ctx, tx, n.ID)
		return err
	})
	if err != nil {
		return berth.Node{}, fmt.Errorf("upsert node %s: %w", n.ID, err)
	}
	return out, nil
}

// Nodes returns every node that is not gone, with the capacity its active
// attempts use, by id.
func (s *Store) Nodes(ctx context.Context) ([]berth.Node, error) {
	rows, err := s.r.QueryContext(ctx, nodeSelect+` WHERE n.state != 'gone' GROUP BY n.id ORDER BY n.id`)
	if err != nil {
		return nil, fmt.Errorf("read nodes: %w", err)
	}
	defer rows.Close()
	nodes := []berth.Node{}
	for rows.Next() {
		n, err := scanNode(rows)
		if err != nil {
			return nil, fmt.Errorf("read nodes: %w", err)
		}
		nodes = append(nodes, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read nodes: %w", err)
	}
	return nodes, nil
}
