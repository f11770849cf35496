package control

import (
	"context"
	"sync"
	"time"
)

// Notifier wakes the agents that long-poll for their node's assignments. It
// holds no state a crash can lose: a version per node that only says
// "something changed, read the store again".
//
// Versions start at the time the Notifier was made, in nanoseconds, so
// that an agent that polled a server before it restarted holds a version
// below every version the new one gives out, and is answered at once.
type Notifier struct {
	base uint64 // the version of a node never notified

	// mu guards versions and waits.
	mu       sync.Mutex
	versions map[string]uint64
	waits    map[string]chan struct{}
}

// NewNotifier returns a Notifier.
func NewNotifier() *Notifier {
	return &Notifier{base: uint64(max(time.Now().UnixNano(), 1)), versions: make(map[string]uint64), waits: make(map[string]chan struct{})}
}

// Notify wakes the waiters of node.
func (n *Notifier) Notify(node string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.bump(node)
}

// NotifyAll wakes every waiter.
func (n *Notifier) NotifyAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for node := range n.versions {
		n.bump(node)
	}
}

func (n *Notifier) bump(node string) {
	n.versions[node] = n.version(node) + 1
	if ch, ok := n.waits[node]; ok {
		close(ch)
		delete(n.waits, node)
	}
}

// version returns node's version; a node never seen is at base, so that a
// first Wait with since 0 returns at once.
func (n *Notifier) version(node string) uint64 {
	v, ok := n.versions[node]
	if !ok {
		v = n.base
		n.versions[node] = v
	}
	return v
}

// Wait blocks until node's version is past since, d has passed or ctx ends,
// and returns the version.
func (n *Notifier) Wait(ctx context.Context, node string, since uint64, d time.Duration) uint64 {
	n.mu.Lock()
	if v := n.version(node); v > since {
		n.mu.Unlock()
		return v
	}
	ch, ok := n.waits[node]
	if !ok {
		ch = make(chan struct{})
		n.waits[node] = ch
	}
	n.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.version(node)
}
