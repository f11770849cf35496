package control

import (
	"context"
	"errors"
	"fmt"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/agent"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/store"
)

// Local serves the agent protocol straight over the store: to the agent in
// the server's own process, and, behind the HTTP handlers, to remote ones.
type Local struct {
	store    *store.Store
	notifier *Notifier
	registry *Registry
	kick     func() // wakes the dispatcher when capacity may have freed
	tokens   Tokens
	baseURL  string // where the local node's containers reach the API, for their callback
	// remoteURL is where other nodes' containers reach it ("" when the
	// server knows no such address), and localNode the server's own node.
	remoteURL, localNode string
	remoteSet            bool
}

// errNoAdvertiseURL refuses a remote agent's join.
var errNoAdvertiseURL = errors.New("this server knows no address that remote agents' jobs can call back on " +
	"(it listens on loopback, and the Docker bridge reaches its own host only): start it with --advertise-url URL, " +
	"a URL of this server that the agents' hosts reach")

// Tokens makes per-attempt callback tokens (auth.Keys).
type Tokens interface {
	CallbackToken(attemptID string) string
}

var _ agent.Server = (*Local)(nil)

// NewLocal returns the server side of the agent protocol. Containers get
// callback URLs under baseURL (none when it is empty).
func NewLocal(s *store.Store, n *Notifier, reg *Registry, kick func(), tokens Tokens, baseURL string) *Local {
	return &Local{store: s, notifier: n, registry: reg, kick: kick, tokens: tokens, baseURL: baseURL}
}

// SetRemote says where the containers of nodes other than localNode reach
// the API for their callbacks: url, or nowhere ("") when the server knows
// no address their hosts reach (the Docker bridge's is the local node's
// only). Call it before serving. Without it, every node gets baseURL.
func (l *Local) SetRemote(url, localNode string) {
	l.remoteURL, l.localNode = url, localNode
	l.remoteSet = true
}

// AdmitsRemote says why remote agents may not join, or returns nil: their
// jobs' containers would have no address to call back on.
func (l *Local) AdmitsRemote() error {
	if l.remoteSet && l.remoteURL == "" && l.baseURL != "" {
		return errNoAdvertiseURL
	}
	return nil
}

// callbackBase is where the containers of node reach the API.
func (l *Local) callbackBase(node string) string {
	if !l.remoteSet || node == l.localNode {
		return l.baseURL
	}
	return l.remoteURL
}

// Register implements agent.Server: a heartbeat.
func (l *Local) Register(ctx context.Context, nodeID string, st nodeapi.Status) (berth.Node, error) {
	n, err := l.registry.Heartbeat(ctx, nodeID, st)
	return n.Node, err
}

// Assignments implements agent.Server.
func (l *Local) Assignments(ctx context.Context, nodeID string, since uint64, wait time.Duration) ([]berth.Assignment, uint64, error) {
	v := l.notifier.Wait(ctx, nodeID, since, wait)
	as, err := l.store.Assignments(ctx, nodeID)
	if err != nil {
		return nil, since, err
	}
	base := l.callbackBase(nodeID)
	out := as[:0]
	for _, a := range as {
		if base != "" {
			a.CallbackURL = base + "/v1/jobs/" + a.Job.ID + "/callback"
			a.CallbackToken = l.tokens.CallbackToken(a.Attempt.ID)
		}
		if ok, err := l.withSecrets(ctx, &a); err != nil {
			return nil, since, err
		} else if !ok {
			continue
		}
		out = append(out, a)
	}
	return out, v, nil
}

// withSecrets gives an assignment whose container is yet to start its
// job's secret_env, unsealed; a started one never needs it again. When the
// values cannot be unsealed (the server's key file was replaced), the
// attempt fails as a start error, and withSecrets reports false: the node
// is not to start it.
func (l *Local) withSecrets(ctx context.Context, a *berth.Assignment) (bool, error) {
	if len(a.Job.SecretEnv) == 0 || a.Stop || a.Attempt.StartedAt != nil {
		return true, nil
	}
	env, err := l.store.SecretEnv(ctx, a.Job.ID)
	if err == nil {
		a.SecretEnv = env
		return true, nil
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	out := berth.Outcome{Kind: berth.StartError, Reason: fmt.Sprintf("the server cannot read its secret_env: %v", err)}
	if _, err := l.store.FinishAttempt(ctx, a.Attempt.ID, out, time.Now()); err != nil && !errors.Is(err, berth.ErrStale) {
		return false, err
	}
	l.kick()
	return false, nil
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

// Notice implements agent.Server.
func (l *Local) Notice(ctx context.Context, nodeID string, n nodeapi.Notice) error {
	_, err := l.registry.Notice(ctx, nodeID, n)
	return err
}
