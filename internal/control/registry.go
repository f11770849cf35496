package control

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/auth"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/store"
)

// Registry keeps the fleet's nodes: it admits them, takes their heartbeats,
// drains them and acts on the notices their clouds give. Each node holds a
// lease that its heartbeats renew; the Reaper declares lost the nodes whose
// lease lapsed.
//
// Leases live in memory and reach the store in batches (Flush): a heartbeat
// that changes nothing neither reads nor writes the store, so that a large
// fleet heartbeating costs the store one transaction per flush. After a
// restart every node's lease counts from the Registry's start, so that
// agents have a full TTL to come back.
//
// Every change of a node's state goes through the Registry (one per
// server), which keeps the nodes it last read or wrote to answer heartbeats
// from; their used capacity may lag.
type Registry struct {
	store    *store.Store
	notifier *Notifier
	kick     func() // wakes the dispatcher: capacity or states changed
	log      *slog.Logger
	started  time.Time

	sessions *Sessions // which agent process acts for each node

	// mu guards seen, unflushed, nodes, gen, byToken and conflictLogged.
	mu             sync.Mutex
	seen           map[string]time.Time      // last heartbeat of each node since start
	unflushed      map[string]time.Time      // heartbeats not yet written to the store
	nodes          map[string]store.NodeInfo // as last read or written
	gen            map[string]uint64         // bumped by each forget: a read from before it is not kept
	byToken        map[string]string         // node ids by credential hash
	conflictLogged map[string]time.Time      // when a refused session was last logged, by node
}

// NewRegistry returns the node registry over s, waking the nodes' agents
// through n and the dispatcher through kick.
func NewRegistry(s *store.Store, n *Notifier, kick func(), log *slog.Logger) *Registry {
	return &Registry{store: s, notifier: n, kick: kick, log: log, started: time.Now(), sessions: NewSessions(),
		seen: make(map[string]time.Time), unflushed: make(map[string]time.Time),
		nodes: make(map[string]store.NodeInfo), gen: make(map[string]uint64), byToken: make(map[string]string),
		conflictLogged: make(map[string]time.Time)}
}

// cached returns the node's record, if kept, and its generation.
func (r *Registry) cached(id string) (store.NodeInfo, bool, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, ok := r.nodes[id]
	return n, ok, r.gen[id]
}

// remember keeps n as the node's current record, unless the node was
// forgotten since generation gen: n may predate that change.
func (r *Registry) remember(n store.NodeInfo, gen uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gen[n.ID] == gen {
		r.nodes[n.ID] = n
	}
}

// forget drops the node's record after a change: the next heartbeat reads
// the store.
func (r *Registry) forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.nodes, id)
	r.gen[id]++
}

// Authenticate returns the id of the node whose credential hashes to hash,
// or berth.ErrNotFound.
func (r *Registry) Authenticate(ctx context.Context, hash string) (string, error) {
	r.mu.Lock()
	id, ok := r.byToken[hash]
	r.mu.Unlock()
	if ok {
		return id, nil
	}
	id, err := r.store.NodeByToken(ctx, hash)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	r.byToken[hash] = id
	r.mu.Unlock()
	return id, nil
}

// Join admits a new node to pool with the status its agent reported, and
// returns it with its credential: the only time the credential is shown.
func (r *Registry) Join(ctx context.Context, pool string, st nodeapi.Status) (store.NodeInfo, string, error) {
	now := time.Now()
	token, hash := auth.NewNodeToken()
	n, err := r.store.JoinNode(ctx, berth.NewID("node", now), pool, st, hash, now)
	if err != nil {
		return store.NodeInfo{}, "", err
	}
	r.remember(n, 0)
	r.touch(n.ID, now)
	r.log.Info("node joined", "node", n.ID, "name", n.Name, "pool", pool, "cpu", n.CPU, "memory_mb", n.MemoryMB)
	return n, token, nil
}

// Ensure creates the node id in pool, with no credential, unless it exists:
// the server's own local node.
func (r *Registry) Ensure(ctx context.Context, id, pool, name string) error {
	_, err := r.store.NodeInfo(ctx, id)
	if err == nil {
		return nil
	}
	if !errors.Is(err, berth.ErrNotFound) {
		return err
	}
	_, err = r.store.JoinNode(ctx, id, pool, nodeapi.Status{Name: name}, "", time.Now())
	return err
}

// Heartbeat renews the node's lease and records its status (see
// store.HeartbeatNode). It returns the node as the server sees it: an agent
// that finds its node lost kills what the server no longer lists and asks to
// be ready again.
func (r *Registry) Heartbeat(ctx context.Context, id string, st nodeapi.Status) (store.NodeInfo, error) {
	now := time.Now()
	cur, ok, gen := r.cached(id)
	if ok && store.Unchanged(cur, st) {
		r.touch(id, now)
		cur.LastSeen = now
		return cur, nil
	}
	wasHealthy := !ok || cur.Healthy
	n, changed, err := r.store.HeartbeatNode(ctx, id, st, now)
	if err != nil {
		r.forget(id)
		return store.NodeInfo{}, err
	}
	switch {
	case wasHealthy && !n.Healthy:
		r.log.Warn("node unhealthy: it takes no work until it is well again", "node", id, "name", n.Name, "reason", n.Reason)
	case ok && !cur.Healthy && n.Healthy:
		r.log.Info("node healthy again", "node", id, "name", n.Name)
	}
	r.remember(n, gen)
	r.touch(id, now)
	if changed {
		r.kick()
	}
	n.LastSeen = now
	return n, nil
}

func (r *Registry) touch(id string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen[id] = now
	r.unflushed[id] = now
}

// leaseStart is when the node's current lease began: its last heartbeat
// heard by this process, else the last one stored, but never before this
// process started.
func (r *Registry) leaseStart(n store.Lease) time.Time {
	r.mu.Lock()
	seen, ok := r.seen[n.ID]
	r.mu.Unlock()
	t := n.LastSeen
	if ok && seen.After(t) {
		t = seen
	}
	if r.started.After(t) {
		t = r.started
	}
	return t
}

// Flush writes the heartbeats heard since the last flush to the store.
func (r *Registry) Flush(ctx context.Context) error {
	r.mu.Lock()
	batch := r.unflushed
	r.unflushed = make(map[string]time.Time, len(batch))
	r.mu.Unlock()
	if err := r.store.TouchNodes(ctx, batch); err != nil {
		r.mu.Lock()
		for id, t := range batch {
			if t.After(r.unflushed[id]) {
				r.unflushed[id] = t
			}
		}
		r.mu.Unlock()
		return err
	}
	return nil
}

// Nodes returns every node that is not gone, with its last heartbeat.
func (r *Registry) Nodes(ctx context.Context) ([]store.NodeInfo, error) {
	nodes, err := r.store.NodeInfos(ctx)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, n := range nodes {
		if t, ok := r.seen[n.ID]; ok && t.After(n.LastSeen) {
			nodes[i].LastSeen = t
		}
	}
	return nodes, nil
}

// Node returns one node, gone or not, with its last heartbeat.
func (r *Registry) Node(ctx context.Context, id string) (store.NodeInfo, error) {
	n, err := r.store.NodeInfo(ctx, id)
	if err != nil {
		return store.NodeInfo{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.seen[id]; ok && t.After(n.LastSeen) {
		n.LastSeen = t
	}
	return n, nil
}

// Drain stops placing work on the node. With a deadline, what still runs
// there at the deadline is stopped and re-queued; a deadline already past
// takes effect at once. reason says why, for the node's record; "" is an
// operator's drain.
func (r *Registry) Drain(ctx context.Context, id string, deadline *time.Time, reason string) (store.NodeInfo, error) {
	now := time.Now()
	n, err := r.store.DrainNode(ctx, id, deadline, reason, now)
	r.forget(id)
	if err != nil {
		return store.NodeInfo{}, err
	}
	r.log.Info("node draining", "node", id, "deadline", deadline, "reason", reason)
	if deadline != nil && !deadline.After(now) {
		if err := r.requeue(ctx, n, "drained from "+nodeLabel(n)); err != nil {
			return store.NodeInfo{}, err
		}
		return r.store.NodeInfo(ctx, id)
	}
	return n, nil
}

// Undrain makes a draining node ready again.
func (r *Registry) Undrain(ctx context.Context, id string) (store.NodeInfo, error) {
	n, err := r.store.UndrainNode(ctx, id, time.Now())
	r.forget(id)
	if err != nil {
		return store.NodeInfo{}, err
	}
	r.log.Info("node undrained", "node", id, "state", n.State)
	r.kick()
	return n, nil
}

// Notice acts on what the node's cloud announced: a spot interruption
// drains the node and re-queues its jobs at once ("spot reclaimed on
// <node>", without spending a retry) while its agent stops their
// containers; a rebalance recommendation only stops new placements.
func (r *Registry) Notice(ctx context.Context, id string, notice nodeapi.Notice) (store.NodeInfo, error) {
	n, err := r.store.NoticeNode(ctx, id, notice.Kind, time.Now())
	r.forget(id)
	if err != nil {
		return store.NodeInfo{}, err
	}
	r.log.Info("node notice", "node", id, "kind", notice.Kind, "action", notice.Action, "time", notice.Time)
	if notice.Kind == nodeapi.SpotInterruption && n.State == berth.NodeDraining {
		if err := r.requeue(ctx, n, "spot reclaimed on "+nodeLabel(n)); err != nil {
			return store.NodeInfo{}, err
		}
		return r.store.NodeInfo(ctx, id)
	}
	return n, nil
}

// requeue takes the node's jobs away from it and tells its agent.
func (r *Registry) requeue(ctx context.Context, n store.NodeInfo, reason string) error {
	jobs, err := r.store.RequeueNode(ctx, n.ID, reason, time.Now())
	if err != nil {
		return err
	}
	if len(jobs) > 0 {
		r.log.Info("jobs re-queued", "node", n.ID, "reason", reason, "jobs", len(jobs))
		r.notifier.Notify(n.ID)
		r.kick()
	}
	return nil
}

// lose declares the node lost and re-queues its jobs.
func (r *Registry) lose(ctx context.Context, id string, since time.Time) error {
	closed, err := r.store.LoseNode(ctx, id, "node lost", time.Now())
	r.forget(id)
	if errors.Is(err, berth.ErrStale) {
		return nil
	}
	if err != nil {
		return err
	}
	r.log.Warn("node lost", "node", id, "silent_for", time.Since(since).Round(time.Millisecond), "attempts", len(closed))
	r.notifier.Notify(id)
	r.kick()
	return nil
}

// Retire marks the node gone: its host was terminated. Attempts still
// active there are closed as lost and their jobs re-queued.
func (r *Registry) Retire(ctx context.Context, id, reason string) error {
	return r.RetireAt(ctx, id, reason, time.Now())
}

// RetireAt is Retire for a host known to have ended at at (its provider
// says when): its life, and its attempts, end then.
func (r *Registry) RetireAt(ctx context.Context, id, reason string, at time.Time) error {
	closed, err := r.store.RetireNode(ctx, id, reason, at)
	r.forget(id)
	r.dropCredential(id)
	r.mu.Lock()
	delete(r.seen, id)
	delete(r.unflushed, id)
	r.mu.Unlock()
	if errors.Is(err, berth.ErrStale) {
		return nil
	}
	if err != nil {
		return err
	}
	r.log.Info("node gone", "node", id, "reason", reason, "attempts", len(closed))
	r.notifier.Notify(id)
	r.kick()
	return nil
}

// Delete retires the node at once and revokes its credential: its attempts
// end as "node deleted" and their jobs are re-queued without spending a
// retry; its agent is refused from then on. Deleting a gone node only
// revokes its credential.
func (r *Registry) Delete(ctx context.Context, id string) (store.NodeInfo, error) {
	if err := r.RetireAt(ctx, id, "node deleted", time.Now()); err != nil {
		return store.NodeInfo{}, err
	}
	if err := r.store.RevokeNode(ctx, id); err != nil {
		return store.NodeInfo{}, err
	}
	r.dropCredential(id)
	r.log.Info("node deleted; its credential is revoked", "node", id)
	return r.store.NodeInfo(ctx, id)
}

// purge deletes the nodes that joined before cutoff and were never heard
// from again.
func (r *Registry) purge(ctx context.Context, cutoff time.Time) error {
	ids, err := r.store.PurgeSilentNodes(ctx, cutoff)
	if err != nil {
		return err
	}
	for _, id := range ids {
		r.forget(id)
		r.dropCredential(id)
	}
	if len(ids) > 0 {
		r.log.Info("purged nodes that joined and were never heard from again", "nodes", len(ids))
	}
	return nil
}

// dropCredential forgets the node's credential and session: a gone node
// authenticates no more.
func (r *Registry) dropCredential(id string) {
	r.sessions.Forget(id)
	r.mu.Lock()
	defer r.mu.Unlock()
	for hash, node := range r.byToken {
		if node == id {
			delete(r.byToken, hash)
		}
	}
}

// nodeLabel is how reasons name a node: its name, else its id.
func nodeLabel(n store.NodeInfo) string {
	if n.Name != "" {
		return n.Name
	}
	return n.ID
}
