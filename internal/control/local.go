package control

import (
	"context"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/agent"
	"github.com/berth-run/berth/internal/store"
)

// Local serves the agent protocol to an agent in the same process, straight
// over the store.
type Local struct {
	store    *store.Store
	notifier *Notifier
	kick     func() // wakes the dispatcher when capacity may have freed
}

var _ agent.Server = (*Local)(nil)

// NewLocal returns the in-process server side of the agent protocol.
func NewLocal(s *store.Store, n *Notifier, kick func()) *Local {
	return &Local{store: s, notifier: n, kick: kick}
}

// Register implements agent.Server.
func (l *Local) Register(ctx context.Context, n berth.Node) (berth.Node, error) {
	if n.State == "" {
		n.State = berth.NodeReady
	}
	node, err := l.store.UpsertNode(ctx, n, time.Now())
	if err == nil {
		l.kick()
	}
	return node, err
}

// Assignments implements agent.Server.
func (l *Local) Assignments(ctx context.Context, nodeID string, since uint64, wait time.Duration) ([]berth.Assignment, uint64, error) {
	v := l.notifier.Wait(ctx, nodeID, since, wait)
	as, err := l.store.Assignments(ctx, nodeID)
	if err != nil {
		return nil, since, err
	}
	out := make([]berth.Assignment, len(as))
	for i, a := range as {
		out[i] = berth.Assignment(a)
	}
	return out, v, nil
}

// Started implements agent.Server.
func (l *Local) Started(ctx context.Context, attemptID, containerID string) error {
	_, err := l.store.AttemptStarted(ctx, attemptID, containerID, time.Now())
	return err
}

// Finished implements agent.Server.
func (l *Local) Finished(ctx context.Context, attemptID string, out berth.Outcome) error {
	_, err := l.store.FinishAttempt(ctx, attemptID, out, time.Now())
	if err == nil {
		l.kick()
	}
	return err
}
