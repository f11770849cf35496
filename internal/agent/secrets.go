package agent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	berth "github.com/berth-run/berth"
)

// Secrets reads the secrets that secret_env references name (an SSM
// parameter, a Secrets Manager secret) as the agent starts a container.
type Secrets interface {
	// Resolve returns the secret ref names. An error that is
	// berth.ErrSecretUnavailable (errors.Is) loses the attempt, its job
	// re-queued without spending a retry; any other error is the
	// reference's fault (no such parameter, access denied, no such JSON
	// key) and fails the job at once, as an image that does not exist
	// does. No error holds the secret.
	Resolve(ctx context.Context, ref berth.SecretRef) (string, error)
}

// resolveTimeout bounds the reading of one reference.
const resolveTimeout = 30 * time.Second

// secretEnv returns the values of the assignment's secret_env, references
// read through the agent's Secrets, or the outcome of an attempt that
// cannot start for want of one: a reason naming the variable and the
// reference, never a value. It returns neither when ctx ends.
func (e *execution) secretEnv(ctx context.Context) (map[string]string, *berth.Outcome) {
	out := make(map[string]string, len(e.secrets))
	for name := range e.as.Job.SecretEnv {
		if _, ok := e.secrets[name]; !ok {
			return nil, &berth.Outcome{Kind: berth.StartError, Reason: fmt.Sprintf("secret_env %s: the server sent no value", name)}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(e.secrets)) {
		v := e.secrets[name]
		if !berth.IsSecretRef(v) {
			out[name] = v
			continue
		}
		val, err := e.resolve(ctx, v)
		if ctx.Err() != nil {
			return nil, nil
		}
		if err != nil {
			reason := fmt.Sprintf("secret_env %s: cannot read %s: %v", name, v, err)
			if errors.Is(err, berth.ErrSecretUnavailable) {
				return nil, &berth.Outcome{Kind: berth.Lost, Reason: reason}
			}
			return nil, &berth.Outcome{Kind: berth.StartError, Reason: reason}
		}
		out[name] = val
	}
	return out, nil
}

// resolve reads one reference, as written in the job.
func (e *execution) resolve(ctx context.Context, v string) (string, error) {
	ref, err := berth.ParseSecretRef(v)
	if err != nil {
		return "", err
	}
	if e.a.cfg.Secrets == nil {
		return "", errors.New("this agent reads no secret references")
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	val, err := e.a.cfg.Secrets.Resolve(ctx, ref)
	if err != nil {
		return "", err
	}
	if strings.ContainsRune(val, 0) {
		return "", errors.New("the secret holds a NUL byte, which no environment variable can")
	}
	return val, nil
}
