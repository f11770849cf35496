package docker

import (
	"context"
	"fmt"
	"time"

	"github.com/berth-run/berth/internal/provider"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Inspect returns a container's status, or an error wrapping
// provider.ErrNotFound.
func (r *Runner) Inspect(ctx context.Context, id string) (provider.Status, error) {
	res, err := r.api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return provider.Status{}, wrap("inspect container "+shortID(id), err)
	}
	return toStatus(res.Container), nil
}

// List returns the status of every container carrying the berth.attempt
// label, and of every warm container whose claim ran its job's process,
// as its attempt's. The list endpoint lacks exit codes and OOM flags, so
// each one is inspected; a container removed meanwhile is left out.
func (r *Runner) List(ctx context.Context) ([]provider.Status, error) {
	res, err := r.api.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", provider.LabelAttempt),
	})
	if err != nil {
		return nil, wrap("list containers", err)
	}
	out := make([]provider.Status, 0, len(res.Items))
	for _, s := range res.Items {
		st, err := r.Inspect(ctx, s.ID)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list containers: %w", err)
		}
		out = append(out, st)
	}
	claimed, err := r.listClaimed(ctx)
	if err != nil {
		return nil, err
	}
	return append(out, claimed...), nil
}

// Wait blocks until the container exits. It registers for the container's
// next exit before looking at its state, so an exit in between is not
// missed, and a container not yet started is waited for too.
func (r *Runner) Wait(ctx context.Context, id string) (provider.Status, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := r.api.ContainerWait(wctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	st, err := r.Inspect(ctx, id)
	if err != nil {
		return provider.Status{}, fmt.Errorf("wait: %w", err)
	}
	if st.State == provider.Exited {
		return st, nil
	}
	select {
	case <-w.Result:
	case werr := <-w.Error:
		if ctx.Err() != nil {
			return provider.Status{}, fmt.Errorf("wait container %s: %w", shortID(id), ctx.Err())
		}
		// The engine may have gone away mid-wait: Inspect says so.
		if _, err := r.Inspect(ctx, id); err != nil {
			return provider.Status{}, fmt.Errorf("wait: %w", err)
		}
		return provider.Status{}, wrap("wait container "+shortID(id), werr)
	case <-ctx.Done():
		return provider.Status{}, fmt.Errorf("wait container %s: %w", shortID(id), ctx.Err())
	}
	st, err = r.Inspect(ctx, id)
	if err != nil {
		return provider.Status{}, fmt.Errorf("wait: %w", err)
	}
	return st, nil
}

// toStatus maps the engine's view of a container to berth's.
func toStatus(c container.InspectResponse) provider.Status {
	st := provider.Status{ID: c.ID}
	if c.Config != nil {
		st.JobID = c.Config.Labels[provider.LabelJob]
		st.AttemptID = c.Config.Labels[provider.LabelAttempt]
		st.Node = c.Config.Labels[provider.LabelNode]
	}
	if c.State == nil {
		return st
	}
	switch c.State.Status {
	case container.StateCreated:
		st.State = provider.Created
	case container.StateExited, container.StateDead, container.StateRemoving:
		st.State = provider.Exited
	default: // running, paused, restarting
		st.State = provider.Running
	}
	st.ExitCode = c.State.ExitCode
	// The engine notices an OOM kill only once it watches the container,
	// shortly after the start, and may miss one that races the container's
	// exit: such a kill shows as exit code 137 alone.
	st.OOMKilled = c.State.OOMKilled
	st.StartedAt = parseTime(c.State.StartedAt)
	st.FinishedAt = parseTime(c.State.FinishedAt)
	// The engine notes the start once the runtime reports it, by when a
	// quick process may have exited already.
	if st.State == provider.Exited && st.FinishedAt.Before(st.StartedAt) {
		st.StartedAt = st.FinishedAt
	}
	return st
}

// parseTime parses the engine's RFC 3339 times; the engine writes
// "0001-01-01T00:00:00Z" for never, which is Go's zero time.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.IsZero() {
		return time.Time{}
	}
	return t
}
