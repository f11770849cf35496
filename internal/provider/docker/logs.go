package docker

import (
	"context"
	"fmt"
	"io"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// Logs copies the container's stdout and stderr to w, in the order the
// engine logged them, from the start and until the container exits or ctx
// ends. The engine multiplexes the two streams in one; they are
// demultiplexed into w.
func (r *Runner) Logs(ctx context.Context, id string, w io.Writer) error {
	rc, err := r.api.ContainerLogs(ctx, id, client.ContainerLogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Follow:     true,
	})
	if err != nil {
		return wrap("logs of container "+shortID(id), err)
	}
	defer rc.Close()
	if _, err := stdcopy.StdCopy(w, w, rc); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("logs of container %s: %w", shortID(id), ctx.Err())
		}
		return wrap("logs of container "+shortID(id), err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("logs of container %s: %w", shortID(id), ctx.Err())
	}
	return nil
}
