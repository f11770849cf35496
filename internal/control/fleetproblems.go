package control

import (
	"context"
	"fmt"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/provider"
)

// poolProblem is why a pool cannot do what berth asks of it, for its
// status and for the reasons of the jobs waiting on it.
type poolProblem struct {
	what string
	// until, when set, is when the problem is forgotten (a join timeout:
	// the type is avoided that long); zero means until a round's calls to
	// the pool's provider all succeed.
	until time.Time
}

// problem records a problem of pool.
func (f *Fleet) problem(pool, what string, until time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.problems[pool] = poolProblem{what: what, until: until}
}

// solved forgets the problems of pool that last until its calls succeed.
func (f *Fleet) solved(pool string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.problems[pool]; ok && p.until.IsZero() {
		delete(f.problems, pool)
	}
}

// Problem says what keeps pool from launching or listing at now; "" when
// nothing does.
func (f *Fleet) Problem(pool string, now time.Time) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.problems[pool]
	if !ok || (!p.until.IsZero() && now.After(p.until)) {
		return ""
	}
	return p.what
}

// joinTimeouts terminates the instances of pools with a join timeout that
// have not joined as a node within it, and avoids their type for a while:
// a broken image or user data would otherwise bill a host that never
// works. The pool's status says so.
func (f *Fleet) joinTimeouts(ctx context.Context, lists map[string][]provider.Instance, now time.Time) []error {
	var errs []error
	for i := range f.pools {
		p := &f.pools[i]
		limit := time.Duration(p.Spec.JoinTimeout)
		if limit <= 0 || p.Provider == nil {
			continue
		}
		for _, in := range lists[p.Spec.Name] {
			if in.State == provider.InstanceTerminated || now.Sub(in.LaunchedAt) < limit {
				continue
			}
			f.mu.Lock()
			_, joined := f.nodeOf[in.ID]
			f.mu.Unlock()
			if joined {
				continue
			}
			what := fmt.Sprintf("instance %s (%s) launched at %s did not join within %s: terminated, and %s avoided for %s; check the launch template's user data and the instance's console output",
				in.ID, in.InstanceType, in.LaunchedAt.UTC().Format(time.RFC3339), limit, in.InstanceType, f.cfg.AvoidFor)
			if err := p.Provider.Terminate(ctx, in.ID); err != nil {
				errs = append(errs, fmt.Errorf("terminate %s, which did not join, in pool %s: %w", in.ID, p.Spec.Name, err))
				continue
			}
			f.mu.Lock()
			f.avoidType(p.Spec.Name, in.InstanceType, now)
			f.mu.Unlock()
			f.problem(p.Spec.Name, what, now.Add(f.cfg.AvoidFor))
			f.log.Warn("instance did not join in time", "pool", p.Spec.Name, "instance", in.ID, "type", in.InstanceType, "join_timeout", limit)
		}
	}
	return errs
}

// explain adds to the reasons of waiting jobs the problems of the pools
// that could grow for them: the pool a job is pinned to, else every pool
// with a provider and a type that fits it.
func (f *Fleet) explain(reasons map[string]string, queued []berth.Job, now time.Time) {
	var probs map[string]string
	for i := range f.pools {
		if p := &f.pools[i]; p.Provider != nil {
			if what := f.Problem(p.Spec.Name, now); what != "" {
				if probs == nil {
					probs = map[string]string{}
				}
				probs[p.Spec.Name] = what
			}
		}
	}
	if len(probs) == 0 {
		return
	}
	for i := range queued {
		j := &queued[i]
		why, ok := reasons[j.ID]
		if !ok {
			continue
		}
		for k := range f.pools {
			p := &f.pools[k]
			what, bad := probs[p.Spec.Name]
			if bad && (j.Pool == p.Spec.Name || j.Pool == "" && p.Spec.Fits(j.CPU, j.MemoryMB)) {
				why += "; pool " + p.Spec.Name + ": " + what
			}
		}
		reasons[j.ID] = why
	}
}
