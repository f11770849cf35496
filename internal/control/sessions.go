package control

import (
	"context"
	"fmt"
	"sync"
	"time"

	berth "github.com/berth-run/berth"
)

// Sessions keeps which agent process acts for each node. Every agent
// process starts a session of its own and names it in each call; a node
// has one session at a time. Another session presenting the node's
// credential (a copied data directory, a disk image launched twice) is
// refused while the node's session is alive, that is, heard from within
// a few of its heartbeat intervals; once it has gone silent, the newcomer
// takes over, as an agent restarted on its host does.
type Sessions struct {
	// mu guards byNode.
	mu     sync.Mutex
	byNode map[string]session
}

type session struct {
	id    string
	seen  time.Time
	every time.Duration // the agent's heartbeat interval
}

// DefaultHeartbeat is the heartbeat interval assumed of an agent that
// names none.
const DefaultHeartbeat = 5 * time.Second

// takeoverAfter is how long a session must have been silent for another
// to take its node over: three of its heartbeats, at least a second.
func (s session) takeoverAfter() time.Duration {
	every := s.every
	if every <= 0 {
		every = DefaultHeartbeat
	}
	return max(3*every, time.Second)
}

// NewSessions returns an empty session table.
func NewSessions() *Sessions { return &Sessions{byNode: make(map[string]session)} }

// SessionConflictError refuses a session while another acts for its node.
type SessionConflictError struct {
	Node      string
	Session   string // the refused one
	Holder    string // the one that acts for the node
	HeardAgo  time.Duration
	TakesOver time.Duration // how long the holder must stay silent for a newcomer to take over
}

func (e *SessionConflictError) Error() string {
	return fmt.Sprintf("node %s is run by another agent (session %s, heard %s ago): this agent (session %s) is refused; "+
		"is its data directory a copy of that agent's? A restarted agent takes over once the old one has been silent for %s",
		e.Node, short(e.Holder), e.HeardAgo.Round(time.Millisecond), short(e.Session), e.TakesOver)
}

// Is makes errors.Is(err, berth.ErrConflict) true.
func (e *SessionConflictError) Is(target error) bool { return target == berth.ErrConflict }

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Hear records a call of session id for node at now, from an agent that
// heartbeats every every (0: unknown). It returns a *SessionConflictError
// when another session acts for the node; the caller refuses the call.
// An empty id (a caller that names no session) is always let through and
// changes nothing.
func (s *Sessions) Hear(node, id string, every time.Duration, now time.Time) (takeover bool, err error) {
	if id == "" {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.byNode[node]
	if ok && cur.id != id {
		if silent := now.Sub(cur.seen); silent < cur.takeoverAfter() {
			return false, &SessionConflictError{Node: node, Session: id, Holder: cur.id, HeardAgo: silent, TakesOver: cur.takeoverAfter()}
		}
		takeover = true
	}
	s.byNode[node] = session{id: id, seen: now, every: every}
	return takeover, nil
}

// Forget drops the node's session: the node is gone or deleted.
func (s *Sessions) Forget(node string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byNode, node)
}

// Session checks and records a call of session id for node (see
// Sessions.Hear). A refused session is logged once a minute per node and
// kept on the node's record, so that berth node shows it.
func (r *Registry) Session(ctx context.Context, node, id string, every time.Duration, from string) error {
	now := time.Now()
	takeover, err := r.sessions.Hear(node, id, every, now)
	if err == nil {
		if takeover {
			r.log.Info("a new agent session took the node over; the old one was silent", "node", node, "session", short(id))
		}
		return nil
	}
	r.mu.Lock()
	last := r.conflictLogged[node]
	loud := now.Sub(last) >= time.Minute
	if loud {
		r.conflictLogged[node] = now
	}
	r.mu.Unlock()
	if loud {
		r.log.Warn("refused a second agent acting for one node: a copied data directory or a cloned disk?",
			"node", node, "from", from, "err", err)
		note := fmt.Sprintf("%s: refused a second agent (session %s from %s) while session %s acts for the node",
			now.UTC().Format(time.RFC3339), short(id), from, short(err.(*SessionConflictError).Holder))
		if werr := r.store.NoteNodeConflict(ctx, node, note, now); werr != nil {
			r.log.Warn("record the conflict on the node", "node", node, "err", werr)
		}
		r.forget(node)
	}
	return err
}
