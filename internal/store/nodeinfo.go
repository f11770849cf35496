package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/nodeapi"
)

// NodeInfo is a node with what berth knows beside its place in the
// schedule: its host's facts, its drain deadline and its last notice.
type NodeInfo struct {
	berth.Node
	Facts         nodeapi.Facts
	DrainDeadline *time.Time
	Notice        nodeapi.NoticeKind
	NoticeAt      *time.Time
	// Drained is the node's own schedulability: it takes no new work, and
	// comes back draining from lost. Its state says whether it is live.
	Drained bool
	// Conflict notes the last second agent refused for the node.
	Conflict string
	// DrainReason says why a draining node drains, as whoever drained it
	// said; "" for an operator's drain.
	DrainReason string
}

// nodeInfoSelect is nodeSelect with the columns of NodeInfo.
const nodeInfoSelect = `SELECT n.id, n.name, n.pool, n.state, n.cpu, n.memory_mb, n.healthy,
	n.reason, n.last_seen, n.version,
	COALESCE(SUM(j.cpu), 0), COALESCE(SUM(j.memory_mb), 0),
	n.facts, n.drain_deadline, n.notice, n.notice_at, n.drained, n.conflict, n.drain_reason
	FROM nodes n
	LEFT JOIN attempts a ON a.node_id = n.id AND a.finished_at IS NULL
	LEFT JOIN jobs j ON j.id = a.job_id`

func scanNodeInfo(sc scanner) (NodeInfo, error) {
	var (
		n              NodeInfo
		state, seen    string
		facts, notice  string
		drain, noticed sql.NullString
	)
	if err := sc.Scan(&n.ID, &n.Name, &n.Pool, &state, &n.CPU, &n.MemoryMB, &n.Healthy,
		&n.Reason, &seen, &n.Version, &n.UsedCPU, &n.UsedMemoryMB,
		&facts, &drain, &notice, &noticed, &n.Drained, &n.Conflict, &n.DrainReason); err != nil {
		return NodeInfo{}, err
	}
	n.State = berth.NodeState(state)
	n.Notice = nodeapi.NoticeKind(notice)
	var err error
	if n.LastSeen, err = parseTS(seen); err != nil {
		return NodeInfo{}, err
	}
	if n.DrainDeadline, err = parseTSPtr(drain); err != nil {
		return NodeInfo{}, err
	}
	if n.NoticeAt, err = parseTSPtr(noticed); err != nil {
		return NodeInfo{}, err
	}
	if err := json.Unmarshal([]byte(facts), &n.Facts); err != nil {
		return NodeInfo{}, fmt.Errorf("facts of node %s: %w", n.ID, err)
	}
	return n, nil
}

func loadNodeInfo(ctx context.Context, q querier, id string) (NodeInfo, error) {
	n, err := scanNodeInfo(q.QueryRowContext(ctx, nodeInfoSelect+` WHERE n.id = ? GROUP BY n.id`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return NodeInfo{}, fmt.Errorf("node %s: %w", id, berth.ErrNotFound)
	}
	if err != nil {
		return NodeInfo{}, fmt.Errorf("node %s: %w", id, err)
	}
	return n, nil
}

// NodeInfo returns one node, gone or not, or berth.ErrNotFound.
func (s *Store) NodeInfo(ctx context.Context, id string) (NodeInfo, error) {
	return loadNodeInfo(ctx, s.r, id)
}

// NodeHolds reports whether a node that is not gone (whether or not it is
// live, or takes work) is as large as cpu vCPUs and memoryMB MiB, or may
// be: one whose agent has not told its capacity yet.
func (s *Store) NodeHolds(ctx context.Context, cpu float64, memoryMB int64) (bool, error) {
	var one int
	err := s.r.QueryRowContext(ctx, `SELECT 1 FROM nodes WHERE state != 'gone'
		AND ((cpu >= ? AND memory_mb >= ?) OR (cpu = 0 AND memory_mb = 0)) LIMIT 1`,
		cpu-1e-9, memoryMB).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read nodes: %w", err)
	}
	return true, nil
}

// NodeInfos returns every node that is not gone, by id.
func (s *Store) NodeInfos(ctx context.Context) ([]NodeInfo, error) {
	rows, err := s.r.QueryContext(ctx, nodeInfoSelect+` WHERE n.state != 'gone' GROUP BY n.id ORDER BY n.id`)
	if err != nil {
		return nil, fmt.Errorf("read nodes: %w", err)
	}
	defer rows.Close()
	nodes := []NodeInfo{}
	for rows.Next() {
		n, err := scanNodeInfo(rows)
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

// JoinNode creates a node in pool, joining, with the status its agent
// reported and the hash of its credential, and returns it.
func (s *Store) JoinNode(ctx context.Context, id, pool string, st nodeapi.Status, tokenHash string, now time.Time) (NodeInfo, error) {
	if st.CPU < 0 || st.MemoryMB < 0 {
		return NodeInfo{}, fmt.Errorf("join node %s: negative capacity", id)
	}
	facts, err := json.Marshal(st.Facts)
	if err != nil {
		return NodeInfo{}, fmt.Errorf("join node %s: %w", id, err)
	}
	name := st.Name
	if name == "" {
		name = id
	}
	var out NodeInfo
	err = s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO nodes (id, name, pool, state, cpu, memory_mb,
			healthy, reason, last_seen, version, created_at, token_hash, facts)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`,
			id, name, pool, string(berth.NodeJoining), st.CPU, st.MemoryMB, st.Healthy, st.Reason,
			ts(now), ts(now), tokenHash, string(facts)); err != nil {
			return err
		}
		out, err = loadNodeInfo(ctx, tx, id)
		return err
	})
	if err != nil {
		return NodeInfo{}, fmt.Errorf("join node %s: %w", id, err)
	}
	return out, nil
}

// NodeByToken returns the id of the node whose credential hashes to hash,
// or berth.ErrNotFound. Gone nodes have no valid credential.
func (s *Store) NodeByToken(ctx context.Context, hash string) (string, error) {
	var id string
	err := s.r.QueryRowContext(ctx, `SELECT id FROM nodes WHERE token_hash = ? AND token_hash != ''
		AND state != 'gone'`, hash).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("node credential: %w", berth.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("node credential: %w", err)
	}
	return id, nil
}

// HeartbeatNode records what a node's agent reports: its name (when set),
// capacity, health and host facts, and, when st.Ready, makes a joining or
// lost node ready, or draining when it was drained (a draining node stays
// draining; ready asks nothing of a ready one). It writes only when something changed, and reports whether it
// did. It does not record last_seen: leases live in memory and reach the
// store through TouchNodes. A gone or unknown node is berth.ErrNotFound.
func (s *Store) HeartbeatNode(ctx context.Context, id string, st nodeapi.Status, now time.Time) (NodeInfo, bool, error) {
	if st.CPU < 0 || st.MemoryMB < 0 {
		return NodeInfo{}, false, fmt.Errorf("heartbeat of node %s: negative capacity", id)
	}
	cur, err := loadNodeInfo(ctx, s.r, id)
	if err != nil {
		return NodeInfo{}, false, err
	}
	if cur.State == berth.NodeGone {
		return NodeInfo{}, false, fmt.Errorf("node %s is gone: %w", id, berth.ErrNotFound)
	}
	if Unchanged(cur, st) {
		return cur, false, nil
	}
	name := st.Name
	if name == "" {
		name = cur.Name
	}
	facts, err := json.Marshal(st.Facts)
	if err != nil {
		return NodeInfo{}, false, fmt.Errorf("heartbeat of node %s: %w", id, err)
	}
	var out NodeInfo
	err = s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE nodes SET name = ?, cpu = ?, memory_mb = ?, healthy = ?,
			reason = ?, facts = ?, last_seen = ?,
			state = CASE WHEN ? AND state IN ('joining', 'lost')
				THEN CASE WHEN drained THEN 'draining' ELSE 'ready' END ELSE state END,
			version = version + 1 WHERE id = ? AND state != 'gone'`,
			name, st.CPU, st.MemoryMB, st.Healthy, st.Reason, string(facts), ts(now), st.Ready, id); err != nil {
			return err
		}
		out, err = loadNodeInfo(ctx, tx, id)
		return err
	})
	if err != nil {
		return NodeInfo{}, false, fmt.Errorf("heartbeat of node %s: %w", id, err)
	}
	return out, true, nil
}

// TouchNodes records when nodes were last heard from, in one transaction.
// A time older than the one stored changes nothing.
func (s *Store) TouchNodes(ctx context.Context, seen map[string]time.Time) error {
	if len(seen) == 0 {
		return nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE nodes SET last_seen = ? WHERE id = ? AND last_seen < ?`)
		if err != nil {
			return err
		}
		defer st.Close()
		for id, t := range seen {
			if _, err := st.ExecContext(ctx, ts(t), id, ts(t)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("touch nodes: %w", err)
	}
	return nil
}

// LoseNode marks a joining, ready or draining node lost and closes each of
// its active attempts with a berth.Lost outcome giving reason: their jobs
// are re-queued without spending a retry (bounded by berth.MaxRequeues). It
// returns the ids of the attempts it closed, and berth.ErrStale (changing
// nothing) when the node is not in one of those states.
func (s *Store) LoseNode(ctx context.Context, id, reason string, now time.Time) ([]string, error) {
	var closed, jobs []string
	err := s.write(ctx, func(tx *sql.Tx) error {
		closed, jobs = closed[:0], jobs[:0]
		r, err := tx.ExecContext(ctx, `UPDATE nodes SET state = 'lost', version = version + 1
			WHERE id = ? AND state IN ('joining', 'ready', 'draining')`, id)
		if err != nil {
			return err
		}
		if k, err := r.RowsAffected(); err != nil {
			return err
		} else if k == 0 {
			return fmt.Errorf("node %s is not live: %w", id, berth.ErrStale)
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
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lose node %s: %w", id, err)
	}
	s.ended(jobs...)
	return closed, nil
}

// activeAttempts returns the ids of the node's active attempts, oldest first.
func activeAttempts(ctx context.Context, q querier, nodeID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT id FROM attempts WHERE node_id = ? AND finished_at IS NULL ORDER BY seq`, nodeID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// DrainNode makes a joining, ready or draining node draining: it takes no
// new work. With a deadline, work still running on it then is stopped and
// re-queued (see RequeueNode); without, running work finishes. reason says
// why ("" for an operator's drain). Draining a draining node sets its
// deadline and reason anew. A lost node is berth.ErrConflict.
func (s *Store) DrainNode(ctx context.Context, id string, deadline *time.Time, reason string, now time.Time) (NodeInfo, error) {
	var out NodeInfo
	err := s.write(ctx, func(tx *sql.Tx) error {
		cur, err := loadNodeInfo(ctx, tx, id)
		if err != nil {
			return err
		}
		switch cur.State {
		case berth.NodeLost, berth.NodeGone:
			return fmt.Errorf("node %s is %s: %w", id, cur.State, berth.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE nodes SET state = 'draining', drained = TRUE, drain_deadline = ?,
			drain_reason = ?, version = version + 1 WHERE id = ?`, tsPtr(deadline), reason, id); err != nil {
			return err
		}
		out, err = loadNodeInfo(ctx, tx, id)
		return err
	})
	if err != nil {
		return NodeInfo{}, fmt.Errorf("drain node %s: %w", id, err)
	}
	return out, nil
}

// UndrainNode makes a draining node ready again and forgets its deadline and
// notice; a lost one comes back ready. A ready or joining node is left as it
// is; a gone one is berth.ErrConflict.
func (s *Store) UndrainNode(ctx context.Context, id string, now time.Time) (NodeInfo, error) {
	var out NodeInfo
	err := s.write(ctx, func(tx *sql.Tx) error {
		cur, err := loadNodeInfo(ctx, tx, id)
		if err != nil {
			return err
		}
		switch cur.State {
		case berth.NodeGone:
			return fmt.Errorf("node %s is %s: %w", id, cur.State, berth.ErrConflict)
		case berth.NodeDraining, berth.NodeLost:
			// A lost node is undrained for when it comes back.
			if _, err := tx.ExecContext(ctx, `UPDATE nodes SET drained = FALSE,
				state = CASE WHEN state = 'draining' THEN 'ready' ELSE state END, drain_deadline = NULL, drain_reason = '',
				notice = '', notice_at = NULL, version = version + 1 WHERE id = ?`, id); err != nil {
				return err
			}
		}
		out, err = loadNodeInfo(ctx, tx, id)
		return err
	})
	if err != nil {
		return NodeInfo{}, fmt.Errorf("undrain node %s: %w", id, err)
	}
	return out, nil
}

// NoticeNode records a notice about the node's host and drains it: a spot
// interruption with a deadline of now (its work is to be stopped and
// re-queued at once), a rebalance recommendation without one (unless a
// deadline is set already). A lost or gone node only records the notice.
func (s *Store) NoticeNode(ctx context.Context, id string, kind nodeapi.NoticeKind, now time.Time) (NodeInfo, error) {
	if !kind.Valid() {
		return NodeInfo{}, fmt.Errorf("notice on node %s: unknown kind %q", id, kind)
	}
	var out NodeInfo
	err := s.write(ctx, func(tx *sql.Tx) error {
		var deadline any
		if kind == nodeapi.SpotInterruption {
			deadline = ts(now)
		}
		// A rebalance recommendation does not hide an interruption notice
		// given already.
		if _, err := tx.ExecContext(ctx, `UPDATE nodes
			SET notice = CASE WHEN notice = 'spot_interruption' THEN notice ELSE ? END, notice_at = ?,
			state = CASE WHEN state IN ('joining', 'ready', 'draining') THEN 'draining' ELSE state END,
			drained = CASE WHEN state IN ('joining', 'ready', 'draining') THEN TRUE ELSE drained END,
			drain_deadline = CASE WHEN state IN ('joining', 'ready', 'draining')
				THEN COALESCE(?, drain_deadline) ELSE drain_deadline END,
			version = version + 1 WHERE id = ?`, string(kind), ts(now), deadline, id); err != nil {
			return err
		}
		var err error
		out, err = loadNodeInfo(ctx, tx, id)
		return err
	})
	if err != nil {
		return NodeInfo{}, fmt.Errorf("notice on node %s: %w", id, err)
	}
	return out, nil
}

// DrainsDue returns the draining nodes whose deadline has come (at or
// before now) and which still run a job's current attempt.
func (s *Store) DrainsDue(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT DISTINCT n.id FROM nodes n
		JOIN attempts a ON a.node_id = n.id AND a.finished_at IS NULL AND a.reason = ''
		WHERE n.state = 'draining' AND n.drain_deadline IS NOT NULL AND n.drain_deadline <= ?
		ORDER BY n.id`, ts(now))
	if err != nil {
		return nil, fmt.Errorf("drains due: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("drains due: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// RequeueNode takes the jobs running on a node away from it: each active
// attempt still current for its job gets reason as its reason and is to be
// stopped (its executor sees Stop on its assignment). The job stays where
// it is until the attempt ends: then, unless it succeeded meanwhile, it
// moves as a berth.Lost outcome with that reason decides (re-queued without
// spending a retry, bounded). So a job never has two live attempts, even
// when its node's container takes the whole stop grace to end. It returns
// the ids of the jobs whose attempts it marked.
func (s *Store) RequeueNode(ctx context.Context, id, reason string, now time.Time) ([]string, error) {
	var marked []string
	err := s.write(ctx, func(tx *sql.Tx) error {
		marked = marked[:0]
		ids, err := activeAttempts(ctx, tx, id)
		if err != nil {
			return err
		}
		for _, attemptID := range ids {
			a, jobID, err := loadAttempt(ctx, tx, attemptID)
			if err != nil {
				return err
			}
			j, err := loadJob(ctx, tx, jobID)
			if err != nil {
				return err
			}
			if !runs(&j, a.ID) || a.Reason != "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE attempts SET reason = ? WHERE id = ?`, reason, a.ID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE jobs SET reason = ?, updated_at = ?, version = version + 1 WHERE id = ?`,
				reason+"; stopping its container, then re-queued", ts(now), jobID); err != nil {
				return err
			}
			marked = append(marked, jobID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("re-queue the jobs of node %s: %w", id, err)
	}
	return marked, nil
}

// RevokeNode drops the node's credential: no agent can act for it again.
// An unknown node is berth.ErrNotFound.
func (s *Store) RevokeNode(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE nodes SET token_hash = '', version = version + 1 WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("node %s: %w", id, berth.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("revoke node %s: %w", id, err)
	}
	return nil
}

// NoteNodeConflict keeps note, the last refusal of a second agent for the
// node, on its record.
func (s *Store) NoteNodeConflict(ctx context.Context, id, note string, now time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE nodes SET conflict = ? WHERE id = ?`, note, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("note conflict on node %s: %w", id, err)
	}
	return nil
}

// AttemptOwner returns the node an attempt was placed on and its job, or
// berth.ErrNotFound.
func (s *Store) AttemptOwner(ctx context.Context, attemptID string) (nodeID, jobID string, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT node_id, job_id FROM attempts WHERE id = ?`, attemptID).Scan(&nodeID, &jobID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("attempt %s: %w", attemptID, berth.ErrNotFound)
	}
	if err != nil {
		return "", "", fmt.Errorf("attempt %s: %w", attemptID, err)
	}
	return nodeID, jobID, nil
}

// Lease is what the reaper needs of a live node: its state and when it was
// last heard from, as stored.
type Lease struct {
	ID       string
	State    berth.NodeState
	LastSeen time.Time
}

// Leases returns the joining, ready and draining nodes' leases.
func (s *Store) Leases(ctx context.Context) ([]Lease, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, state, last_seen FROM nodes
		WHERE state IN ('joining', 'ready', 'draining') ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read leases: %w", err)
	}
	defer rows.Close()
	var out []Lease
	for rows.Next() {
		var (
			l           Lease
			state, seen string
		)
		if err := rows.Scan(&l.ID, &state, &seen); err != nil {
			return nil, fmt.Errorf("read leases: %w", err)
		}
		l.State = berth.NodeState(state)
		if l.LastSeen, err = parseTS(seen); err != nil {
			return nil, fmt.Errorf("read leases: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// Unchanged reports whether a heartbeat with st would change nothing of
// node n (see HeartbeatNode).
func Unchanged(n NodeInfo, st nodeapi.Status) bool {
	promote := st.Ready && (n.State == berth.NodeJoining || n.State == berth.NodeLost)
	return !promote && (st.Name == "" || st.Name == n.Name) && st.CPU == n.CPU && st.MemoryMB == n.MemoryMB &&
		st.Healthy == n.Healthy && st.Reason == n.Reason && st.Facts == n.Facts
}
